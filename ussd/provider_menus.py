"""The USSD menus of the provider products beyond recharge (issue 14 §7; docs/USSD.md):

    8 bill payment   category > biller (both lists paged: ``ussd.paging``) > each customer
                     parameter (one screen each, checked in the biller's format) > the
                     customer's mobile > [fetch: name and amount due] > [amount, unless
                     the bill is paid exactly] > PIN -> pay
    9 money transfer sender's mobile > beneficiary (paged) > amount > (fee shown) PIN
                     -> transfer (only a sender the merchant registered: the service says)

Translation only: every fact comes from ``services.bills`` and ``services.transfers`` (the
services the JSON API calls). The final step is confirmed by the merchant's SMS PIN again
(checked and throttled as at the session's start; masked in the request key) and goes
through the channel's request key like every USSD sale: a resent final step never pays
twice, a timed-out session pays nothing, a pending payment answers with its order id and
its final result follows by SMS (``provider_push``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from ussd.paging import page_through
from vending.auth import Principal
from vending.errors import InvalidRequest, VendingError
from vending.money import Money
from vending.requests import RequestKey
from vending.services.bill_payments import BillFetchRequest, BillPaymentRequest
from vending.services.context import RequestContext
from vending.services.money_transfers import TransferRequest

# What a menu step answers: (screen, final) -- final: the screen is stored with the sale
# (or must not be kept at all), so the channel does not keep it again.
Step = tuple[str, bool]
CANCEL = "0"


class MenuCall(NamedTuple):
    """Who is in which session: the merchant, the gateway's session id, the caller's
    number (its PIN confirms) and the step's request key."""

    principal: Principal
    session_id: str
    msisdn: str
    key: RequestKey


CONFIRM_WITH_PIN = "Enter your PIN to confirm, 0 to cancel:"
# A sender's beneficiaries offered by the menu at most (paged, so more than one screen's).
BENEFICIARIES_LISTED = 50


def pin_confirmed_menus() -> tuple[str, ...]:
    """The main-menu choices whose final step is the merchant's PIN (masked in keys)."""
    return ("8", "9")


