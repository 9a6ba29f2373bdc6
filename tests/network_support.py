"""Building a distribution network in tests (imported by name; tests/ is on sys.path): the
operator's root ``OP`` with a chain of nodes under it, a node's limits and a reward-points
rule, each set by the test actor ``t`` at the test's ``now``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from distribution import nodes, rewards
from vending.storage.database import Txn

ROOT = "OP"
ACTOR = "t"


@dataclass(frozen=True)
class Level:
    """One node of a chain: its code and name, and the vendor that sells as it (if any)."""

    code: str
    name: str
    vendor_client_id: str | None = None


def build_chain(txn: Txn, *levels: Level, currency: str, now: datetime) -> None:
    """The root ``OP``, then each level a child of the one before it."""
    nodes.create_root(txn, code=ROOT, name="Operator", currency=currency, actor=ACTOR, now=now)
    parent = ROOT
    for level in levels:
        nodes.create_node(
            txn,
            actor_node=ROOT,
            parent=parent,
            code=level.code,
            name=level.name,
            vendor_client_id=level.vendor_client_id,
            actor=ACTOR,
            now=now,
        )
        parent = level.code


def set_limits(txn: Txn, code: str, *, now: datetime, **limits: Any) -> None:
    """The operator sets ``code``'s limits (daily_sale_limit=…, and so on)."""
    nodes.set_limits(txn, actor_node=ROOT, code=code, actor=ACTOR, now=now, **limits)


def points_rule(
    txn: Txn,
    product_code: str,
    *,
    holder: str,
    per_amount: int,
    now: datetime,
    point_value: int = 1,
    valid_days: int = 30,
) -> None:
    """A ``holder`` earns a point per ``per_amount`` minor units spent on ``product_code``."""
    rewards.set_rule(
        txn,
        product_code=product_code,
        holder=holder,
        per_amount=per_amount,
        point_value=point_value,
        valid_days=valid_days,
        actor=ACTOR,
        now=now,
    )
