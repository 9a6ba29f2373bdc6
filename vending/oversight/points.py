"""Reward points as staff see and correct them (issue 15 §3): every holder's live balance,
the points moves (earnings, redemptions, expiries, reversals, adjustments) newest first,
and a staff adjustment with a reason.

An adjustment keeps the rewards ledger exact as every other move does
(``distribution.rewards``): adding points is a lot of their own (no sale) and one transfer
operator revenue → the rewards liability for their value; taking points away takes the
first-expiring lots and moves their value back, liability → revenue. Both write a
statement line (kind ``adjust``) and an audit record with the balance before and after.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select

from distribution import rewards
from distribution.tables import reward_lots, reward_moves
from vending import audit
from vending.accounts import ensure_house_accounts
from vending.api_tables import consumers
from vending.errors import InvalidAmount, InvalidRequest
from vending.ledger import Leg, post_transfer
from vending.money import Money
from vending.oversight.scope import Resolved
from vending.storage.database import Txn
from vending.storage.schema import vendors

MAX_ADJUST = 1_000_000


@dataclass(frozen=True)
class HolderBalance:
    kind: str  # merchant | consumer
    holder_id: int
    name: str  # a merchant's client id and name; a consumer's id
    points: int
    value: Money


@dataclass(frozen=True)
class PointsMove:
    id: int
    kind: str
    holder: str
    holder_id: int
    points: int
    value: Money
    sale_id: int | None
    reference: str | None
    at: datetime


def _consumers_visible(scope: Resolved) -> bool:
    # Consumers belong to no merchant of the network: platform staff only.
    return scope.scope.everything


def balances(txn: Txn, scope: Resolved, now: datetime) -> list[HolderBalance]:
    """Holders with live (unexpired, unspent) points in scope, most points first."""
    rows = txn.execute(
        select(
            reward_lots.c.holder,
            reward_lots.c.holder_id,
            reward_lots.c.currency,
            func.sum(reward_lots.c.remaining).label("points"),
            func.sum(reward_lots.c.remaining * reward_lots.c.point_value).label("value"),
        )
        .where(reward_lots.c.remaining > 0, reward_lots.c.expires_at > now)
        .group_by(reward_lots.c.holder, reward_lots.c.holder_id, reward_lots.c.currency)
    ).all()
    names = _names(txn)
    found = [
        HolderBalance(
            r.holder,
            int(r.holder_id),
            names.get((r.holder, int(r.holder_id)), f"{r.holder} {r.holder_id}"),
            int(r.points),
            Money(int(r.value), r.currency),
        )
        for r in rows
        if _visible(scope, r.holder, int(r.holder_id))
    ]
    return sorted(found, key=lambda b: (-b.points, b.kind, b.holder_id))


def _names(txn: Txn) -> dict[tuple[str, int], str]:
    merchants = txn.execute(select(vendors.c.id, vendors.c.client_id, vendors.c.name)).all()
    found = {("merchant", int(r.id)): f"{r.client_id} {r.name}" for r in merchants}
    for r in txn.execute(select(consumers.c.id)).all():
        found[("consumer", int(r.id))] = f"consumer {r.id}"
    return found


def _visible(scope: Resolved, kind: str, holder_id: int) -> bool:
    if kind == "merchant":
        return scope.has_vendor(holder_id)
    return _consumers_visible(scope)


def moves(
    txn: Txn,
    scope: Resolved,
    *,
    kind: str = "",
    holder: tuple[str, int] | None = None,
    limit: int = 100,
) -> list[PointsMove]:
    """Points moves in scope, newest first: one holder's, or every holder's of ``kind``
    (``redeem`` lists the redemptions)."""
    query = select(reward_moves)
    if holder is not None:
        if not _visible(scope, *holder):
            return []
        query = query.where(
            reward_moves.c.holder == holder[0], reward_moves.c.holder_id == holder[1]
        )
    elif not _consumers_visible(scope):
        query = query.where(
            reward_moves.c.holder == "merchant",
            scope.vendor_filter(reward_moves.c.holder_id),
        )
    if kind:
        query = query.where(reward_moves.c.kind == kind)
    rows = txn.execute(query.order_by(reward_moves.c.id.desc()).limit(max(1, min(limit, 500))))
    return [
        PointsMove(
            int(r.id),
            r.kind,
            r.holder,
            int(r.holder_id),
            int(r.points),
            Money(int(r.value), r.currency),
            r.sale_id,
            r.reference,
            r.created_at,
        )
        for r in rows
    ]


def adjust(
    txn: Txn,
    scope: Resolved,
    kind: str,
    holder_id: int,
    *,
    points: int,
    point_value: int,
    valid_days: int,
    reason: str,
    actor: str,
    now: datetime,
) -> rewards.PointsBalance:
    """Add (``points`` > 0, each worth ``point_value`` minor units, valid ``valid_days``)
    or take away (``points`` < 0, at their lots' own values) a holder's points; the new
    balance. Outside the scope: :class:`LookupError` (the service answers 403)."""
    if not _visible(scope, kind, holder_id):
        raise LookupError(f"{kind} {holder_id} is not in scope")
    reason = reason.strip()
    if not reason:
        raise InvalidRequest("an adjustment needs a reason")
    if points == 0 or abs(points) > MAX_ADJUST:
        raise InvalidAmount(f"adjust by 1 to {MAX_ADJUST:,} points, up or down")
    holder = rewards.holder_for(txn, kind, holder_id)
    before = rewards.balance(txn, holder, now=now)
    liability = rewards.liability_account(txn, holder.currency, now=now)
    revenue = ensure_house_accounts(txn, holder.currency, now=now)["revenue"]
    if points > 0:
        if not 1 <= point_value <= 100_000 or not 1 <= valid_days <= 3660:
            raise InvalidAmount("a point is worth 1-100000 minor units, valid 1-3660 days")
        value = points * point_value
        txn.execute(
            insert(reward_lots).values(
                holder=holder.kind,
                holder_id=holder.id,
                account_id=holder.account_id,
                sale_id=None,
                points=points,
                remaining=points,
                point_value=point_value,
                currency=holder.currency,
                earned_at=now,
                expires_at=now + timedelta(days=valid_days),
            )
        )
        legs = [
            Leg(revenue, Money(-value, holder.currency), "points"),
            Leg(liability, Money(value, holder.currency), "points"),
        ]
    else:
        taken, value = rewards.take_points(txn, holder, -points, now)
        if taken < -points:
            raise rewards.NotEnoughPoints(f"the holder has only {taken} live points")
        legs = [
            Leg(liability, Money(-value, holder.currency), "points"),
            Leg(revenue, Money(value, holder.currency), "points"),
        ]
    if value <= 0:
        raise InvalidAmount("these points are worth nothing: nothing to adjust")
    posted = post_transfer(
        txn,
        kind="points_adjust",
        legs=legs,
        description=f"Reward points adjusted by {points:+d}: {reason}"[:200],
        created_by=actor,
        reference=f"points:{holder.kind}:{holder.id}",
        now=now,
    )
    # The statement line; its reference (unique per holder and kind) names the transfer.
    txn.execute(
        insert(reward_moves).values(
            holder=holder.kind,
            holder_id=holder.id,
            kind="adjust",
            points=points,
            value=value if points > 0 else -value,
            currency=holder.currency,
            sale_id=None,
            transfer_id=posted.id,
            reference=f"adj:{posted.id}",
            created_at=now,
        )
    )
    after = rewards.balance(txn, holder, now=now)
    audit.record(
        txn,
        actor=actor,
        action="points.adjust",
        subject=f"{kind}:{holder_id}",
        details={
            "points": points,
            "reason": reason[:200],
            "before": {"points": before.points, "value": before.value.format()},
            "after": {"points": after.points, "value": after.value.format()},
        },
        now=now,
    )
    return after


__all__ = ["HolderBalance", "PointsMove", "adjust", "balances", "moves"]