class ProviderMenus:
    """Menus 8 and 9 of :class:`ussd.menu.UssdChannel` (which gives the services, the
    screens' helpers, the sale context and the PIN check)."""

    def __init__(
        self,
        services: Any,
        *,
        con: Callable[[str], str],
        end: Callable[[str], str],
        confirm_pin: Callable[[str, str], Awaitable[str | None]],
        timed_out: Callable[[Principal, str], Awaitable[bool]],
        context: Callable[[Principal, RequestKey, str, str | None], RequestContext],
        renderer: Any,
    ) -> None:
        self._services = services
        self._con = con
        self._end = end
        self._confirm_pin = confirm_pin
        self._timed_out = timed_out
        self._context = context
        self._renderer = renderer

    def offered(self) -> list[str]:
        lines = []
        if getattr(self._services, "bills", None) is not None:
            lines.append("8 Pay bill")
        if getattr(self._services, "transfers", None) is not None:
            lines.append("9 Send money")
        return lines

    async def _final(
        self, principal: Principal, session_id: str, msisdn: str, pin: str, what: str
    ) -> str | None:
        """None when the confirming step may go on; else the END screen (cancelled, wrong
        PIN, timed out)."""
        if pin == CANCEL:
            return self._end(f"Cancelled. Nothing was {what}.")
        refused = await self._confirm_pin(msisdn, pin)
        if refused is not None:
            return self._end(refused)
        if await self._timed_out(principal, session_id):
            return self._end(f"Session timed out. Nothing was {what}.")
        return None

    # --- 8: bill payment --------------------------------------------------------------------

    async def bill(self, at: MenuCall, rest: list[str]) -> Step:
        principal, session_id, msisdn, key = at
        bills = self._services.bills
        billers = [b for b in await bills.billers() if b.active]
        categories = sorted({b.category for b in billers})
        if not categories:
            return self._end("No billers are available."), False
        # Both lists are paged ("98 More", "0 Back"): the inputs that page them are
        # consumed here, and what follows the choices is the biller's steps.
        at_category = page_through("Bill category:", categories, rest, 24)
        if at_category.chosen is None:
            return self._con(at_category.screen), False
        category = categories[at_category.chosen]
        listed = [b for b in billers if b.category == category]
        at_biller = page_through("Biller:", [b.name for b in listed], at_category.after, 26)
        if at_biller.chosen is None:
            return self._con(at_biller.screen), False
        biller = listed[at_biller.chosen]
        rest = at_biller.after
        count = len(biller.params)
        given = rest[:count]
        params: dict[str, str] = {}
        for index, value in enumerate(given):
            checked = bills.check_param(biller, index, "" if value == CANCEL else value)
            if checked is not None:
                params[biller.params[index].name] = checked
        if len(given) < count:
            param = biller.params[len(given)]
            skip = " (0 to skip)" if param.optional else ""
            return self._con(f"{biller.name[:40]}\n{param.name[:40]}{skip}:"), False
        after = rest[count:]
        if not after:
            return self._con("Customer's mobile number:"), False
        mobile = after[0]
        if len(after) == 1:
            return self._con(await self._bill_screen(principal, biller, params, mobile)), False
        bill = await self._bill_of(principal, biller, params)
        exact = bill is not None and biller.amount_rule == "EXACT"
        if exact:
            amount = bill.amount
        else:
            amount = Money.parse(after[1], principal.currency)
            bills.check_amount(biller, None if bill is None else bill.amount, amount)
            if len(after) == 2:
                first = next(iter(params.values()), "")
                return self._con(
                    f"Pay {amount} to {biller.name[:30]} for {first[:24]}?\n{CONFIRM_WITH_PIN}"
                ), False
        steps = 2 if exact else 3
        if len(after) != steps:
            return self._end("Invalid choice."), False
        ended = await self._final(principal, session_id, msisdn, after[-1], "paid")
        if ended is not None:
            return ended, True
        request = BillPaymentRequest(
            self._context(principal, key, session_id, None), biller.biller_id, amount, mobile,
            params, None if bill is None else bill.ref_id,
        )  # fmt: skip
        outcome = await bills.pay(request, self._renderer)
        return outcome.response.body.decode(), True

    async def _bill_screen(
        self, principal: Principal, biller: Any, params: dict[str, str], mobile: str
    ) -> str:
        """The screen after the customer's mobile: the fetched bill (where the biller
        takes fetches) and the amount to pay, or the confirmation of an exact bill."""
        self._services.bills.check_mobile(mobile)
        bill = None
        if biller.fetch_requirement != "NOT_SUPPORTED":
            fetch = BillFetchRequest(principal, biller.biller_id, params, mobile)
            if biller.fetch_requirement == "MANDATORY":
                bill = await self._services.bills.fetch(fetch)
            else:
                bill = await self._optional_fetch(fetch)
        if bill is None:
            return "Amount to pay:"
        due = f" by {bill.due_date}" if bill.due_date else ""
        head = f"{bill.customer_name[:30]}\nDue {bill.amount}{due}"
        if biller.amount_rule == "EXACT":
            return f"{head}\nPay {bill.amount}? {CONFIRM_WITH_PIN}"
        rule = {"PARTIAL": "up to the bill", "OVER": "the bill or more"}.get(
            biller.amount_rule, "any"
        )
        return f"{head}\nAmount to pay ({rule}):"

    async def _optional_fetch(self, fetch: BillFetchRequest) -> Any:
        """A biller whose fetch is OPTIONAL is paid without one when it has no bill."""
        try:
            return await self._services.bills.fetch(fetch)
        except VendingError:
            return None

    async def _bill_of(self, principal: Principal, biller: Any, params: dict[str, str]) -> Any:
        if biller.fetch_requirement == "NOT_SUPPORTED":
            return None
        found = await self._services.bills.open_fetch(principal, biller.biller_id, params)
        if found is None and biller.fetch_requirement == "MANDATORY":
            raise InvalidRequest("The fetched bill expired: start again")
        return found

    # --- 9: money transfer ------------------------------------------------------------------

    async def transfer(self, at: MenuCall, rest: list[str]) -> Step:
        principal, session_id, msisdn, key = at
        transfers = self._services.transfers
        if not rest:
            return self._con("Sender's mobile number:"), False
        sender = rest[0]
        found = await transfers.sender_beneficiaries(principal, sender, limit=BENEFICIARIES_LISTED)
        view, listed = found.view, found.beneficiaries
        if not listed:
            return self._end(f"{sender} has no beneficiaries: add one first."), False
        # Paged like the bills menu's lists: "98 More", "0 Back", replayed from the text.
        names = [f"{_payee(b)[:18]} ..{b.account_no[-4:]}" for b in listed]
        head = f"{view.sender.name[:24]}, {view.remaining} left.\nSend to:"
        at_payee = page_through(head, names, rest[1:], 26)
        if at_payee.chosen is None:
            return self._con(at_payee.screen), False
        payee = listed[at_payee.chosen]
        after = at_payee.after
        if not after:
            return self._con(f"Amount to send to {_payee(payee)[:30]}:"), False
        amount = Money.parse(after[0], principal.currency)
        if len(after) == 1:
            fee = transfers.fee(amount)
            return self._con(
                f"Send {amount} to {_payee(payee)[:24]} a/c ..{payee.account_no[-4:]}\n"
                f"Fee {fee}, total {amount + fee}\n{CONFIRM_WITH_PIN}"
            ), False
        if len(after) != 2:
            return self._end("Invalid choice."), False
        ended = await self._final(principal, session_id, msisdn, after[1], "sent")
        if ended is not None:
            return ended, True
        request = TransferRequest(
            self._context(principal, key, session_id, None), sender, payee.id, amount
        )
        outcome = await transfers.transfer(request, self._renderer)
        return outcome.response.body.decode(), True


def _payee(beneficiary: Any) -> str:
    return str(beneficiary.verified_name or beneficiary.name)


__all__ = ["MenuCall", "ProviderMenus", "pin_confirmed_menus"]
