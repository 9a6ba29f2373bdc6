"""Selling electricity (any channel), delegating to the utility side through the
:class:`utilities.interface.UtilityService` contract, injected at wiring.

The utility side routes the meter: our embedded STS engine (one transaction through the
idempotency path: claim, re-check, price, token, sale, answer) or a utility's own server
(hold the vendor's money, call, settle or refund; the answer is stored when final).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from utilities.interface import CreditVendResult, Purchase, UtilityService
from vending import sms_outbox
from vending.auth import Principal
from vending.sales import Sale
from vending.services.context import RequestContext
from vending.services.rendering import ChannelRenderer
from vending.services.results import Outcome
from vending.sms_text import split
from vending.sms_texts import electricity_token_text


@dataclass(frozen=True)
class ElectricitySaleRequest:
    """Buy electricity for ``purchase.meter`` (the target) by amount or units of
    ``purchase.product_code``, with the customer's cash tender when known."""

    ctx: RequestContext
    purchase: Purchase
    # An MSISDN: the token is also sent to that number by SMS (see ``sell``).
    recipient: str | None = None


@dataclass(frozen=True)
class ElectricityQuoteRequest:
    principal: Principal
    purchase: Purchase


class ElectricitySales:
    def __init__(
        self,
        utility: UtilityService,
        *,
        recipients: RecipientTokens | None = None,
    ) -> None:
        self._utility = utility
        self._recipients = recipients

    async def sell(self, request: ElectricitySaleRequest, renderer: ChannelRenderer) -> Outcome:
        """The stored answer (``renderer.vend``, or ``renderer.failure`` when an upstream
        sale definitively failed), fresh or replayed.

        With a recipient, the token is queued for that number right after the sale
        commits, keyed on the sale's request (a replay queues nothing new). The utility
        side owns the sale's transaction, so this is the one MT not written inside it: a
        crash between the two loses that MT (the merchant's own answer has the token)."""
        watching = _WatchingRenderer(renderer) if request.recipient else None
        processed = await self._utility.credit_vend(
            request.ctx, request.purchase, watching or renderer
        )
        if (
            watching is not None
            and watching.sold is not None
            and self._recipients is not None
            and request.recipient
        ):
            result, sale = watching.sold
            await self._recipients.queue(request.ctx, request.recipient, result, sale)
        return Outcome.of(processed, product=request.purchase.product_code)

    async def quote(self, request: ElectricityQuoteRequest) -> CreditVendResult:
        """A trial vend: the breakdown with an all-zero token; nothing stored or moved."""
        return await self._utility.trial_vend(request.principal, request.purchase)


class RecipientTokens:
    """Queues an electricity token for a recipient's phone (the MT outbox)."""

    def __init__(self, runner: Any, keyring: Any, clock: Any, sender: str) -> None:
        self._runner = runner
        self._keyring = keyring
        self._clock = clock
        self._sender = sender

    async def queue(self, ctx: RequestContext, msisdn: str, result: Any, sale: Sale) -> None:
        text = electricity_token_text(result, sale.receipt_no, ctx.principal.vendor_name)
        await self._runner.run(
            "sms_queue_token",
            sms_outbox.enqueue,
            self._keyring,
            source=f"sale:{sale.request_pk}",
            purpose="recipient",
            msisdn=msisdn,
            sender=self._sender,
            parts=split(text),
            now=self._clock(),
            vendor_id=ctx.principal.vendor_id,
            request_pk=sale.request_pk,
        )


class _WatchingRenderer:
    """Delegates to the channel's renderer and remembers a fresh sale's result (in the
    sale's transaction; one instance per request)."""

    def __init__(self, inner: ChannelRenderer) -> None:
        self._inner = inner
        self.sold: tuple[Any, Sale] | None = None

    def vend(self, request: Any, result: Any, sale: Sale | None, balance: Any) -> Any:
        answer = self._inner.vend(request, result, sale, balance)
        if sale is not None:
            self.sold = (result, sale)
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


__all__ = [
    "ElectricityQuoteRequest",
    "ElectricitySaleRequest",
    "ElectricitySales",
    "RecipientTokens",
]
