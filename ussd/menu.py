"""The USSD menus (docs/USSD.md), on the common gateway convention: every callback carries
the session id, the caller's number and ``text``, all inputs so far joined with ``*``; the
answer is ``CON <screen>`` (more to come) or ``END <screen>`` (session over), each screen at
most 182 characters.

    (start)        Enter your SMS PIN
    PIN            1 Airtime/data  2 Electricity  3 Balance  4 Last sales  5 Change PIN
    1 > network > product > phone (0: none) > 1 confirm      -> the PIN (and an SMS)
    2 > meter > amount > 1 confirm (customer from confirm-meter) -> the token
    3 balance; 4 the last three sales; 5 > new PIN > again
    6 > amount > reference > 1 confirm   -> a fund request to the parent node (issue 13 §3)
    7 > number > amount > 1 confirm  -> PIN-less recharge (shown when providers are wired;
                                        a pending one's result follows by SMS)
    8 > category > biller > each parameter > mobile > [amount] > PIN  -> a bill payment
    9 > sender > beneficiary > amount > PIN                          -> a money transfer
                                        (ussd/provider_menus.py; shown when wired)

Idempotent on (session id, text): every screen is kept under the request key (channel
"ussd", the merchant's client id, "ussd:<session>:<hash of the text, PINs masked>"), so a
resent step gets the same screen, and the final step's sale is stored with its key: a
resent confirmation never sells twice. A confirmation arriving more than
``session_seconds`` after the session's first screen sells nothing.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from sms.renderer import SmsRenderer, error_text, fund_request_text
from ussd.paging import MAX_SCREEN, page_through
from ussd.provider_menus import MenuCall, ProviderMenus, pin_confirmed_menus
from utilities.interface import MeterQuery, Purchase
from vending.auth import Principal
from vending.errors import InvalidRequest, VendingError
from vending.money import Money
from vending.requests import RequestKey, StoredResponse
from vending.services.channel_products import ChannelProducts
from vending.services.context import RequestContext
from vending.services.electricity_sales import ElectricitySaleRequest
from vending.services.sms import SmsMerchants, SmsOutbox
from vending.services.voucher_sales import VoucherSaleRequest
from vending.sms_merchants import PIN_PATTERN, normalize_msisdn

log = logging.getLogger("evd.ussd")

CHANNEL = "ussd"
MAIN_MENU = "1 Airtime/data\n2 Electricity\n3 Balance\n4 Last sales\n5 Change PIN\n6 Ask for funds"


def con(screen: str) -> str:
    return ("CON " + screen)[:MAX_SCREEN]


def end(screen: str) -> str:
    return ("END " + screen)[:MAX_SCREEN]


def masked(inputs: list[str]) -> list[str]:
    """The inputs with every PIN replaced (the login PIN; a new PIN and its repeat; the PIN
    confirming a bill payment or a transfer)."""
    shown = list(inputs)
    if shown:
        shown[0] = "#"
    if len(shown) > 2 and shown[1] == "5":
        shown[2:] = ["#"] * len(shown[2:])
    if len(shown) > 2 and shown[1] in pin_confirmed_menus():
        shown[2:] = ["#" if given == inputs[0] else given for given in shown[2:]]
    return shown


@dataclass(frozen=True)
class UssdRequest:
    """The channel's own request as the renderer gets it back (no PIN)."""

    session_id: str
    recipient: str | None = None


class UssdRenderer(SmsRenderer):
    """The SMS texts, as final USSD screens."""

    channel = CHANNEL

    def voucher_sale(self, request: Any, sold: Any) -> StoredResponse:
        answer = super().voucher_sale(request, sold)
        return StoredResponse(end(answer.body.decode()).encode(), answer.http_status)

    def vend(self, request: Any, result: Any, sale: Any, balance: Any) -> Any:
        answer = super().vend(request, result, sale, balance)
        return StoredResponse(end(answer.body.decode()).encode(), answer.http_status)

    def failure(self, request: Any, error: Exception) -> StoredResponse:
        answer = super().failure(request, error)
        return StoredResponse(end(answer.body.decode()).encode(), answer.http_status)

    def provider_sale(self, request: Any, sold: Any) -> StoredResponse:
        answer = super().provider_sale(request, sold)
        return StoredResponse(end(answer.body.decode()).encode(), answer.http_status)

    def load(self, request_body: bytes) -> Any:
        session, _, recipient = request_body.decode().partition("|")
        return UssdRequest(session, recipient or None)


