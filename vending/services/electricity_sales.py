"""Selling electricity (any channel), delegating to the utility side through the
:class:`utilities.interface.UtilityService` contract, injected at wiring.

The utility side routes the meter: our embedded STS engine (one transaction through the
idempotency path: claim, re-check, price, token, sale, answer) or a utility's own server
(hold the vendor's money, call, settle or refund; the answer is stored when final).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from utilities.interface import CreditVendResult, Purchase, UtilityService
from vending.auth import Principal
from vending.recipient_sms import notify_details
from vending.services.context import RequestContext
from vending.services.rendering import ChannelRenderer
from vending.services.results import Outcome


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
        self, utility: UtilityService, *, on_sms_queued: Callable[[], None] | None = None
    ) -> None:
        self._utility = utility
        # Wakes the SMS deliverer once a sale with a recipient committed (else it polls).
        self._on_sms_queued = on_sms_queued or (lambda: None)

    async def sell(self, request: ElectricitySaleRequest, renderer: ChannelRenderer) -> Outcome:
        """The stored answer (``renderer.vend``, or ``renderer.failure`` when an upstream
        sale definitively failed), fresh or replayed.

        With a recipient, the number goes into the sale's details and whoever completes
        the sale (our engine, or a utility's server settled now or by recovery) queues the
        token for it in the sale's own transaction (:mod:`vending.recipient_sms`)."""
        ctx = request.ctx
        if request.recipient:
            ctx = replace(ctx, details=notify_details(ctx.details, request.recipient))
        processed = await self._utility.credit_vend(ctx, request.purchase, renderer)
        if request.recipient and not processed.replayed:
            self._on_sms_queued()
        return Outcome.of(processed, product=request.purchase.product_code)

    async def quote(self, request: ElectricityQuoteRequest) -> CreditVendResult:
        """A trial vend: the breakdown with an all-zero token; nothing stored or moved."""
        return await self._utility.trial_vend(request.principal, request.purchase)


__all__ = ["ElectricityQuoteRequest", "ElectricitySaleRequest", "ElectricitySales"]
