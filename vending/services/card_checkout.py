"""Public card checkout: a consumer without an account buys airtime or electricity and pays
by card through the acquirer's switch (``CardSwitch``, the card adapter's ISO 8583 client).

1. the card is checked (Luhn, expiry, CVV format) -- the CVV is never stored or sent on;
2. the payment is recorded ``sent`` (masked PAN + keyed hash) under the consumer's own
   reference (a retry with the same reference gets the same answer);
3. 0200 -> 0210: declined -> answered, nothing sold; no answer (timeout, connection lost)
   -> reversed (0420, then 0421 until a 0430), nothing sold;
4. approved -> the checkout vendor is funded (one transfer) and the sale runs through the
   same services as every channel (request key: channel "card", the vendor, the
   reference); the PIN or token is answered (and sent by SMS to ``phone``);
5. a sale failing after approval takes the funding back and reverses the payment.

Nothing here imports Twisted: waiting between reversal repeats is the injected ``sleep``,
background work the injected ``background``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from utilities.interface import MeterQuery, Purchase
from vending import card_payments
from vending.card_payments import CardPayment, check_card
from vending.errors import VendingError
from vending.keyring import Keyring
from vending.money import Money
from vending.requests import RequestKey
from vending.services.context import Clock, RequestContext, TxnRunner
from vending.services.electricity_sales import ElectricitySaleRequest
from vending.services.voucher_sales import VoucherQuoteRequest, VoucherSaleRequest

log = logging.getLogger("evd.cards")


class SwitchUnavailable(Exception):
    """The request was not sent (no connection): nothing to reverse."""


class SwitchNoAnswer(Exception):
    """The request went out and no answer came in time: the outcome is unknown."""


@dataclass(frozen=True)
class Trace:
    stan: str
    rrn: str
    transmitted_at: str  # DE 7


@dataclass(frozen=True)
class SwitchAnswer:
    response_code: str
    auth_code: str | None


class CardSwitch(Protocol):
    def new_trace(self, now: datetime) -> Trace: ...

    async def authorize(
        self, payment: CardPayment, pan: str, expiry: str, now: datetime
    ) -> SwitchAnswer: ...

    async def reverse(self, payment: CardPayment, *, repeat: bool, now: datetime) -> bool:
        """True when the switch acknowledged (0430)."""
        ...


@dataclass(frozen=True)
class CheckoutRequest:
    reference: str
    product_code: str
    # A phone number (airtime: the PIN goes there too) or a meter number (electricity).
    target: str
    amount: Money
    pan: str = field(repr=False)
    expiry: str = field(repr=False)  # YYMM
    cvv: str = field(repr=False)
    phone: str | None = None


@dataclass(frozen=True)
class CheckoutOutcome:
    """What the adapter renders (and what is stored for the reference, rendered)."""

    reference: str
    status: str  # "sold", "declined", "not_completed", "in_progress"
    rrn: str | None = None
    auth_code: str | None = None
    response_code: str | None = None
    # The sale's own answer (the card channel's renderer bytes) when sold or refused.
    sale_answer: bytes | None = None
    message: str = ""


Render = Callable[[CheckoutOutcome], bytes]


class CardCheckout:
    def __init__(
        self,
        runner: TxnRunner,
        keyring: Keyring,
        clock: Clock,
        services: Any,
        switch: CardSwitch,
        *,
        renderer: Any,
        render: Render,
        sleep: Callable[[float], Awaitable[None]],
        background: Callable[[Awaitable[Any]], None],
        vendor_client_id: str,
        operator_name: str,
        reversal_retry_seconds: float = 10.0,
        channel: str = "card",
    ) -> None:
        self._runner = runner
        self._keyring = keyring
        self._clock = clock
        self._services = services
        self._switch = switch
        self._renderer = renderer
        self._render = render
        self._sleep = sleep
        self._background = background
        self._vendor = vendor_client_id
        self._operator = operator_name
        self._retry = reversal_retry_seconds
        self._channel = channel

    async def checkout(self, request: CheckoutRequest) -> tuple[bytes, bool]:
        """The rendered answer and whether it is a replay."""
        now = self._clock()
        check_card(request.pan, request.expiry, request.cvv, today=now)
        if not request.amount.is_positive():
            raise card_payments.CardDataInvalid("the amount must be positive")
        stored = await self._runner.run(
            "card_answer", card_payments.stored_answer, self._keyring, request.reference
        )
        if stored is not None:
            return stored, True
        principal = await self._runner.run(
            "card_principal", card_payments.principal_for_operator, self._vendor, self._operator
        )
        await self._check_price(principal, request)
        fingerprint = hashlib.sha256(
            "\0".join(
                [request.product_code, request.target, str(request.amount), request.phone or ""]
            ).encode()
        ).digest()
        trace = self._switch.new_trace(now)
        payment: CardPayment | None = await self._runner.run(
            "card_start",
            card_payments.start,
            self._keyring,
            reference=request.reference,
            fingerprint=fingerprint,
            product_code=request.product_code,
            target=request.target,
            amount=request.amount,
            pan=request.pan,
            stan=trace.stan,
            rrn=trace.rrn,
            transmitted_at=trace.transmitted_at,
            now=now,
        )
        if payment is None:  # the same reference is being paid right now
            return self._render(CheckoutOutcome(request.reference, "in_progress")), True
        try:
            answer = await self._switch.authorize(payment, request.pan, request.expiry, now)
        except SwitchUnavailable:
            await self._runner.run(
                "card_declined", card_payments.declined, payment.id, "91", now=now
            )
            return await self._finish(payment, "declined", "91", "the card switch is unavailable")
        except SwitchNoAnswer:
            self.reverse_later(payment, "timeout")
            return await self._finish(
                payment, "not_completed", None, "no answer from the card switch: not charged"
            )
        if answer.response_code != "00":
            await self._runner.run(
                "card_declined", card_payments.declined, payment.id, answer.response_code, now=now
            )
            return await self._finish(payment, "declined", answer.response_code, "declined")
        funded = await self._runner.run(
            "card_fund",
            card_payments.approve_and_fund,
            payment,
            response_code=answer.response_code,
            auth_code=answer.auth_code,
            vendor_account_id=principal.account_id,
            now=self._clock(),
        )
        if not funded:
            return await self._finish(payment, "not_completed", None, "payment reversed")
        try:
            outcome = await self._sell(principal, request, fingerprint)
            sale_answer, ok = outcome.response.body, outcome.response.http_status == 200
        except VendingError as exc:
            sale_answer, ok = self._renderer.failure(None, exc).body, False
        if not ok:
            self.reverse_later(payment, "sale_failed")
            return await self._finish(
                payment, "not_completed", "00", "the sale failed: the payment is reversed",
                sale_answer,
            )  # fmt: skip
        result = CheckoutOutcome(
            request.reference, "sold", payment.rrn, answer.auth_code, "00", sale_answer
        )
        body = self._render(result)
        await self._runner.run(
            "card_sold",
            card_payments.store_answer,
            self._keyring,
            payment,
            body,
            state="sold",
            now=self._clock(),
        )
        return body, False

    async def _finish(
        self,
        payment: CardPayment,
        status: str,
        code: str | None,
        message: str,
        sale_answer: bytes | None = None,
    ) -> tuple[bytes, bool]:
        outcome = CheckoutOutcome(
            payment.reference, status, payment.rrn, None, code, sale_answer, message
        )
        body = self._render(outcome)
        # The state is the decline's or the reversal's own (set by them, not here).
        await self._runner.run(
            "card_answer_store",
            card_payments.store_answer,
            self._keyring,
            payment,
            body,
            now=self._clock(),
        )
        return body, False

    async def _check_price(self, principal: Any, request: CheckoutRequest) -> None:
        """A fixed-price voucher is charged its price, nothing else."""
        if request.product_code == self._services.settings.electricity_product:
            return
        quote = await self._services.vouchers.quote(
            VoucherQuoteRequest(principal, request.product_code, None)
        )
        price = quote.pricing.price
        if price != request.amount:
            raise card_payments.CardDataInvalid(f"{request.product_code} costs {price}")

    async def _sell(self, principal: Any, request: CheckoutRequest, fingerprint: bytes) -> Any:
        services = self._services
        ctx = RequestContext(
            key=RequestKey(
                self._channel,
                principal.client_id,
                f"card:{request.reference}",
                "sale",
                fingerprint,
            ),
            principal=principal,
            terminal_id=self._channel,
            request=request.reference,
            request_body=request.reference.encode(),
            received_at=self._clock(),
            details={"channel": self._channel},
        )
        if request.product_code == services.settings.electricity_product:
            purchase = Purchase(
                meter=MeterQuery(msno=request.target),
                amount=request.amount,
                product_code=request.product_code,
            )
            return await services.electricity.sell(
                ElectricitySaleRequest(ctx, purchase, recipient=request.phone), self._renderer
            )
        return await services.vouchers.sell(
            VoucherSaleRequest(
                ctx, request.product_code, None, request.phone or request.target or None
            ),
            self._renderer,
        )

    # --- reversals ---------------------------------------------------------------------------

    def reverse_later(self, payment: CardPayment, reason: str) -> None:
        self._background(self.reverse(payment, reason))

    async def reverse(self, payment: CardPayment, reason: str) -> None:
        """Take the funding back (if any) and reverse until the switch acknowledges."""
        payment = await self._runner.run(
            "card_reversing", card_payments.start_reversal, payment.id, reason, now=self._clock()
        )
        if payment.state == "reversed":
            return
        repeat = payment.reversal_attempts > 0
        while True:
            await self._runner.run(
                "card_reversal_attempt",
                card_payments.count_reversal_attempt,
                payment.id,
                now=self._clock(),
            )
            try:
                if await self._switch.reverse(payment, repeat=repeat, now=self._clock()):
                    await self._runner.run(
                        "card_reversed", card_payments.reversed_, payment.id, now=self._clock()
                    )
                    log.info("card payment %s reversed (%s)", payment.rrn, reason)
                    return
            except (SwitchNoAnswer, SwitchUnavailable) as exc:
                log.warning("reversal of %s: %s; repeating", payment.rrn, exc.__class__.__name__)
            repeat = True
            await self._sleep(self._retry)

    async def late_answer(self, stan: str, transmitted_at: str, response_code: str) -> None:
        """A 0210 nobody waits for (late or duplicated): an approval for a payment we gave
        up on is reversed; anything else is dropped."""
        payment = await self._runner.run(
            "card_by_stan", card_payments.find_by_stan, stan, transmitted_at
        )
        if payment is not None and payment.state == "sent" and response_code == "00":
            self.reverse_later(payment, "late_response")

    async def resume(self) -> int:
        """At start: finish reversals an earlier process left running."""
        pending = await self._runner.run(
            "card_pending", card_payments.in_states, "reversing", "sent"
        )
        for payment in pending:
            self.reverse_later(payment, payment.reversal_reason or "restart")
        return len(pending)

    async def settlement(self, mmdd: str) -> dict[str, card_payments.SettlementLine]:
        payments = await self._runner.run("card_day", card_payments.for_day, mmdd)
        return card_payments.our_settlement(payments)


__all__ = [
    "CardCheckout",
    "CardSwitch",
    "CheckoutOutcome",
    "CheckoutRequest",
    "SwitchAnswer",
    "SwitchNoAnswer",
    "SwitchUnavailable",
    "Trace",
]
