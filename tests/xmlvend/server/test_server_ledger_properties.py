"""Issue 11 §4: any interleaving of XMLVend sales, reversals and replays for one vendor keeps
the ledger balanced and makes one sale per request key (the one idempotency path of
:mod:`vending.services.idempotency`). The JSON channel extends this with its own requests.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server_support import (
    NORMAL_METER,
    World,
    advice,
    build_world,
    credit_vend,
    voucher_vend,
)
from sqlalchemy import func, select, update

from vending.ledger import verify_ledger
from vending.storage.database import Database
from vending.storage.schema import products, requests, sales
from xmlvend.codec import types_base as b

_STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("sell"), st.sampled_from(["voucher", "electricity"])),
        st.tuples(st.just("replay"), st.integers(0, 7)),
        st.tuples(st.just("reverse"), st.integers(0, 7)),
        st.tuples(st.just("replay_reversal"), st.integers(0, 7)),
    ),
    min_size=1,
    max_size=12,
)


@pytest.fixture
def ledger_world(
    sqlite_template: Path, tmp_path: Path, keyring: Any, secrets_sentinel: Any
) -> Iterator[World]:
    """A world on SQLite with stock for every example; electricity sales are refundable
    (product policy ``refund``) so that reversals move money on both products."""
    path = tmp_path / "ledger.db"
    shutil.copyfile(sqlite_template, path)
    database = Database(f"sqlite:///{path}", pool_size=4)
    try:
        world = build_world(database, keyring, secrets_sentinel, vouchers=200)
        database.run_txn(
            "refundable",
            lambda txn: txn.execute(
                update(products)
                .where(products.c.code == world.config.utilities.product_code)
                .values(reversal_policy="refund")
            ),
        )
        yield world
    finally:
        database.close()


def _scalar(world: World, query: Any) -> Any:
    return world.database.run_txn("q", lambda txn: txn.execute(query).scalar_one())


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=_STEPS)
def test_sales_reversals_and_replays_keep_the_ledger_balanced(
    ledger_world: World, steps: list
) -> None:
    world = ledger_world
    opening = world.balance()
    sales_before = _scalar(world, select(func.count()).select_from(sales))
    made: list[tuple[Any, bytes, Any]] = []  # (request, first answer, what it cost)
    reversals: list[Any] = []
    reversed_ok: set[int] = set()
    for action, arg in steps:
        if action == "sell":
            request = (
                voucher_vend(world.header())
                if arg == "voucher"
                else credit_vend(world.header(), NORMAL_METER, "20.00")
            )
            before = world.balance().to_decimal()
            response = world.call(request)
            assert response.status == 200
            made.append((request, response.body, before - world.balance().to_decimal()))
        elif not made:
            continue
        elif action == "replay":
            request, body, _cost = made[arg % len(made)]
            index = arg % len(made)
            replay = world.call(request)
            if index in reversed_ok:
                assert replay.fault_class() == "BusinessRuleEx"  # withdrawn: no PIN, no token
            else:
                assert replay.body == body
        elif action == "reverse":
            index = arg % len(made)
            reversal = advice(b.ReversalAdviceReq, world.header(), made[index][0].header.msg_id)
            answer = world.call(reversal)
            assert answer.status == 200
            if answer.parsed().tx_reversed:
                reversed_ok.add(index)
            reversals.append((reversal, answer.body))
        elif reversals:
            reversal, body = reversals[arg % len(reversals)]
            assert world.call(reversal).body == body
    # One sale per request key: exactly one sale per sale request, however often replayed.
    assert _scalar(world, select(func.count()).select_from(sales)) - sales_before == len(made)
    duplicated = select(func.count()).select_from(
        select(sales.c.request_pk).group_by(sales.c.request_pk).having(func.count() > 1).subquery()
    )
    assert _scalar(world, duplicated) == 0
    assert _scalar(world, select(func.count()).where(requests.c.state == "pending")) == 0
    # The vendor paid exactly for the sales it kept; every transfer balances.
    kept = sum(cost for i, (_r, _b, cost) in enumerate(made) if i not in reversed_ok)
    assert opening.to_decimal() - world.balance().to_decimal() == kept
    report = world.database.run_txn("verify_ledger", verify_ledger)
    assert report.ok, report.problems()
