"""Fund requests: asked of the parent, approved (the approval is the transfer) or rejected
with a reason by a node above; expiry; duplicates refused; everybody told."""

from __future__ import annotations

from datetime import timedelta

import pytest
from deposit_support import NOW
from test_distribution_network import _tree, zar

from distribution import fund_requests, nodes
from distribution.fund_notices import FundNotices
from vending import audit, outbox
from vending.errors import InsufficientFunds, InvalidRequest
from vending.ledger import verify_ledger


def funded_tree(database, to="D1"):
    """The test network with 1,000.00 moved from the operator down to node ``to``."""
    _tree(database)
    database.run_txn(
        "fund",
        nodes.transfer_down,
        actor_node="OP",
        to=to,
        amount=zar(100000),
        reason="f",
        actor="t",
        now=NOW,
    )
    return database


@pytest.fixture
def tree(database):
    return funded_tree(database)


def _ask(database, requester="DL1", cents=50000, ref="REF123"):
    return database.run_txn(
        "ask", fund_requests.ask, requester=requester, amount=zar(cents), reference=ref, now=NOW
    )


def _decide(database, actor_node, request_id, approve, reason="", now=NOW):
    return database.run_txn(
        "decide",
        fund_requests.decide,
        actor_node=actor_node,
        request_id=request_id,
        approve=approve,
        reason=reason,
        actor=f"node:{actor_node}",
        now=now,
        notices=FundNotices(None),  # no keys here: the SMS side is tested elsewhere
    )


def test_approval_is_the_transfer(tree) -> None:
    request = _ask(tree)
    assert [r.id for r in tree.run_txn("p", fund_requests.pending_for, "D1", NOW)] == [request.id]
    assert tree.run_txn("p", fund_requests.pending_for, "D2", NOW) == []
    done = _decide(tree, "D1", request.id, True)
    assert done.state == "approved" and done.transfer_id is not None
    assert tree.run_txn("b", nodes.get_node, "DL1").balance == zar(50000)
    assert tree.run_txn("b", nodes.get_node, "D1").balance == zar(50000)
    kinds = [(n.kind, n.subject) for n in tree.run_txn("n", outbox.pending)]
    assert ("fund_request.new", "D1") in kinds and ("fund_request.approved", "DL1") in kinds
    assert tree.run_txn("a", audit.recent)[0]["action"] == "fund_request.approved"
    with pytest.raises(InvalidRequest, match="is approved"):
        _decide(tree, "D1", request.id, True)
    assert tree.run_txn("v", verify_ledger).ok


def test_duplicates_are_refused(tree) -> None:
    _ask(tree)
    with pytest.raises(InvalidRequest, match="exists already"):
        _ask(tree, cents=1000)
    _ask(tree, ref="REF124")


def test_reject_needs_a_reason_and_moves_nothing(tree) -> None:
    request = _ask(tree)
    with pytest.raises(InvalidRequest, match="needs a reason"):
        _decide(tree, "D1", request.id, False)
    done = _decide(tree, "SD1", request.id, False, reason="settle your invoice first")
    assert (done.state, done.reason, done.transfer_id) == (
        "rejected",
        "settle your invoice first",
        None,
    )
    assert tree.run_txn("b", nodes.get_node, "DL1").balance == zar(0)


def test_only_nodes_above_decide(tree) -> None:
    request = _ask(tree)
    for outsider in ("D2", "SD2", "DL1", "R1"):
        with pytest.raises(nodes.OutsideSubtree):
            _decide(tree, outsider, request.id, True)
    assert tree.run_txn("g", fund_requests.get_request, request.id).state == "pending"


def test_expired_requests_move_nothing(tree) -> None:
    request = _ask(tree)
    late = NOW + fund_requests.DEFAULT_TTL + timedelta(seconds=1)
    assert tree.run_txn("p", fund_requests.pending_for, "D1", late) == []
    assert _decide(tree, "D1", request.id, True, now=late).state == "expired"
    assert tree.run_txn("b", nodes.get_node, "DL1").balance == zar(0)


def test_an_approval_beyond_the_approvers_limit_fails_whole(tree) -> None:
    request = _ask(tree, cents=100001)
    with pytest.raises(InsufficientFunds):
        _decide(tree, "D1", request.id, True)
    assert tree.run_txn("g", fund_requests.get_request, request.id).state == "pending"


def test_bad_requests(tree) -> None:
    with pytest.raises(InvalidRequest):
        _ask(tree, cents=0)
    with pytest.raises(InvalidRequest, match="nobody to ask"):
        _ask(tree, requester="OP")
    with pytest.raises(InvalidRequest, match="reference"):
        _ask(tree, ref=" ")
