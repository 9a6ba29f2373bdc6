"""Property: any sequence of deposits, withdrawals, sales (one-step and held), settlements,
failures, reversals, limit changes and blocks keeps the books straight: every transfer
balances, verify_ledger is clean, no vendor is below -credit_limit, all balances sum to zero
per currency, and every balance and sale state is exactly what a simple model predicts."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fixed_clock import NOW
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from vending_support import VENDOR, add_vendor, assert_ledger_consistent, build_world, run, sell

from vending.errors import (
    AccountBlocked,
    InsufficientFunds,
    InvalidRequest,
    InvalidState,
    ReversalRefused,
)
from vending.keyring import Keyring, MasterKey
from vending.ledger import reverse_transfer
from vending.money import Money
from vending.products import get_product, price_sale
from vending.sales import fail_sale, get_sale, reverse_sale, settle_sale
from vending.storage.database import Database, Txn
from vending.storage.schema import sales
from vending.vendors import (
    adjust_vendor_balance,
    get_vendor,
    set_vendor_blocked,
    set_vendor_credit_limit,
)

VENDORS = (VENDOR, "V2")
PRODUCTS = {"AIR10": "refund", "ELEC": "none", "BILL": "refund_unconfirmed"}

cents = st.integers(min_value=1, max_value=20_000)
vendor = st.sampled_from(VENDORS)
pick = st.integers(min_value=0, max_value=50)
sale = st.tuples(st.just("sell"), vendor, st.sampled_from(sorted(PRODUCTS)), cents, st.booleans())
operations = st.one_of(
    st.tuples(st.just("deposit"), vendor, cents),
    st.tuples(st.just("withdraw"), vendor, cents),
    # Sales twice over: settlements, failures and reversals need sales to act on.
    sale,
    sale,
    st.tuples(st.just("settle"), pick),
    st.tuples(st.just("fail"), pick),
    st.tuples(st.just("reverse_sale"), pick),
    st.tuples(st.just("reverse_adjustment"), pick),
    st.tuples(st.just("limit"), vendor, st.integers(min_value=0, max_value=20_000)),
    st.tuples(st.just("block"), vendor, st.booleans()),
)
programs = st.lists(operations, min_size=4, max_size=30)


@dataclass
class Model:
    balance: dict[str, int] = field(default_factory=lambda: {VENDOR: 10_000, "V2": 5_000})
    limit: dict[str, int] = field(default_factory=lambda: {VENDOR: 5_000, "V2": 0})
    blocked: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(VENDORS, False))
    # sale id -> [state, vendor, vendor cost, reversal policy]
    sales: dict[int, list[Any]] = field(default_factory=dict)
    # (transfer id, vendor, signed amount, reversed)
    adjustments: list[list[Any]] = field(default_factory=list)

    def can_debit(self, client: str, amount: int) -> bool:
        return not self.blocked[client] and self.balance[client] - amount >= -self.limit[client]


def _expect(ok: bool, fn: Any, *args: Any, refusals: tuple[type[Exception], ...], **kw: Any) -> Any:
    """Run ``fn``; it must succeed exactly when the model says so."""
    try:
        result = fn(*args, **kw)
    except refusals:
        assert not ok, f"{fn.__name__}{args} refused but the model allows it"
        return None
    assert ok, f"{fn.__name__}{args} succeeded but the model refuses it"
    return result


def run_program(db: Database, program: list[tuple[Any, ...]]) -> None:
    keyring = Keyring(MasterKey.generate(), clock=lambda: NOW)
    model = Model()
    money_refusals = (InsufficientFunds, AccountBlocked)
    for step, (op, *args) in enumerate(program):
        if op in ("deposit", "withdraw"):
            client, amount = args
            signed = amount if op == "deposit" else -amount
            posted = _expect(
                op == "deposit" or model.can_debit(client, amount),
                run, db, adjust_vendor_balance, client, Money(signed, "ZAR"),
                reason=op, actor="prop", now=NOW, refusals=money_refusals,
            )  # fmt: skip
            if posted is not None:
                model.balance[client] += signed
                model.adjustments.append([posted.id, client, signed, False])
        elif op == "sell":
            client, code, amount, hold = args
            product = run(db, get_product, code)
            money = None if product.is_fixed_price else Money(amount, "ZAR")
            if money is not None:
                money = max(product.min_amount, min(money, product.max_amount))
            cost = price_sale(product, money).vendor_cost.amount
            result = _expect(
                model.can_debit(client, cost),
                run, db, sell, keyring, code, money, request_id=f"r{step}", client_id=client,
                hold=hold, refusals=money_refusals,
            )  # fmt: skip
            if result is not None:
                assert (
                    result.sale.amount.amount
                    - result.sale.commission.amount
                    + (result.sale.fee.amount)
                    == cost
                )
                model.balance[client] -= cost
                assert result.vendor_balance.amount == model.balance[client]
                state = "pending" if hold else "completed"
                model.sales[result.sale.id] = [state, client, cost, PRODUCTS[code]]
        elif op in ("settle", "fail", "reverse_sale") and model.sales:
            # An even pick aims at a sale in the state the operation needs, an odd one at
            # any sale (mostly exercising refusals).
            wanted = "completed" if op == "reverse_sale" else "pending"
            candidates = sorted(model.sales)
            if args[0] % 2 == 0:
                candidates = [i for i in candidates if model.sales[i][0] == wanted] or candidates
            sale_id = candidates[args[0] // 2 % len(candidates)]
            record = model.sales[sale_id]
            state, client, cost, policy = record
            if op == "settle":
                if _expect(state == "pending", run, db, settle_sale, sale_id, now=NOW,
                           refusals=(InvalidState,)):  # fmt: skip
                    record[0] = "completed"
            elif op == "fail":
                if _expect(state == "pending", run, db, fail_sale, sale_id, reason="x", now=NOW,
                           refusals=(InvalidState,)):  # fmt: skip
                    record[0] = "failed"
                    model.balance[client] += cost
            else:
                allowed = state == "reversed" or (state == "completed" and policy != "none")
                if _expect(allowed, run, db, reverse_sale, sale_id, reason="x",
                           created_by="prop", now=NOW, refusals=(ReversalRefused,)):  # fmt: skip
                    if state != "reversed":
                        model.balance[client] += cost
                    record[0] = "reversed"
        elif op == "reverse_adjustment" and model.adjustments:
            record = model.adjustments[args[0] % len(model.adjustments)]
            transfer_id, client, signed, reversed_ = record
            ok = not reversed_ and (signed < 0 or model.can_debit(client, signed))
            if _expect(ok, run, db, reverse_transfer, transfer_id, kind="reversal",
                       description="prop", created_by="prop", now=NOW,
                       refusals=(*money_refusals, ReversalRefused)):  # fmt: skip
                model.balance[client] -= signed
                record[3] = True
        elif op == "limit":
            client, limit = args
            if _expect(model.balance[client] >= -limit, run, db, set_vendor_credit_limit,
                       client, Money(limit, "ZAR"), actor="prop", now=NOW,
                       refusals=(InvalidRequest,)):  # fmt: skip
                model.limit[client] = limit
        elif op == "block":
            client, blocked = args
            run(db, set_vendor_blocked, client, blocked, actor="prop", now=NOW)
            model.blocked[client] = blocked

    for client in VENDORS:
        actual = run(db, get_vendor, client)
        assert actual.balance.amount == model.balance[client]
        assert actual.credit_limit.amount == model.limit[client]
        assert actual.balance.amount >= -actual.credit_limit.amount
    states = db.run_txn(
        "states", lambda txn: dict(txn.execute(select(sales.c.id, sales.c.state)).all())
    )
    assert states == {sale_id: record[0] for sale_id, record in model.sales.items()}
    for sale_id in model.sales:
        assert run(db, get_sale, sale_id).state == model.sales[sale_id][0]
    assert_ledger_consistent(db)


def _seed(db: Database) -> None:
    run(db, build_world)
    run(db, add_vendor, "V2", deposit="50.00")


@pytest.fixture(scope="module")
def world_template(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file with the world in it, copied for every example."""
    path = tmp_path_factory.mktemp("world") / "world.db"
    shutil.copyfile(sqlite_template, path)
    db = Database(f"sqlite:///{path}", pool_size=1)
    try:
        _seed(db)
    finally:
        db.close()  # the last connection checkpoints the WAL into the file
    return path


@settings(max_examples=60, deadline=None)
@given(program=programs)
def test_random_programs_keep_the_books_straight_sqlite(
    world_template: Path, program: list[tuple[Any, ...]]
) -> None:
    """SQLite, a fresh copy of the world per example."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "evd.db"
        shutil.copyfile(world_template, path)
        db = Database(f"sqlite:///{path}", pool_size=1, sqlite_synchronous="NORMAL")
        try:
            run_program(db, program)
        finally:
            db.close()


def _truncate_all(txn: Txn) -> None:
    tables = txn.execute(
        text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'alembic_version'"
        )
    ).scalars()
    names = ", ".join(f'"{name}"' for name in tables)
    txn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
def pg_world_db(pg_database: Database) -> Iterator[Database]:
    yield pg_database


@pytest.mark.postgres
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(program=programs)
def test_random_programs_keep_the_books_straight_postgres(
    pg_world_db: Database, program: list[tuple[Any, ...]]
) -> None:
    """PostgreSQL, emptied and re-seeded per example (fewer examples: slower to reset)."""
    db = pg_world_db
    db.run_txn("reset", _truncate_all)
    _seed(db)
    run_program(db, program)
