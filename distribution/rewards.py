"""Reward points (issue 13 §4): earned per sale by the merchant that sells or the consumer
whose wallet pays, by rules per product; a statement; redemption into the holder's own
account; expiry.

Points are money the operator owes, so they live in the ledger too: the sale's own transfer
carries two ``points`` legs (operator revenue → the rewards liability account
``rewards:CUR``, the points' value), a redemption is one transfer liability → the holder's
account, an expiry one transfer liability → revenue. The liability's balance is therefore
always the value of the points not yet redeemed or expired: ``sum(remaining *
point_value)`` over the lots (the property test checks it).

A *lot* is what one sale earned; redemptions take the first-expiring lots first, each with
one conditional UPDATE (``remaining >= n``), so racing redemptions cannot spend a point
twice. A reversed sale takes its points back: what is left of its lot, then the holder's
other points, and what the holder already redeemed beyond that is charged to its account
(one ``points_clawback`` transfer), so the liability stays exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, bindparam, func, insert, select, update

from distribution.tables import REWARD_HOLDERS, reward_lots, reward_moves, reward_rules
from vending import audit, read_cache
from vending.accounts import create_account, ensure_house_accounts
from vending.api_tables import consumers
from vending.batch_plan import plan_of
from vending.errors import InvalidAmount, InvalidRequest, NotFound, VendingError
from vending.ledger import Leg, post_transfer
from vending.money import Money
from vending.storage.database import Txn
from vending.storage.schema import accounts, vendors


class NotEnoughPoints(VendingError):
    """The holder has fewer unexpired points than asked for."""

    code = "not_enough_points"


@dataclass(frozen=True)
class Rule:
    product_code: str
    holder: str
    per_amount: int  # minor units of the sale per point
    point_value: int  # minor units a point is worth on redemption
    valid_days: int


@dataclass(frozen=True)
class Holder:
    """Who holds points: ``merchant`` (a vendor id) or ``consumer`` (a consumer id), and
    the account redemptions pay into."""

    kind: str
    id: int
    account_id: int
    currency: str


@dataclass(frozen=True)
class Earning:
    """Points a sale earns, planned before its transfer is posted."""

    holder: Holder
    points: int
    point_value: int
    valid_days: int
    liability_account: int

    @property
    def value(self) -> Money:
        return Money(self.points * self.point_value, self.holder.currency)

    def legs(self, revenue_account: int) -> list[Leg]:
        return [
            Leg(revenue_account, -self.value, "points"),
            Leg(self.liability_account, self.value, "points"),
        ]


@dataclass(frozen=True)
class PointsBalance:
    points: int
    value: Money
    # The next points to expire and when (None: nothing outstanding).
    next_expiry: datetime | None
    expiring_points: int


@dataclass(frozen=True)
class Move:
    id: int
    kind: str
    points: int
    value: Money
    sale_id: int | None
    transfer_id: int | None
    reference: str | None
    at: datetime


@dataclass(frozen=True)
class Redemption:
    points: int
    value: Money
    transfer_id: int
    replayed: bool = False


# --- rules -----------------------------------------------------------------------------------


def set_rule(
    txn: Txn,
    *,
    product_code: str,
    holder: str,
    per_amount: int,
    point_value: int,
    valid_days: int,
    actor: str,
    now: datetime,
) -> Rule:
    """Create or replace the rule of ``product_code`` for ``holder`` (merchant/consumer)."""
    if holder not in REWARD_HOLDERS:
        raise InvalidRequest(f"holder is one of {', '.join(REWARD_HOLDERS)}")
    if min(per_amount, point_value, valid_days) <= 0:
        raise InvalidRequest("per_amount, point_value and valid_days must be positive")
    if not 1 <= len(product_code) <= 32:
        raise InvalidRequest("bad product code")
    where = (reward_rules.c.product_code == product_code, reward_rules.c.holder == holder)
    values = {"per_amount": per_amount, "point_value": point_value, "valid_days": valid_days}
    if txn.execute(update(reward_rules).where(*where).values(**values)).rowcount == 0:
        txn.execute(insert(reward_rules).values(product_code=product_code, holder=holder, **values))
    txn.call_after(read_cache.invalidate)  # sales in batches read rules through it
    audit.record(
        txn,
        actor=actor,
        action="rewards.rule",
        subject=f"{product_code}/{holder}",
        details=values,
        now=now,
    )
    return Rule(product_code, holder, per_amount, point_value, valid_days)


def list_rules(txn: Txn) -> list[Rule]:
    rows = txn.execute(select(reward_rules).order_by(reward_rules.c.product_code))
    return [
        Rule(r.product_code, r.holder, int(r.per_amount), int(r.point_value), int(r.valid_days))
        for r in rows
    ]


_RULE_OF = select(reward_rules).where(
    reward_rules.c.product_code == bindparam("p"), reward_rules.c.holder == bindparam("h")
)


def liability_account(txn: Txn, currency: str, *, now: datetime) -> int:
    """The rewards liability account of ``currency`` (created on first use). It has no
    floor: its balance is the value of the outstanding points, kept exact by every move."""
    code = f"rewards:{currency}"
    found = txn.execute(select(accounts.c.id).where(accounts.c.code == code)).scalar()
    if found is not None:
        return int(found)
    return create_account(
        txn,
        code=code,
        kind="suspense",
        name=f"Reward points owed ({currency})",
        currency=currency,
        now=now,
    ).id


def plan_earning(
    txn: Txn,
    *,
    product_code: str,
    holder: Holder,
    amount: Money,
    now: datetime,
) -> Earning | None:
    """The points ``holder`` earns for a sale of ``amount`` (None: no rule, or none)."""
    rule = _rule_of(txn, product_code, holder.kind)
    if rule is None:
        return None
    points = amount.amount // rule.per_amount
    if points <= 0:
        return None
    return Earning(
        holder,
        points,
        rule.point_value,
        rule.valid_days,
        _sale_liability_account(txn, amount.currency, now=now),
    )


def _read_rule(txn: Txn, product_code: str, holder: str) -> Rule | None:
    row = txn.execute(_RULE_OF, {"p": product_code, "h": holder}).first()
    if row is None:
        return None
    return Rule(
        row.product_code, row.holder, int(row.per_amount), int(row.point_value), int(row.valid_days)
    )


def _rule_of(txn: Txn, product_code: str, holder: str) -> Rule | None:
    """The rule a sale earns by; in a sale batch from the per-process read cache (every
    sale asks, rules change rarely: :func:`set_rule` invalidates it)."""
    if read_cache.in_batch(txn):
        return read_cache.cached(
            txn,
            ("reward_rule", product_code, holder),
            lambda: _read_rule(txn, product_code, holder),
        )
    return _read_rule(txn, product_code, holder)


def _sale_liability_account(txn: Txn, currency: str, *, now: datetime) -> int:
    """:func:`liability_account` for a sale; in a batch its id comes from the read cache
    once it exists (an account's id never changes)."""
    if not read_cache.in_batch(txn):
        return liability_account(txn, currency, now=now)
    found = read_cache.cached(
        txn,
        ("rewards_liability", currency),
        lambda: txn.execute(
            select(accounts.c.id).where(accounts.c.code == f"rewards:{currency}")
        ).scalar(),
        ttl=None,
    )
    if found is not None:
        return int(found)
    txn.call_after(read_cache.invalidate)  # not there yet: forget the cached miss
    return liability_account(txn, currency, now=now)


def record_earning(txn: Txn, earning: Earning, *, sale_id: int, now: datetime) -> None:
    """The lot and the statement line of a sale whose transfer carried the points legs."""
    holder = earning.holder
    _write(
        txn,
        reward_lots,
        {
            "holder": holder.kind,
            "holder_id": holder.id,
            "account_id": holder.account_id,
            "sale_id": sale_id,
            "points": earning.points,
            "remaining": earning.points,
            "point_value": earning.point_value,
            "currency": holder.currency,
            "earned_at": now,
            "expires_at": now + timedelta(days=earning.valid_days),
        },
    )
    _move(txn, holder, "earn", earning.points, earning.value.amount, now, sale_id=sale_id)


def _write(txn: Txn, table: Any, values: dict[str, Any]) -> None:
    """Insert one row; inside a set-based sale batch (vending.batch_plan) the row is queued
    and written with the batch's one INSERT per table, after the sale it refers to."""
    plan = plan_of(txn)
    if plan is not None:
        plan.insert(table, values)
    else:
        txn.execute(insert(table).values(**values))


def _move(
    txn: Txn,
    holder: Holder,
    kind: str,
    points: int,
    value: int,
    now: datetime,
    *,
    sale_id: int | None = None,
    transfer_id: int | None = None,
    reference: str | None = None,
) -> None:
    _write(
        txn,
        reward_moves,
        {
            "holder": holder.kind,
            "holder_id": holder.id,
            "kind": kind,
            "points": points,
            "value": value,
            "currency": holder.currency,
            "sale_id": sale_id,
            "transfer_id": transfer_id,
            "reference": reference,
            "created_at": now,
        },
    )


# --- holders ---------------------------------------------------------------------------------


def consumer_holder_of_account(txn: Txn, account_id: int) -> int | None:
    """The consumer whose wallet is ``account_id`` (None: not a wallet)."""
    found = txn.execute(select(consumers.c.id).where(consumers.c.account_id == account_id))
    value = found.scalar()
    return None if value is None else int(value)


# --- balance and statement -------------------------------------------------------------------


def _live(holder: Holder, now: datetime):  # type: ignore[no-untyped-def]
    return (
        reward_lots.c.holder == holder.kind,
        reward_lots.c.holder_id == holder.id,
        reward_lots.c.remaining > 0,
        reward_lots.c.expires_at > now,
    )


def balance(txn: Txn, holder: Holder, *, now: datetime) -> PointsBalance:
    rows = txn.execute(
        select(reward_lots.c.remaining, reward_lots.c.point_value, reward_lots.c.expires_at)
        .where(*_live(holder, now))
        .order_by(reward_lots.c.expires_at, reward_lots.c.id)
    ).all()
    points = sum(int(r.remaining) for r in rows)
    value = sum(int(r.remaining) * int(r.point_value) for r in rows)
    first = rows[0].expires_at if rows else None
    expiring = sum(int(r.remaining) for r in rows if r.expires_at == first)
    return PointsBalance(points, Money(value, holder.currency), first, expiring)


def statement(
    txn: Txn, holder: Holder, *, before: int | None = None, limit: int = 50
) -> list[Move]:
    """The holder's points moves, newest first (``before``: a move id, for paging)."""
    query = select(reward_moves).where(
        reward_moves.c.holder == holder.kind, reward_moves.c.holder_id == holder.id
    )
    if before is not None:
        query = query.where(reward_moves.c.id < before)
    rows = txn.execute(query.order_by(reward_moves.c.id.desc()).limit(max(1, min(limit, 200))))
    return [_from_move(row) for row in rows]


def _from_move(row: Row) -> Move:
    return Move(
        id=int(row.id),
        kind=row.kind,
        points=int(row.points),
        value=Money(int(row.value), row.currency),
        sale_id=row.sale_id,
        transfer_id=row.transfer_id,
        reference=row.reference,
        at=row.created_at,
    )


# --- spending points -------------------------------------------------------------------------


def take_points(
    txn: Txn, holder: Holder, points: int, now: datetime, *, exclude: int | None = None
):  # type: ignore[no-untyped-def]
    """Take up to ``points`` from the holder's live lots, first-expiring first; returns
    (points taken, their value). Each lot is decremented conditionally, so two takers
    racing for one lot cannot both have it."""
    taken = value = 0
    query = select(reward_lots.c.id, reward_lots.c.remaining, reward_lots.c.point_value).where(
        *_live(holder, now)
    )
    if exclude is not None:
        query = query.where(reward_lots.c.id != exclude)
    if txn.is_postgres:
        query = query.with_for_update()
    for row in txn.execute(query.order_by(reward_lots.c.expires_at, reward_lots.c.id)).all():
        if taken >= points:
            break
        want = min(points - taken, int(row.remaining))
        done = txn.execute(
            update(reward_lots)
            .where(reward_lots.c.id == row.id, reward_lots.c.remaining >= want)
            .values(remaining=reward_lots.c.remaining - want)
        ).rowcount
        if done != 1:  # pragma: no cover - the row lock above makes this a re-read
            continue
        taken += want
        value += want * int(row.point_value)
    return taken, value


def redeem(txn: Txn, holder: Holder, *, points: int, reference: str, now: datetime) -> Redemption:
    """Turn ``points`` into money in the holder's account: one transfer from the rewards
    liability. The same ``reference`` again answers the first redemption (nothing more
    moves); with another number of points it is refused."""
    reference = reference.strip()
    if not 1 <= len(reference) <= 64:
        raise InvalidRequest("a reference of 1-64 characters is required")
    if points <= 0:
        raise InvalidAmount("redeem a positive number of points")
    earlier = txn.execute(
        select(reward_moves).where(
            reward_moves.c.holder == holder.kind,
            reward_moves.c.holder_id == holder.id,
            reward_moves.c.kind == "redeem",
            reward_moves.c.reference == reference,
        )
    ).first()
    if earlier is not None:
        if -int(earlier.points) != points:
            raise InvalidRequest(f"reference {reference} was used for another redemption")
        return Redemption(
            points, Money(-int(earlier.value), earlier.currency), earlier.transfer_id, True
        )
    taken, value = take_points(txn, holder, points, now)
    if taken < points:
        raise NotEnoughPoints(f"only {taken} points can be redeemed now")
    liability = liability_account(txn, holder.currency, now=now)
    posted = post_transfer(
        txn,
        kind="points_redeem",
        legs=[
            Leg(liability, Money(-value, holder.currency), "points"),
            Leg(holder.account_id, Money(value, holder.currency), "points"),
        ],
        description=f"{points} reward points redeemed ({reference})",
        created_by=f"{holder.kind}:{holder.id}",
        reference=f"points:{holder.kind}:{holder.id}:{reference}"[:64],
        now=now,
    )
    _move(txn, holder, "redeem", -points, -value, now, transfer_id=posted.id, reference=reference)
    return Redemption(points, Money(value, holder.currency), posted.id)


def expire(txn: Txn, *, now: datetime, actor: str = "system", limit: int = 1000) -> int:
    """Expire what is left of every lot past its date: per currency one transfer liability
    → operator revenue (the points' value), a statement line per lot. Returns the number
    of points expired. Safe to run again and concurrently (conditional updates)."""
    query = (
        select(reward_lots)
        .where(reward_lots.c.remaining > 0, reward_lots.c.expires_at <= now)
        .order_by(reward_lots.c.id)
        .limit(limit)
    )
    if txn.is_postgres:
        query = query.with_for_update(skip_locked=True)
    by_currency: dict[str, list[tuple[Holder, int, int]]] = {}
    for row in txn.execute(query).all():
        done = txn.execute(
            update(reward_lots)
            .where(reward_lots.c.id == row.id, reward_lots.c.remaining == row.remaining)
            .values(remaining=0)
        ).rowcount
        if done != 1:  # pragma: no cover - taken by a racing redemption
            continue
        holder = Holder(row.holder, int(row.holder_id), int(row.account_id), row.currency)
        by_currency.setdefault(row.currency, []).append(
            (holder, int(row.remaining), int(row.remaining) * int(row.point_value))
        )
    total_points = 0
    for currency, lots in by_currency.items():
        total = sum(value for _, _, value in lots)
        revenue = ensure_house_accounts(txn, currency, now=now)["revenue"]
        posted = post_transfer(
            txn,
            kind="points_expiry",
            legs=[
                Leg(liability_account(txn, currency, now=now), Money(-total, currency), "points"),
                Leg(revenue, Money(total, currency), "points"),
            ],
            description=f"{len(lots)} reward point lots expired",
            created_by=actor,
            now=now,
        )
        for holder, points, value in lots:
            _move(txn, holder, "expire", -points, -value, now, transfer_id=posted.id)
            total_points += points
    if total_points:
        audit.record(
            txn,
            actor=actor,
            action="rewards.expire",
            subject="reward_lots",
            details={"points": total_points},
            now=now,
        )
    return total_points


def claw_back(txn: Txn, sale_id: int, *, now: datetime) -> int:
    """A reversed sale's points: the sale's transfer reversal already moved their value
    back from the liability to revenue, so the holder loses them -- what is left of the
    lot, then other live points, and what it had redeemed beyond that is charged to its
    account. Returns the points taken back (0: the sale earned none)."""
    lot = txn.execute(select(reward_lots).where(reward_lots.c.sale_id == sale_id)).first()
    if lot is None:
        return 0
    holder = Holder(lot.holder, int(lot.holder_id), int(lot.account_id), lot.currency)
    points, unit = int(lot.points), int(lot.point_value)
    own = int(lot.remaining)
    txn.execute(update(reward_lots).where(reward_lots.c.id == lot.id).values(remaining=0))
    # The liability lost points * unit; the holder's outstanding points must fall by the
    # same value: the lot's own rest, then others at their own values, then money.
    owed = (points - own) * unit
    other_points = other_value = 0
    if owed > 0:
        other_points, other_value = take_points(txn, holder, points - own, now, exclude=int(lot.id))
        owed -= other_value
    _move(
        txn,
        holder,
        "reverse",
        -(own + other_points),
        -(own * unit + other_value),
        now,
        sale_id=sale_id,
    )
    if owed > 0:
        liability = liability_account(txn, holder.currency, now=now)
        posted = post_transfer(
            txn,
            kind="points_clawback",
            legs=[
                Leg(holder.account_id, Money(-owed, holder.currency), "points"),
                Leg(liability, Money(owed, holder.currency), "points"),
            ],
            description=f"Reward points of reversed sale {sale_id} already redeemed",
            created_by="system",
            reference=f"sale:{sale_id}",
            now=now,
        )
        _move(txn, holder, "clawback", 0, -owed, now, sale_id=sale_id, transfer_id=posted.id)
    elif owed < 0:
        # Other lots were worth more per point than this one: the surplus value they held
        # goes to revenue, keeping the liability equal to the outstanding points.
        revenue = ensure_house_accounts(txn, holder.currency, now=now)["revenue"]
        post_transfer(
            txn,
            kind="points_clawback",
            legs=[
                Leg(
                    liability_account(txn, holder.currency, now=now),
                    Money(owed, holder.currency),
                    "points",
                ),
                Leg(revenue, Money(-owed, holder.currency), "points"),
            ],
            description=f"Reward points of reversed sale {sale_id}",
            created_by="system",
            reference=f"sale:{sale_id}",
            now=now,
        )
    return own + other_points


def outstanding_value(txn: Txn, currency: str) -> int:
    """sum(remaining * point_value) of every lot in ``currency`` (the liability's balance)."""
    return int(
        txn.execute(
            select(
                func.coalesce(func.sum(reward_lots.c.remaining * reward_lots.c.point_value), 0)
            ).where(reward_lots.c.currency == currency)
        ).scalar_one()
    )


def holder_for(txn: Txn, kind: str, holder_id: int) -> Holder:
    """The holder's redemption account: a merchant's sales account, a consumer's wallet."""
    table = vendors if kind == "merchant" else consumers
    if kind not in REWARD_HOLDERS:
        raise InvalidRequest(f"holder is one of {', '.join(REWARD_HOLDERS)}")
    row = txn.execute(
        select(table.c.account_id, accounts.c.currency)
        .join(accounts, accounts.c.id == table.c.account_id)
        .where(table.c.id == holder_id)
    ).first()
    if row is None:
        raise NotFound(f"no {kind} {holder_id}")
    return Holder(kind, holder_id, int(row.account_id), row.currency)
