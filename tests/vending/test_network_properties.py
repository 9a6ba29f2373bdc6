"""Issue 13 §7, the property: ANY mix of deposits, credit transfers down the tree, recalls,
sales with commission slabs (paid to every ancestor in the sale's own transfer), reversals,
reward point redemptions and expiries keeps the ledger balanced (every transfer sums to zero,
every balance equals its journal), every account within its credit limit, every node within
its daily sale limit (and its day's count equal to its sales that stand), and the rewards
liability equal to the value of the points outstanding. SQLite and PostgreSQL; each example
starts from an empty, migrated database."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest
from fixed_clock import NOW
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text
from vending_support import VENDOR, add_vendor, build_world, claim, order_for

from distribution import commissions, nodes, rewards
from distribution.tables import distribution_nodes
from vending.errors import VendingError
from vending.keyring import Keyring
from vending.ledger import verify_ledger
from vending.money import Money
from vending.sales import record_sale, reverse_sale
from vending.storage.database import Database, Txn
from vending.storage.schema import sales
from vending.vendors import adjust_vendor_balance, get_vendor

V2 = "V2"
NODES = ("OP", "SD", "DL", "R1", "R2")
MERCHANTS = {"R1": VENDOR, "R2": V2}


def zar(cents: int) -> Money:
    return Money(cents, "ZAR")


def _world(txn: Txn) -> None:
    """OP → SD (credit limit 1000.00) → DL → R1 (vendor V1: credit limit 50.00, daily sale
    limit 60.00), R2 (vendor V2); slabs for every level on AIR10, ELEC and BILL; points for
    merchants on AIR10 and ELEC."""
    build_world(txn)
    add_vendor(txn, V2, deposit="20.00")
    nodes.create_root(txn, code="OP", name="Operator", currency="ZAR", actor="t", now=NOW)
    for parent, code, vendor, limit in (
        ("OP", "SD", None, 100000),
        ("SD", "DL", None, 0),
        ("DL", "R1", VENDOR, None),
        ("DL", "R2", V2, None),
    ):
        nodes.create_node(
            txn,
            actor_node="OP",
            parent=parent,
            code=code,
            name=code,
            credit_limit=None if limit is None else zar(limit),
            vendor_client_id=vendor,
            actor="t",
            now=NOW,
        )
    nodes.set_limits(
        txn, actor_node="OP", code="R1", daily_sale_limit=zar(6000), actor="t", now=NOW
    )
    bands = {
        "1": [{"min": 0, "max": 2000, "flat": 5}, {"min": 2000, "percent": "1", "cap": 300}],
        "2": [{"min": 0, "percent": "0.5"}],
        "3": [{"min": 0, "percent": "2", "cap": 150}],
    }
    commissions.set_slabs(txn, {"AIR10": bands, "ELEC": bands, "BILL": bands}, actor="t", now=NOW)
    for product, per, value, days in (("AIR10", 100, 1, 3), ("ELEC", 250, 2, 5)):
        rewards.set_rule(
            txn,
            product_code=product,
            holder="merchant",
            per_amount=per,
            point_value=value,
            valid_days=days,
            actor="t",
            now=NOW,
        )


AMOUNT = st.integers(min_value=1, max_value=200000)
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("deposit"), st.sampled_from(list(MERCHANTS)), AMOUNT),
        st.tuples(st.just("down"), st.sampled_from(NODES), st.sampled_from(NODES[1:]), AMOUNT),
        st.tuples(st.just("recall"), st.sampled_from(NODES), st.sampled_from(NODES[1:]), AMOUNT),
        st.tuples(
            st.just("sale"),
            st.sampled_from(list(MERCHANTS)),
            st.sampled_from(("AIR10", "ELEC", "BILL")),
            st.integers(min_value=500, max_value=9000),
        ),
        st.tuples(st.just("reverse"), st.integers(min_value=0, max_value=30)),
        st.tuples(st.just("redeem"), st.sampled_from(list(MERCHANTS)), st.integers(1, 300)),
        st.tuples(st.just("later"), st.integers(min_value=1, max_value=40)),
    ),
    min_size=1,
    max_size=30,
)


def _apply(txn: Txn, keyring: Keyring, op: tuple[Any, ...], now: Any, n: int, sold: list[int]):  # type: ignore[no-untyped-def]
    kind = op[0]
    if kind == "deposit":
        adjust_vendor_balance(
            txn, MERCHANTS[op[1]], zar(op[2]), reason="deposit", actor="t", now=now
        )
    elif kind == "down":
        nodes.transfer_down(
            txn, actor_node=op[1], to=op[2], amount=zar(op[3]), reason="p", actor="t", now=now
        )
    elif kind == "recall":
        nodes.recall(
            txn, actor_node=op[1], from_=op[2], amount=zar(op[3]), reason="p", actor="t", now=now
        )
    elif kind == "sale":
        client = MERCHANTS[op[1]]
        claimed = claim(txn, keyring, f"p-{n}", client_id=client)
        amount = None if op[2] == "AIR10" else zar(op[3])
        done = record_sale(
            txn, claimed, order_for(txn, op[2], amount, client_id=client), created_by="t", now=now
        )
        sold.append(done.sale.id)
    elif kind == "reverse":
        if sold:
            reverse_sale(txn, sold[op[1] % len(sold)], reason="p", created_by="t", now=now)
    elif kind == "redeem":
        vendor = get_vendor(txn, MERCHANTS[op[1]])
        holder = rewards.holder_for(txn, "merchant", vendor.id)
        rewards.redeem(txn, holder, points=op[2], reference=f"r-{n}", now=now)


def _check(txn: Txn, now: Any) -> None:
    report = verify_ledger(txn)
    assert report.ok, report.problems()
    liability = rewards.liability_account(txn, "ZAR", now=now)
    from vending.accounts import get_account

    assert get_account(txn, liability).balance.amount == rewards.outstanding_value(txn, "ZAR")
    today = now.astimezone(UTC).date()
    for row in txn.execute(select(distribution_nodes)):
        if row.vendor_id is None:
            continue
        start = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        standing = txn.execute(
            select(func.coalesce(func.sum(sales.c.amount), 0)).where(
                sales.c.vendor_id == row.vendor_id,
                sales.c.state.in_(("completed", "pending")),
                sales.c.created_at >= start,
            )
        ).scalar_one()
        counted = int(row.sold_today) if row.sold_day == today else 0
        assert counted == int(standing), (row.code, counted, standing)
        if row.daily_sale_limit is not None:
            assert counted <= int(row.daily_sale_limit)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh(
    request: pytest.FixtureRequest, sqlite_template: Path, tmp_path_factory: Any
) -> Iterator[Callable[[], Database]]:  # type: ignore[misc]
    """A factory of empty, migrated databases of the parameter's kind (one per example)."""
    opened: list[Database] = []
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None

    def make() -> Database:
        if url is None:
            path = tmp_path_factory.mktemp("netprop") / "evd.db"
            shutil.copyfile(sqlite_template, path)
            database = Database(f"sqlite:///{path}", pool_size=1)
        else:
            database = Database(url, pool_size=2)

            def truncate(txn: Txn) -> None:
                names = [
                    row[0]
                    for row in txn.execute(
                        text(
                            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                            "AND tablename <> 'alembic_version'"
                        )
                    )
                ]
                txn.execute(
                    text("TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " RESTART IDENTITY")
                )

            database.run_txn("truncate", truncate)
        opened.append(database)
        return database

    yield make
    for database in opened:
        database.close()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=OPS)
def test_any_mix_keeps_the_ledger_balanced_and_every_node_within_limits(
    fresh: Callable[[], Database], keyring: Keyring, ops: list[tuple[Any, ...]]
) -> None:
    database = fresh()
    database.run_txn("world", _world)
    now = NOW
    sold: list[int] = []
    for n, op in enumerate(ops):
        if op[0] == "later":
            now += timedelta(hours=op[1] * 3)
            database.run_txn("expire", lambda txn, at=now: rewards.expire(txn, now=at))
        else:
            # A refusal (limits, credit, policy) rolls its transaction back: nothing changed.
            with contextlib.suppress(VendingError):
                database.run_txn("op", _apply, keyring, op, now, n, sold)
        database.run_txn("check", _check, now)
    database.close()
