"""One MO in, one reply out: the SMS channel's use of the application services.

For each MO (sender, text, the gateway's message id):

1. a retry of a message already answered (same sender, same gateway id) gets the stored
   reply again, before any PIN check (a PIN changed by that very message must not turn
   its retry into a "wrong PIN");
2. the command is parsed (``sms.grammar``); HELP and malformed text get a short reply;
3. the PIN is checked (hashed, throttled, locked: ``vending.services.sms``);
4. the sale, balance, reprint or PIN change runs through the services under the request
   key (channel "sms", the merchant's client id, "sms:<gateway id>"): the reply is stored
   with the change, so a retry replays it and nothing is sold twice;
5. the reply is queued in the MT outbox under "mo:<gateway id>" (queued once), and
   returned (the HTTP body; Kannel's service has ``max-messages = 0`` and ignores it).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from sms.bill_command import run_bill
from sms.grammar import HELP_TEXT, Command, CommandError, parse
from sms.renderer import SmsRenderer, error_text, fund_request_text, request_body, text
from utilities.interface import MeterQuery, Purchase
from vending.auth import Principal
from vending.errors import VendingError
from vending.money import Money
from vending.requests import RequestKey, StoredResponse
from vending.services.context import RequestContext
from vending.services.electricity_sales import ElectricitySaleRequest
from vending.services.sms import SmsMerchants, SmsOutbox
from vending.services.voucher_sales import VoucherSaleRequest

log = logging.getLogger("evd.sms")

CHANNEL = "sms"


@dataclass(frozen=True)
class Mo:
    sender: str  # E.164 digits
    receiver: str
    text: str
    message_id: str


def _status(states: list[Any]) -> str:
    if not states:
        return ""
    last = states[-1]
    return f" SMS to {last.msisdn}: {last.state}."


class SmsChannel:
    def __init__(
        self,
        services: Any,
        merchants: SmsMerchants,
        outbox: SmsOutbox,
        *,
        currency: str,
        country_code: str = "27",
        channel: str = CHANNEL,
        on_queued: Any = None,
    ) -> None:
        self._services = services
        self._merchants = merchants
        self._outbox = outbox
        self._currency = currency
        self._country_code = country_code
        self._channel = channel
        self._renderer = SmsRenderer()
        self._on_queued = on_queued or (lambda: None)

    @property
    def renderer(self) -> SmsRenderer:
        return self._renderer

    async def handle(self, mo: Mo) -> str:
        """The reply text (queued as an MT to the sender)."""
        reply, principal, request_pk = await self._answer(mo)
        queued = await self._outbox.queue(
            source=f"mo:{mo.message_id}",
            purpose="reply",
            msisdn=mo.sender,
            text=reply,
            vendor_id=None if principal is None else principal.vendor_id,
            request_pk=request_pk,
        )
        if queued:
            self._on_queued()
        return reply

    def _key(self, principal: Principal, mo: Mo, command: Command) -> RequestKey:
        fingerprint = hashlib.sha256(f"{mo.sender}\0{command.canonical()}".encode()).digest()
        return RequestKey(
            channel=self._channel,
            client_id=principal.client_id,
            request_id=f"{self._channel}:{mo.message_id}",
            operation=command.kind,
            fingerprint=fingerprint,
        )

    async def _answer(self, mo: Mo) -> tuple[str, Principal | None, int | None]:
        try:
            command = parse(mo.text, country_code=self._country_code)
        except CommandError as exc:
            return f"{exc}. {HELP_TEXT}"[:300], None, None
        if command.kind == "help":
            return HELP_TEXT, None, None
        known, stored = await self._merchants.known_and_answered(
            mo.sender, f"{self._channel}:{mo.message_id}"
        )
        if stored is not None:
            return stored.body.decode("utf-8"), known, None
        assert command.pin is not None
        checked = await self._merchants.check_pin(mo.sender, command.pin)
        if checked.outcome == "unknown":
            return "This number is not registered to sell. Call support.", None, None
        if checked.outcome == "locked":
            return "Too many wrong PINs: selling is locked for now. Call support.", known, None
        if checked.outcome == "wrong":
            left = checked.tries_left
            return f"Wrong PIN. {left} tries left before selling is locked.", known, None
        principal = checked.principal
        assert principal is not None
        try:
            response = await self._run(principal, mo, command)
        except VendingError as exc:
            return error_text(exc), principal, None
        except Exception:
            log.exception("sms command %s failed", command.kind)
            return error_text(RuntimeError()), principal, None
        return response.body.decode("utf-8"), principal, None

    def context(self, principal: Principal, mo: Mo, command: Command) -> RequestContext:
        return RequestContext(
            key=self._key(principal, mo, command),
            principal=principal,
            terminal_id=self._channel,
            request=command,
            request_body=request_body(command),
            received_at=self._services.clock(),
            details={"channel": self._channel},
        )

    async def _run(self, principal: Principal, mo: Mo, command: Command) -> StoredResponse:
        services = self._services
        ctx = self.context(principal, mo, command)
        if command.kind == "buy":
            amount = None if command.amount is None else Money.parse(command.amount, self._currency)
            outcome = await services.vouchers.sell(
                VoucherSaleRequest(ctx, command.product or "", amount, command.recipient),
                self._renderer,
            )
            return outcome.response
        if command.kind == "electricity":
            purchase = Purchase(
                meter=MeterQuery(msno=command.meter or ""),
                amount=Money.parse(command.amount or "0", self._currency),
                product_code=services.settings.electricity_product,
            )
            outcome = await services.electricity.sell(
                ElectricitySaleRequest(ctx, purchase, recipient=command.recipient),
                self._renderer,
            )
            return outcome.response
        if command.kind == "recharge":
            from vending.services.recharge_sales import RechargeRequest

            if services.recharge is None:
                raise CommandError("recharge is not offered here")
            amount = Money.parse(command.amount or "0", principal.currency)
            outcome = await services.recharge.sell(
                RechargeRequest(ctx, command.target or "", amount), self._renderer
            )
            return outcome.response
        if command.kind == "bill":
            return await run_bill(services, self._renderer, ctx, mo.sender, command)
        if command.kind == "balance":
            balance = await services.accounts.balance(principal)
            states = await self._outbox.recipient_states(principal, limit=1)
            answer = text(f"Bal {balance.balance} Avail {balance.available}.{_status(states)}")
            return (await services.answers.keep(ctx.key, principal, answer)).response
        if command.kind == "last":
            found = await self._merchants.last_sales(principal, self._channel, limit=1)
            if not found:
                answer = text("No sale by SMS yet.", 404)
            else:
                last = found[0]
                answer = text(
                    "Last: " + last.answer.decode("utf-8") + _status(last.recipient_states)
                )
            return (await services.answers.keep(ctx.key, principal, answer)).response
        if command.kind == "fund":
            network = getattr(services, "distribution", None)
            if network is None:
                return text("Fund requests are not available by SMS.", 422)
            amount = Money.parse(command.amount or "0", self._currency)
            processed = await network.ask_funds_once(
                ctx.key,
                principal,
                amount,
                command.reference or "",
                lambda asked: text(fund_request_text(asked)),
            )
            return processed.response
        if command.kind == "pin":
            processed = await self._merchants.change_pin(
                ctx.key,
                principal,
                mo.sender,
                command.new_pin or "",
                lambda: text("Your SMS PIN is changed. Use the new PIN from now on."),
            )
            return processed.response
        raise CommandError(f"unknown command {command.kind}")  # pragma: no cover


__all__ = ["CHANNEL", "Mo", "SmsChannel"]
