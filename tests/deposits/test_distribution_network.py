"""The distribution network: credit moves down and is recalled up only as balanced ledger
transfers within every node's limit, and a node acts only on its own subtree."""

from __future__ import annotations

import pytest
from deposit_support import NOW, ImmediateRunner, run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distribution import nodes
from vending import audit
from vending.errors import InsufficientFunds, InvalidRequest
from vending.ledger import verify_ledger
from vending.money import Money
from vending.services.distribution import Distribution
from vending.vendors import create_vendor, get_vendor


def zar(cents: int) -> Money:
    return Money(cents, "ZAR")


def _tree(database) -> None:
    """OP → SD1 → D1 → DL1 → R1 (a merchant); OP → SD2; SD1 → D2."""

    def build(txn):
        nodes.create_root(txn, code="OP", name="Operator", currency="ZAR", actor="t", now=NOW)
        create_vendor(txn, client_id="6004708000007", name="Spaza", currency="ZAR", now=NOW)
        for parent, code, limit in (
            ("OP", "SD1", 100000),
            ("OP", "SD2", 0),
            ("SD1", "D1", 0),
            ("SD1", "D2", 0),
            ("D1", "DL1", 0),
        ):
            nodes.create_node(
                txn,
                actor_node="OP",
                parent=parent,
                code=code,
                name=code,
                credit_limit=zar(limit),
                actor="t",
                now=NOW,
            )
        nodes.create_node(
            txn,
            actor_node="DL1",
            parent="DL1",
            code="R1",
            name="Spaza",
            vendor_client_id="6004708000007",
            actor="t",
            now=NOW,
        )

    database.run_txn("tree", build)


@pytest.fixture
def network(database) -> Distribution:
    _tree(database)
    return Distribution(ImmediateRunner(database), lambda: NOW)


def _balance(database, code: str) -> int:
    return database.run_txn("b", nodes.get_node, code).balance.amount


def test_credit_flows_down_to_the_merchant_and_back(network, database) -> None:
    run(network.transfer_down("OP", "SD1", zar(500000), reason="float", actor="staff:ann"))
    run(network.transfer_down("SD1", "DL1", zar(200000), reason="weekly", actor="sd1:bo"))
    run(network.transfer_down("DL1", "R1", zar(50000), reason="top up", actor="dl1:cy"))
    assert database.run_txn("v", get_vendor, "6004708000007").balance == zar(50000)
    run(network.recall("SD1", "R1", zar(20000), reason="closing shop", actor="sd1:bo"))
    assert [_balance(database, c) for c in ("SD1", "DL1", "R1")] == [320000, 150000, 30000]
    assert database.run_txn("v", verify_ledger).ok
    actions = [e["action"] for e in database.run_txn("a", audit.recent)][:4]
    assert actions == [
        "node.credit_recall",
        "node.credit_transfer",
        "node.credit_transfer",
        "node.credit_transfer",
    ]


@pytest.mark.parametrize(
    ("actor", "target"),
    [("SD2", "D1"), ("D1", "SD1"), ("D1", "D1"), ("D2", "R1"), ("SD1", "NOSUCH")],
)
def test_nothing_outside_the_subtree(network, database, actor, target) -> None:
    with pytest.raises(nodes.OutsideSubtree, match="is not in the subtree of"):
        run(network.transfer_down(actor, target, zar(1), reason="x", actor="t"))
    with pytest.raises(nodes.OutsideSubtree):
        run(network.recall(actor, target, zar(1), reason="x", actor="t"))
    assert database.run_txn("v", verify_ledger).transfers_checked == 0


def test_a_node_sees_only_its_subtree(network) -> None:
    assert [n.code for n in run(network.subtree("SD1"))] == ["SD1", "D1", "D2", "DL1", "R1"]
    assert [n.level_name for n in run(network.subtree("D1"))] == [
        "distributor",
        "dealer",
        "retailer",
    ]
    assert [n.code for n in run(network.subtree("SD2"))] == ["SD2"]


def test_limits_hold(network, database) -> None:
    # SD1 may go 1,000.00 below zero (its credit limit), no further.
    run(network.transfer_down("SD1", "D1", zar(100000), reason="on credit", actor="t"))
    with pytest.raises(InsufficientFunds):
        run(network.transfer_down("SD1", "D2", zar(1), reason="more", actor="t"))
    # D1 cannot be recalled below its own limit (0).
    with pytest.raises(InsufficientFunds):
        run(network.recall("SD1", "D1", zar(100001), reason="too much", actor="t"))
    assert [_balance(database, c) for c in ("SD1", "D1", "D2")] == [-100000, 100000, 0]


def test_suspended_nodes_and_bad_amounts_are_refused(network, database) -> None:
    database.run_txn(
        "s",
        nodes.set_status,
        actor_node="OP",
        code="D1",
        status="suspended",
        actor="t",
        now=NOW,
    )
    with pytest.raises(InvalidRequest, match="suspended"):
        run(network.transfer_down("OP", "D1", zar(100), reason="x", actor="t"))
    for amount in (zar(0), zar(-5), Money(100, "INR")):
        with pytest.raises(InvalidRequest):
            run(network.transfer_down("OP", "SD2", amount, reason="x", actor="t"))
    with pytest.raises(InvalidRequest, match="reason"):
        run(network.transfer_down("OP", "SD2", zar(100), reason=" ", actor="t"))


def test_depth_is_bounded(network, database) -> None:
    with pytest.raises(InvalidRequest, match="at most 4 levels"):
        database.run_txn(
            "n",
            nodes.create_node,
            actor_node="OP",
            parent="R1",
            code="X",
            name="X",
            actor="t",
            now=NOW,
        )
    with pytest.raises(nodes.OutsideSubtree):
        database.run_txn(
            "n",
            nodes.create_node,
            actor_node="SD2",
            parent="D1",
            code="Y",
            name="Y",
            actor="t",
            now=NOW,
        )


MOVES = st.lists(
    st.tuples(
        st.sampled_from(["down", "recall"]),
        st.sampled_from(["OP", "SD1", "SD2", "D1", "D2", "DL1"]),
        st.sampled_from(["SD1", "SD2", "D1", "D2", "DL1", "R1"]),
        st.integers(min_value=1, max_value=300000),
    ),
    max_size=25,
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(moves=MOVES)
def test_any_mix_keeps_the_ledger_balanced_and_nodes_within_limits(
    sqlite_template, tmp_path_factory, moves
) -> None:
    import shutil

    from vending.storage.database import Database

    path = tmp_path_factory.mktemp("net") / "evd.db"
    shutil.copyfile(sqlite_template, path)
    database = Database(f"sqlite:///{path}", pool_size=1)
    try:
        _tree(database)
        network = Distribution(ImmediateRunner(database), lambda: NOW)
        for kind, actor, target, cents in moves:
            try:
                if kind == "down":
                    run(network.transfer_down(actor, target, zar(cents), reason="p", actor="t"))
                else:
                    run(network.recall(actor, target, zar(cents), reason="p", actor="t"))
            except (nodes.OutsideSubtree, InsufficientFunds):
                pass
        report = database.run_txn("v", verify_ledger)
        assert report.ok, report.problems()
        for node in database.run_txn("s", nodes.subtree, "OP"):
            if node.credit_limit is not None:
                assert node.balance.amount >= -node.credit_limit.amount
    finally:
        database.close()
