"""The generic four-eyes service, as other services use it: a registered kind runs at once
below the threshold, waits above it (or always, when configured so), needs a different user
with the kind's permission and approvals.decide, runs once, and records a failing action."""

from __future__ import annotations

import dataclasses
from collections.abc import Coroutine
from typing import Any

import pytest
from admin_support import AdminWorld
from twisted.internet.defer import ensureDeferred
from twisted.python.failure import Failure

from staff import users
from staff.approvals import ApprovalDecided
from staff.roles import Forbidden
from staff.users import StaffUser
from vending.errors import InvalidRequest
from vending.money import Money
from vending.services.approvals import Approval, ApprovalKind, FourEyesSettings


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Drive a service coroutine (the test runner answers at once: no reactor)."""
    results: list[Any] = []
    ensureDeferred(coroutine).addBoth(results.append)
    assert results, "the coroutine did not finish"
    if isinstance(results[0], Failure):
        results[0].raiseException()
    return results[0]


def _user(adm: AdminWorld, name: str, role: str, node: str | None = None) -> StaffUser:
    found = adm.database.run_txn("t", users.find_user, name)
    if found is not None:
        return found
    return adm.database.run_txn(
        "t",
        users.create_user,
        username=name,
        display_name=name,
        role=role,
        password_hash="scrypt$10$8$1$AA==$AA==",
        node_code=node,
        must_change_password=False,
        actor="test",
        now=adm.xml.clock.now,
    )


@pytest.fixture
def kind(adm: AdminWorld) -> list[tuple[dict[str, Any], str, Approval | None]]:
    """A test kind whose action records its calls (and fails when asked to)."""
    calls: list[tuple[dict[str, Any], str, Approval | None]] = []

    async def execute(payload: dict[str, Any], actor: StaffUser, approval: Approval | None):
        if payload.get("fail"):
            raise InvalidRequest("the world changed")
        calls.append((payload, actor.username, approval))
        return {"done": payload["n"]}

    four_eyes = adm.admin.services.four_eyes
    four_eyes.register(ApprovalKind("test.refund", "transactions.reverse", execute))
    return calls


def test_below_the_threshold_it_runs_at_once(adm: AdminWorld, kind: list) -> None:
    four_eyes = adm.admin.services.four_eyes
    fiona = _user(adm, "fiona", "finance")
    outcome = run(
        four_eyes.submit(
            fiona,
            "test.refund",
            subject="sale:1",
            summary="refund 1",
            payload={"n": 1},
            amount=Money(100_000, "ZAR"),
        )
    )
    assert not outcome.pending and outcome.result == {"done": 1}
    assert kind == [({"n": 1}, "fiona", None)]


def test_above_it_a_second_user_approves_once(adm: AdminWorld, kind: list) -> None:
    four_eyes = adm.admin.services.four_eyes
    fiona, frank = _user(adm, "fiona", "finance"), _user(adm, "frank", "finance")
    sam = _user(adm, "sam", "support")
    outcome = run(
        four_eyes.submit(
            fiona,
            "test.refund",
            subject="sale:2",
            summary="refund 2",
            payload={"n": 2},
            amount=Money(100_001, "ZAR"),
        )
    )
    assert outcome.pending and kind == []
    approval = outcome.approval
    with pytest.raises(Forbidden):  # the requester
        run(four_eyes.approve(fiona, approval.id))
    with pytest.raises(Forbidden):  # no approvals.decide, no transactions.reverse
        run(four_eyes.approve(sam, approval.id))
    done = run(four_eyes.approve(frank, approval.id, "checked"))
    assert done.state == "approved" and done.result == {"done": 2}
    assert kind == [({"n": 2}, "frank", kind[0][2])] and kind[0][2].id == approval.id
    with pytest.raises(ApprovalDecided):
        run(four_eyes.approve(frank, approval.id))
    assert len(kind) == 1
    reasons = [r["details"]["reason"] for r in adm.audit("forbidden")]
    assert "the requester cannot approve their own action" in reasons
    assert "missing permission" in reasons


def test_configured_kinds_always_wait_and_failures_are_kept(adm: AdminWorld, kind: list) -> None:
    four_eyes = adm.admin.services.four_eyes
    four_eyes.settings = dataclasses.replace(FourEyesSettings(), always=frozenset({"test.refund"}))
    fiona, frank = _user(adm, "fiona", "finance"), _user(adm, "frank", "finance")
    small = run(
        four_eyes.submit(
            fiona,
            "test.refund",
            subject="sale:3",
            summary="refund 3",
            payload={"n": 3, "fail": True},
        )
    )
    assert small.pending
    failed = run(four_eyes.approve(frank, small.approval.id))
    assert failed.state == "failed" and failed.result["error"] == "the world changed"
    assert adm.audit("approval.failed")[0]["subject"] == f"approval:{small.approval.id}"
    rejected = run(
        four_eyes.submit(
            fiona, "test.refund", subject="sale:4", summary="refund 4", payload={"n": 4}
        )
    )
    assert run(four_eyes.reject(frank, rejected.approval.id, "no")).state == "rejected"
    assert kind == []


def test_a_partner_sees_only_its_subtrees_approvals(adm: AdminWorld, kind: list) -> None:
    four_eyes = adm.admin.services.four_eyes
    four_eyes.settings = FourEyesSettings(always=frozenset({"test.refund"}))
    other = _user(adm, "dealer.b", "dealer", "DEALER-B")
    dealer_a = adm.database.run_txn("t", users.find_user, "dealer.a")
    # Dealers may not ask for refunds (no transactions.reverse): refused and audited.
    with pytest.raises(Forbidden):
        run(four_eyes.submit(other, "test.refund", subject="x", summary="x", payload={"n": 5}))
    fiona = _user(adm, "fiona", "finance")
    staff_one = run(
        four_eyes.submit(fiona, "test.refund", subject="s", summary="s", payload={"n": 6})
    )
    assert [a.id for a in run(four_eyes.pending(fiona))] == [staff_one.approval.id]
    assert run(four_eyes.pending(dealer_a, mine=True)) == []
    assert run(four_eyes.pending(dealer_a)) == []  # staff's requests are outside its network
    assert [a.id for a in run(four_eyes.pending(fiona, mine=True))] == [staff_one.approval.id]
    with pytest.raises(Forbidden):
        run(four_eyes.get(dealer_a, staff_one.approval.id))