def _keep(screen: str) -> StoredResponse:
    return StoredResponse(screen.encode("utf-8"), 200)


class UssdChannel:
    def __init__(
        self,
        services: Any,
        merchants: SmsMerchants,
        outbox: SmsOutbox,
        products: ChannelProducts,
        *,
        currency: str,
        country_code: str,
        session_seconds: float,
        welcome: str = "EVD",
    ) -> None:
        self._services = services
        self._merchants = merchants
        self._outbox = outbox
        self._products = products
        self._currency = currency
        self._country_code = country_code
        self._session_seconds = session_seconds
        self._welcome = welcome
        self.renderer = UssdRenderer()
        self._provider_menus = ProviderMenus(
            services, con=con, end=end, confirm_pin=self._confirm_pin,
            timed_out=self._timed_out, context=self._context, renderer=self.renderer,
        )  # fmt: skip

    def _key(self, principal: Principal, session_id: str, inputs: list[str]) -> RequestKey:
        shown = "*".join(masked(inputs))
        digest = hashlib.sha256(shown.encode()).hexdigest()[:24]
        return RequestKey(
            channel=CHANNEL,
            client_id=principal.client_id,
            request_id=f"ussd:{session_id}:{digest}",
            operation="menu",
            fingerprint=hashlib.sha256(f"{session_id}\0{shown}".encode()).digest(),
        )

    async def handle(self, session_id: str, phone: str, text: str) -> str:
        try:
            msisdn = normalize_msisdn(phone)
        except InvalidRequest:
            return end("Unknown number.")
        principal = await self._merchants.principal(msisdn)
        if principal is None:
            return end("This number is not registered to sell. Call support.")
        inputs = text.split("*") if text else []
        key = self._key(principal, session_id, inputs)
        stored = await self._merchants.stored_answer(principal, key.request_id)
        if stored is not None:
            return stored.body.decode("utf-8")
        if not inputs:
            screen = con(f"{self._welcome}: enter your SMS PIN")
            return await self._keep(key, principal, screen)
        if not PIN_PATTERN.match(inputs[0]):
            return end("A PIN is 4 to 6 digits.")
        checked = await self._merchants.check_pin(msisdn, inputs[0])
        if checked.outcome == "locked":
            return end("Too many wrong PINs: selling is locked for now.")
        if checked.principal is None:
            return end(f"Wrong PIN. {checked.tries_left} tries left.")
        principal = checked.principal
        try:
            screen, final_sale = await self._screen(principal, session_id, msisdn, inputs, key)
        except VendingError as exc:
            return end(error_text(exc))
        if final_sale:
            return screen  # stored with the sale under the key
        return await self._keep(key, principal, screen)

    async def _keep(self, key: RequestKey, principal: Principal, screen: str) -> str:
        kept = await self._services.answers.keep(key, principal, _keep(screen))
        return kept.response.body.decode("utf-8")

    async def _confirm_pin(self, msisdn: str, pin: str) -> str | None:
        """None: the merchant's PIN (throttled like the session's); else why not."""
        if not PIN_PATTERN.match(pin):
            return "A PIN is 4 to 6 digits. Nothing was paid."
        checked = await self._merchants.check_pin(msisdn, pin)
        if checked.outcome == "locked":
            return "Too many wrong PINs: selling is locked for now."
        if checked.principal is None:
            return f"Wrong PIN. {checked.tries_left} tries left. Nothing was paid."
        return None

    async def _timed_out(self, principal: Principal, session_id: str) -> bool:
        start = self._key(principal, session_id, [])
        record = await self._merchants.stored_request(principal, start.request_id)
        if record is None:
            return True
        age = (self._services.clock() - record.received_at).total_seconds()
        return age > self._session_seconds

    def _context(
        self, principal: Principal, key: RequestKey, session_id: str, recipient: str | None
    ) -> RequestContext:
        return RequestContext(
            key=RequestKey(key.channel, key.client_id, key.request_id, "sale", key.fingerprint),
            principal=principal,
            terminal_id=CHANNEL,
            request=UssdRequest(session_id, recipient),
            request_body=f"{session_id}|{recipient or ''}".encode(),
            received_at=self._services.clock(),
            details={"channel": CHANNEL},
        )

    async def _screen(
        self,
        principal: Principal,
        session_id: str,
        msisdn: str,
        inputs: list[str],
        key: RequestKey,
    ) -> tuple[str, bool]:
        choice, rest = (inputs[1], inputs[2:]) if len(inputs) > 1 else ("", [])
        offered = self._provider_menus.offered()
        at = MenuCall(principal, session_id, msisdn, key)
        if not choice:
            recharge = ["7 Recharge"] if self._services.recharge is not None else []
            return con("\n".join([MAIN_MENU, *recharge, *offered])), False
        if choice == "7" and self._services.recharge is not None:
            return await self._recharge(principal, session_id, rest, key)
        if choice == "8" and "8 Pay bill" in offered:
            return await self._provider_menus.bill(at, rest)
        if choice == "9" and "9 Send money" in offered:
            return await self._provider_menus.transfer(at, rest)
        if choice == "1":
            return await self._airtime(principal, session_id, rest, key)
        if choice == "2":
            return await self._electricity(principal, session_id, rest, key)
        if choice == "3" and not rest:
            balance = await self._services.accounts.balance(principal)
            return end(f"Balance {balance.balance}\nAvailable {balance.available}"), False
        if choice == "4" and not rest:
            found = await self._merchants.last_sales(principal, CHANNEL, limit=3)
            if not found:
                return end("No sales by USSD yet."), False
            lines = [item.answer.decode()[4:60] for item in found]
            return end("\n".join(lines)), False
        if choice == "5":
            if not rest:
                return con("New PIN (4-6 digits):"), False
            if len(rest) == 1:
                return con("Repeat the new PIN:"), False
            if len(rest) == 2 and rest[0] == rest[1] and PIN_PATTERN.match(rest[0]):
                processed = await self._merchants.change_pin(
                    key,
                    principal,
                    msisdn,
                    rest[0],
                    lambda: _keep(end("Your PIN is changed.")),
                )
                return processed.response.body.decode(), True
            return end("The two PINs differ or are not 4-6 digits. PIN unchanged."), False
        if choice == "6":
            return await self._fund(principal, session_id, rest, key)
        return end("Invalid choice."), False

    async def _fund(
        self, principal: Principal, session_id: str, rest: list[str], key: RequestKey
    ) -> tuple[str, bool]:
        """6 > amount > reference > 1 confirm: the merchant's node asks its parent."""
        if not rest:
            return con("Amount to ask your dealer for:"), False
        amount = Money.parse(rest[0], self._currency)
        if len(rest) == 1:
            return con("Your reference (letters and digits):"), False
        reference = rest[1].strip().upper()
        if len(rest) == 2:
            return con(f"Ask for {amount} ref {reference[:32]}?\n1 Confirm\n2 Cancel"), False
        if len(rest) == 3 and rest[2] == "1":
            if await self._timed_out(principal, session_id):
                return end("Session timed out. Nothing was asked."), False
            network = getattr(self._services, "distribution", None)
            if network is None:
                return end("Fund requests are not available."), False
            processed = await network.ask_funds_once(
                RequestKey(key.channel, key.client_id, key.request_id, "fund", key.fingerprint),
                principal,
                amount,
                reference,
                lambda asked: _keep(end(fund_request_text(asked))),
            )
            return processed.response.body.decode(), True
        if len(rest) == 3:
            return end("Cancelled. Nothing was asked."), False
        return end("Invalid choice."), False

    async def _airtime(
        self, principal: Principal, session_id: str, rest: list[str], key: RequestKey
    ) -> tuple[str, bool]:
        catalogue = await self._products.vouchers_by_network()
        networks = list(catalogue)
        # Both lists are paged ("98 More", "0 Back", ussd.paging): the inputs that page them
        # are consumed here; what follows the product is the recipient and the confirmation.
        at_network = page_through("Network:", networks, rest, 30)
        if at_network.chosen is None:
            return con(at_network.screen), False
        network = networks[at_network.chosen]
        products = [p for p in catalogue[network] if p.face_value is not None]
        if not products:
            return end(f"No products of {network[:30]} for sale."), False
        names = [f"{p.code} {p.face_value.format()}" for p in products]  # type: ignore[union-attr]
        at_product = page_through(f"{network[:30]}:", names, at_network.after, 40)
        if at_product.chosen is None:
            return con(at_product.screen), False
        product = products[at_product.chosen]
        rest = at_product.after
        if not rest:
            return con("Send the PIN by SMS to (number), 0 for none:"), False
        recipient = None if rest[0] in ("", "0") else self._phone(rest[0])
        price = product.face_value.format()  # type: ignore[union-attr]
        if len(rest) == 1:
            to = f" to {recipient}" if recipient else ""
            return con(f"Buy {product.code} {price}{to}?\n1 Confirm\n2 Cancel"), False
        if len(rest) == 2 and rest[1] == "1":
            if await self._timed_out(principal, session_id):
                return end("Session timed out. Nothing was sold."), False
            outcome = await self._services.vouchers.sell(
                VoucherSaleRequest(
                    self._context(principal, key, session_id, recipient),
                    product.code,
                    None,
                    recipient,
                ),
                self.renderer,
            )
            return outcome.response.body.decode(), True
        if len(rest) == 2:
            return end("Cancelled. Nothing was sold."), False
        return end("Invalid choice."), False

    async def _electricity(
        self, principal: Principal, session_id: str, rest: list[str], key: RequestKey
    ) -> tuple[str, bool]:
        if not rest:
            return con("Meter number:"), False
        meter = rest[0]
        if len(rest) == 1:
            return con("Amount:"), False
        amount = Money.parse(rest[1], self._currency)
        if len(rest) == 2:
            return con("Send the token by SMS to (number), 0 for none:"), False
        recipient = None if rest[2] in ("", "0") else self._phone(rest[2])
        if len(rest) == 3:
            info = await self._services.meters.confirm_meter(MeterQuery(msno=meter))
            name = info.customer.name if info.customer is not None else "customer"
            to = f" to {recipient}" if recipient else ""
            return (
                con(f"{name[:40]}, meter {meter}: buy {amount}{to}?\n1 Confirm\n2 Cancel"),
                False,
            )
        if len(rest) == 4 and rest[3] == "1":
            if await self._timed_out(principal, session_id):
                return end("Session timed out. Nothing was sold."), False
            purchase = Purchase(
                meter=MeterQuery(msno=meter),
                amount=amount,
                product_code=self._services.settings.electricity_product,
            )
            outcome = await self._services.electricity.sell(
                ElectricitySaleRequest(
                    self._context(principal, key, session_id, recipient),
                    purchase,
                    recipient=recipient,
                ),
                self.renderer,
            )
            return outcome.response.body.decode(), True
        if len(rest) == 4:
            return end("Cancelled. Nothing was sold."), False
        return end("Invalid choice."), False

    async def _recharge(
        self, principal: Principal, session_id: str, rest: list[str], key: RequestKey
    ) -> tuple[str, bool]:
        from vending.services.recharge_sales import RechargeRequest

        if not rest:
            return con("Mobile number or DTH id:"), False
        if len(rest) == 1:
            return con("Amount:"), False
        amount = Money.parse(rest[1], principal.currency)
        if len(rest) == 2:
            return con(f"Recharge {rest[0]} with {amount}?\n1 Confirm\n2 Cancel"), False
        if len(rest) == 3 and rest[2] == "1":
            if await self._timed_out(principal, session_id):
                return end("Session timed out. Nothing was sold."), False
            ctx = self._context(principal, key, session_id, None)
            outcome = await self._services.recharge.sell(
                RechargeRequest(ctx, rest[0], amount), self.renderer
            )
            return outcome.response.body.decode(), True
        if len(rest) == 3:
            return end("Cancelled. Nothing was sold."), False
        return end("Invalid choice."), False

    def _phone(self, text: str) -> str:
        digits = text.lstrip("+")
        if not text.startswith("+") and digits.startswith("0"):
            digits = self._country_code + digits[1:]
        return normalize_msisdn(digits)


__all__ = ["CHANNEL", "MAX_SCREEN", "UssdChannel", "UssdRenderer", "con", "end", "masked"]
