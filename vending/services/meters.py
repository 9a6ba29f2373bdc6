"""Meter operations besides sales (any channel), delegating to the utility side: meter
details, free basic electricity, free issue, meter credit transfer, token verification,
key changes and engineering tokens. State-changing ones return the stored answer
(``renderer.vend`` / ``renderer.engineering``), fresh or replayed."""

from __future__ import annotations

from dataclasses import dataclass

from utilities.interface import (
    CreditTransfer,
    EngineeringRequest,
    EngineeringToken,
    MeterInfo,
    MeterQuery,
    UtilityService,
    VerifyResult,
)
from vending.auth import Principal
from vending.services.context import RequestContext
from vending.services.rendering import ChannelRenderer
from vending.services.results import Outcome


@dataclass(frozen=True)
class MeterRequest:
    """A state-changing request about one meter (FBE, free issue, key update)."""

    ctx: RequestContext
    meter: MeterQuery


@dataclass(frozen=True)
class CreditTransferRequest:
    ctx: RequestContext
    transfer: CreditTransfer


@dataclass(frozen=True)
class EngineeringTokenRequest:
    ctx: RequestContext
    engineering: EngineeringRequest


class MeterOperations:
    def __init__(self, utility: UtilityService) -> None:
        self._utility = utility

    async def confirm_meter(self, meter: MeterQuery) -> MeterInfo:
        return await self._utility.confirm_meter(meter)

    async def verify_token(
        self, principal: Principal, meter: MeterQuery, token: str
    ) -> VerifyResult:
        return await self._utility.verify_token(principal, meter, token)

    async def test_token(
        self, principal: Principal, kind: str, at: str, tt: str
    ) -> EngineeringToken:
        """A class 1 test/display token (no state, no meter)."""
        return await self._utility.non_meter_specific_engineering(principal, kind, at, tt)

    async def fbe(self, request: MeterRequest, renderer: ChannelRenderer) -> Outcome:
        return Outcome.of(await self._utility.fbe(request.ctx, request.meter, renderer))

    async def free_issue(self, request: MeterRequest, renderer: ChannelRenderer) -> Outcome:
        return Outcome.of(await self._utility.free_issue(request.ctx, request.meter, renderer))

    async def credit_transfer(
        self, request: CreditTransferRequest, renderer: ChannelRenderer
    ) -> Outcome:
        processed = await self._utility.meter_credit_transfer(
            request.ctx, request.transfer, renderer
        )
        return Outcome.of(processed)

    async def update_key(self, request: MeterRequest, renderer: ChannelRenderer) -> Outcome:
        processed = await self._utility.update_meter_key(request.ctx, request.meter, renderer)
        return Outcome.of(processed)

    async def engineering(
        self, request: EngineeringTokenRequest, renderer: ChannelRenderer
    ) -> Outcome:
        processed = await self._utility.meter_specific_engineering(
            request.ctx, request.engineering, renderer
        )
        return Outcome.of(processed)


__all__ = [
    "CreditTransferRequest",
    "EngineeringTokenRequest",
    "MeterOperations",
    "MeterRequest",
]
