"""Reward points for the admin suite: balances and moves within the user's scope, and a
staff adjustment with a reason (permission ``points.adjust``; audited with the balance
before and after). Holders outside the scope answer 403, audited, like any other subject."""

from __future__ import annotations

from datetime import datetime

from distribution import rewards
from vending.oversight import points
from vending.oversight.scope import Scope, resolve
from vending.services.context import Clock, TxnRunner
from vending.services.oversight_access import (
    POINTS_ADJUST,
    POINTS_VIEW,
    AccessGuard,
    Actor,
    Guard,
    scope_of,
)
from vending.storage.database import Txn

# What an added point is worth and how long it lasts, unless staff say otherwise.
DEFAULT_POINT_VALUE = 1
DEFAULT_VALID_DAYS = 365


def _balances(txn: Txn, scope: Scope, now: datetime) -> list[points.HolderBalance]:
    return points.balances(txn, resolve(txn, scope), now)


def _moves(txn: Txn, scope: Scope, **kwargs: object) -> list[points.PointsMove]:
    return points.moves(txn, resolve(txn, scope), **kwargs)  # type: ignore[arg-type]


def _adjust(txn: Txn, scope: Scope, kind: str, holder_id: int, **kwargs: object) -> object:
    return points.adjust(txn, resolve(txn, scope), kind, holder_id, **kwargs)  # type: ignore[arg-type]


class StaffPoints:
    def __init__(self, runner: TxnRunner, clock: Clock, guard: AccessGuard | None = None) -> None:
        self._runner = runner
        self._clock = clock
        self.guard: AccessGuard = guard or Guard(runner, clock)

    async def balances(self, staff: Actor) -> list[points.HolderBalance]:
        await self.guard.require(staff, POINTS_VIEW, "points")
        return await self._runner.run(
            "admin_points_balances", _balances, scope_of(staff), self._clock()
        )

    async def moves(
        self, staff: Actor, *, kind: str = "", holder: tuple[str, int] | None = None
    ) -> list[points.PointsMove]:
        """A holder's statement, or every holder's moves of ``kind`` (``redeem``: the
        redemptions), newest first."""
        await self.guard.require(staff, POINTS_VIEW, "points")
        return await self._runner.run(
            "admin_points_moves", _moves, scope_of(staff), kind=kind, holder=holder
        )

    async def adjust(
        self,
        staff: Actor,
        kind: str,
        holder_id: int,
        *,
        points_delta: int,
        reason: str,
        point_value: int = DEFAULT_POINT_VALUE,
        valid_days: int = DEFAULT_VALID_DAYS,
    ) -> rewards.PointsBalance:
        subject = f"{kind}:{holder_id}"
        await self.guard.require(staff, POINTS_ADJUST, subject)
        try:
            balance: rewards.PointsBalance = await self._runner.run(
                "admin_points_adjust",
                _adjust,
                scope_of(staff),
                kind,
                holder_id,
                points=points_delta,
                point_value=point_value,
                valid_days=valid_days,
                reason=reason,
                actor=staff.actor,
                now=self._clock(),
            )
        except LookupError:
            await self.guard.deny(staff, POINTS_ADJUST, subject, "not in your network")
            raise
        return balance


__all__ = ["StaffPoints"]
