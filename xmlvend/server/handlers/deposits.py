"""depositReq (a deposit slip for the vendor to bank its takings: the amount, the
operator's account, the reference the bank alert will be matched by) and reprintDepReq
(the vendor's last slips, each its original answer byte for byte), served on the deposits
model (:mod:`vending.services.deposits`, docs/DEPOSITS.md "Deposit slips")."""

from __future__ import annotations

from vending.services.errors import DepositsOff
from xmlvend.codec import types_revenue as r
from xmlvend.server.handlers.base import Call, Reply, Services


def _deposits(services: Services):  # type: ignore[no-untyped-def]
    deposits = services.app.deposits
    if deposits is None:
        raise DepositsOff("deposits are not offered here (no deposit settings)")
    return deposits


async def deposit(services: Services, call: Call) -> Reply:
    assert isinstance(call.request, r.DepositReq)
    outcome = await _deposits(services).deposit_slip(call.context(), services.renderer)
    return Reply.of(outcome)


async def reprint_deposit(services: Services, call: Call) -> Reply:
    request = call.request
    assert isinstance(request, r.ReprintDepositReq)
    originals = await _deposits(services).slip_originals(
        call.context(), services.app.settings.reprint_count
    )
    return Reply(services.renderer.deposit_reprint(request, originals))
