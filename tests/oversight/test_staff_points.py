"""Reward points for staff: balances and moves in scope, adjustments up and down with a
reason that keep the rewards liability equal to the points outstanding, audited; a holder
outside the user's subtree refused 403 and audited."""

from __future__ import annotations

import pytest
from fixed_clock import NOW
from oversight_support import ADMIN, DEALER, V1, V2, run

from distribution import rewards
from vending import audit
from vending.accounts import get_account
from vending.errors import InvalidRequest
from vending.ledger import verify_ledger
from vending.services.oversight_access import Forbidden, Staff
from vending.services.staff_points import StaffPoints
from vending.vendors import get_vendor

POINTS = Staff("fin", frozenset({"points.view", "points.adjust"}))
DEALER_POINTS = Staff("dl", frozenset({"points.view", "points.adjust"}), DEALER.node_code)


@pytest.fixture
def service(runner, clock, sale_ids):
    return StaffPoints(runner, clock)


def _vendor_id(database, client_id: str) -> int:
    return database.run_txn("v", get_vendor, client_id).id


def _liability_is_exact(database) -> None:
    def check(txn):
        account = rewards.liability_account(txn, "ZAR", now=NOW)
        return get_account(txn, account).balance.amount, rewards.outstanding_value(txn, "ZAR")

    held, outstanding = database.run_txn("l", check)
    assert held == outstanding
    assert database.run_txn("v", verify_ledger).ok


def test_adjust_up_and_down(service, database) -> None:
    v1 = _vendor_id(database, V1)
    after = run(service.adjust(POINTS, "merchant", v1, points_delta=120, reason="goodwill",
                               point_value=5))  # fmt: skip
    assert (after.points, after.value.amount) == (120, 600)
    after = run(service.adjust(POINTS, "merchant", v1, points_delta=-20, reason="duplicate"))
    assert (after.points, after.value.amount) == (100, 500)
    _liability_is_exact(database)
    record = database.run_txn("a", audit.recent)[0]
    assert record["action"] == "points.adjust" and record["actor"] == "staff:fin"
    assert record["details"]["before"]["points"] == 120
    assert record["details"]["after"]["points"] == 100
    [balance] = run(service.balances(POINTS))
    assert (balance.kind, balance.holder_id, balance.points) == ("merchant", v1, 100)
    moves = run(service.moves(POINTS, holder=("merchant", v1)))
    assert [(m.kind, m.points) for m in moves] == [("adjust", -20), ("adjust", 120)]


def test_an_adjustment_needs_a_reason_and_enough_points(service, database) -> None:
    v1 = _vendor_id(database, V1)
    with pytest.raises(InvalidRequest):
        run(service.adjust(POINTS, "merchant", v1, points_delta=10, reason=" "))
    with pytest.raises(rewards.NotEnoughPoints):
        run(service.adjust(POINTS, "merchant", v1, points_delta=-1, reason="too many"))
    _liability_is_exact(database)


def test_redemptions_are_listed(service, database, clock) -> None:
    v1 = _vendor_id(database, V1)
    run(service.adjust(POINTS, "merchant", v1, points_delta=50, reason="promo"))
    holder = database.run_txn("h", rewards.holder_for, "merchant", v1)
    database.run_txn("r", rewards.redeem, holder, points=30, reference="R-1", now=NOW)
    redemptions = run(service.moves(POINTS, kind="redeem"))
    assert [(m.holder_id, m.points, m.reference) for m in redemptions] == [(v1, -30, "R-1")]
    _liability_is_exact(database)


def test_a_dealer_sees_and_adjusts_only_its_merchants(service, database) -> None:
    v1, v2 = _vendor_id(database, V1), _vendor_id(database, V2)
    run(service.adjust(ADMIN, "merchant", v1, points_delta=10, reason="a"))
    run(service.adjust(ADMIN, "merchant", v2, points_delta=10, reason="b"))
    assert [b.holder_id for b in run(service.balances(DEALER_POINTS))] == [v1]
    assert {m.holder_id for m in run(service.moves(DEALER_POINTS, kind="adjust"))} == {v1}
    assert run(service.moves(DEALER_POINTS, holder=("merchant", v2))) == []
    with pytest.raises(Forbidden):
        run(service.adjust(DEALER_POINTS, "merchant", v2, points_delta=5, reason="mine"))
    assert database.run_txn("a", audit.recent)[0]["action"] == "forbidden"
    with pytest.raises(Forbidden):
        run(service.balances(Staff("nobody", frozenset())))
