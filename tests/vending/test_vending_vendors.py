"""Accounts, vendors and operators: validation that writes nothing, the audit trail, and
the notification outbox."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fixed_clock import NOW
from vending_support import VENDOR, run, snapshot, zar

from vending import audit, outbox
from vending.accounts import create_account, ensure_house_accounts, list_accounts
from vending.errors import (
    InvalidRequest,
    UnknownCurrency,
    UnknownOperator,
    UnknownVendor,
    VendingError,
)
from vending.money import Money
from vending.passwords import hash_password
from vending.products import get_product, set_vendor_commission
from vending.storage.database import Database, Txn
from vending.vendors import (
    create_operator,
    create_vendor,
    get_operator,
    get_vendor,
    get_vendor_by_id,
    list_operators,
    list_vendors,
    set_operator_blocked,
    set_operator_password,
    set_vendor_blocked,
    set_vendor_credit_limit,
)

HASH = hash_password("password1", log_n=10)


def test_create_vendor_opens_its_account(world: Database) -> None:
    """A vendor gets a 'vendor:<client id>' account in its currency with its credit limit."""
    vendor = run(world, create_vendor, client_id="6004708000090", name="Shop", currency="ZAR",
                 credit_limit=zar("25"), address="Main Rd", require_auth=False,
                 now=NOW)  # fmt: skip
    assert (vendor.client_id, vendor.name, vendor.address, vendor.currency) == (
        "6004708000090",
        "Shop",
        "Main Rd",
        "ZAR",
    )
    assert vendor.balance == zar("0")
    assert vendor.credit_limit == zar("25")
    assert vendor.available == zar("25")
    assert vendor.require_auth is False
    assert not vendor.blocked
    codes = {a.code: a for a in run(world, list_accounts, "vendor")}
    assert codes["vendor:6004708000090"].credit_limit == zar("25")
    assert run(world, get_vendor_by_id, vendor.id) == vendor
    assert [v.client_id for v in run(world, list_vendors)] == [VENDOR, "6004708000090"]


BAD_VENDORS: list[tuple[dict[str, Any], type[VendingError]]] = [
    ({"client_id": "has space"}, InvalidRequest),
    ({"client_id": ""}, InvalidRequest),
    ({"client_id": "x" * 65}, InvalidRequest),
    ({"client_id": VENDOR}, InvalidRequest),
    ({"name": " "}, InvalidRequest),
    ({"name": "n" * 81}, InvalidRequest),
    ({"address": "a" * 81}, InvalidRequest),
    ({"currency": "XYZ"}, UnknownCurrency),
    ({"credit_limit": Money(100, "USD")}, InvalidRequest),
    ({"credit_limit": Money(-1, "ZAR")}, InvalidRequest),
]


def test_create_vendor_refusals_write_nothing(world: Database, subtests: pytest.Subtests) -> None:
    """Bad vendor definitions are refused before anything is written."""
    before = snapshot(world)
    for kwargs, error in BAD_VENDORS:
        with subtests.test(msg=str(kwargs)):
            with pytest.raises(error):
                run(
                    world,
                    create_vendor,
                    **{"client_id": "NEW", "name": "New", "currency": "ZAR", "now": NOW, **kwargs},
                )
            assert snapshot(world) == before


def test_accounts(world: Database) -> None:
    """Account codes are unique; kinds and currencies are checked; house accounts are
    created once per currency."""
    before = snapshot(world)
    for kwargs, error in (
        ({"code": "supplier:S1"}, InvalidRequest),
        ({"kind": "piggy"}, InvalidRequest),
        ({"currency": "XYZ"}, UnknownCurrency),
        ({"credit_limit": Money(-5, "ZAR")}, InvalidRequest),
    ):
        with pytest.raises(error):
            run(world, create_account, **{"code": "new", "kind": "supplier", "name": "n",
                                          "currency": "ZAR", "now": NOW, **kwargs})  # fmt: skip
    assert snapshot(world) == before
    zar_ids = run(world, ensure_house_accounts, "ZAR", now=NOW)
    assert run(world, ensure_house_accounts, "ZAR", now=NOW) == zar_ids
    assert snapshot(world) == before
    usd_ids = run(world, ensure_house_accounts, "USD", now=NOW)
    assert set(usd_ids) == {"bank", "revenue", "fees", "suspense", "tax"}
    assert not set(usd_ids.values()) & set(zar_ids.values())


def test_unknown_vendor_everywhere(world: Database) -> None:
    """Every vendor operation names an unknown client id as UnknownVendor."""
    air = run(world, get_product, "AIR10")
    for fn in (
        lambda txn: get_vendor(txn, "NOBODY"),
        lambda txn: get_vendor_by_id(txn, 9999),
        lambda txn: set_vendor_blocked(txn, "NOBODY", True, actor="t", now=NOW),
        lambda txn: set_vendor_credit_limit(txn, "NOBODY", zar("1"), actor="t", now=NOW),
        lambda txn: create_operator(
            txn, name="op", password_hash=HASH, vendor_client_id="NOBODY", now=NOW
        ),
        lambda txn: set_vendor_commission(txn, 9999, air.id, 100),
    ):
        before = snapshot(world)
        with pytest.raises(UnknownVendor):
            world.run_txn("unknown", fn)
        assert snapshot(world) == before


def test_operators(world: Database) -> None:
    """Vendor operators are unique per vendor, staff names unique among staff; password
    changes and blocks bump the credential version."""
    run(world, create_vendor, client_id="V2", name="Two", currency="ZAR", now=NOW)
    op = run(
        world, create_operator, name="cashier", password_hash=HASH, vendor_client_id=VENDOR, now=NOW
    )
    run(world, create_operator, name="cashier", password_hash=HASH, vendor_client_id="V2", now=NOW)
    staff = run(world, create_operator, name="cashier", password_hash=HASH, role="admin", now=NOW)
    assert (op.role, op.credential_version, op.blocked) == ("operator", 1, False)
    assert staff.vendor_id is None
    assert staff.role == "admin"
    for kwargs in (
        {"name": "cashier", "vendor_client_id": VENDOR},
        {"name": "cashier"},
        {"name": "elevenchars", "vendor_client_id": VENDOR},
        {"name": "two words"},
        {"name": "x", "role": "root"},
    ):
        before = snapshot(world)
        with pytest.raises(InvalidRequest):
            run(world, create_operator, password_hash=HASH, now=NOW, **kwargs)
        assert snapshot(world) == before
    run(world, set_operator_password, op.id, HASH, actor="t", now=NOW)
    run(world, set_operator_blocked, op.id, True, actor="t", now=NOW)
    changed = run(world, get_operator, "cashier", VENDOR)
    assert (changed.credential_version, changed.blocked) == (3, True)
    assert run(world, get_operator, "cashier").id == staff.id
    assert [o.id for o in run(world, list_operators, VENDOR)] == [op.id]
    assert len(run(world, list_operators)) == 3
    with pytest.raises(UnknownOperator):
        run(world, get_operator, "ghost", VENDOR)
    for fn in (set_operator_password, set_operator_blocked):
        with pytest.raises(UnknownOperator):
            run(world, fn, 9999, HASH if fn is set_operator_password else True, actor="t", now=NOW)


def test_audit_trail(world: Database) -> None:
    """Changes are audited in their own transaction, newest first, with the actor."""
    run(world, set_vendor_blocked, VENDOR, True, actor="alice", reason="audit", now=NOW)
    run(world, set_vendor_credit_limit, VENDOR, zar("10"), actor="bob", now=NOW)
    entries = run(world, audit.recent, 2)
    assert [(e["actor"], e["action"], e["subject"]) for e in entries] == [
        ("bob", "vendor.credit_limit", VENDOR),
        ("alice", "vendor.block", VENDOR),
    ]
    assert entries[0]["details"] == {"credit_limit": 1000, "currency": "ZAR"}
    assert entries[1]["details"] == {"reason": "audit"}


def test_outbox(database: Database, caplog: pytest.LogCaptureFixture) -> None:
    """Notifications are written with the transaction that makes them true and logged only
    after it commits; delivered ones leave the pending list."""

    def notify_and_fail(txn: Txn) -> None:
        outbox.notify(txn, kind="low_stock", subject="AIR10", payload={"left": 3}, now=NOW)
        raise InvalidRequest("rolled back")

    with caplog.at_level(logging.WARNING, logger="evd.notifications"):
        with pytest.raises(InvalidRequest):
            database.run_txn("fail", notify_and_fail)
        assert run(database, outbox.pending) == []
        assert caplog.records == []
        run(
            database, outbox.notify, kind="low_stock", subject="AIR10", payload={"left": 3}, now=NOW
        )
        run(database, outbox.notify, kind="vend_done", subject="S1", payload={}, now=NOW)
        assert "low_stock" in caplog.text
    pending = run(database, outbox.pending)
    assert [(n.kind, n.subject, n.payload) for n in pending] == [
        ("low_stock", "AIR10", {"left": 3}),
        ("vend_done", "S1", {}),
    ]
    assert pending[0].delivered_at is None
    run(database, outbox.mark_delivered, pending[0].id, now=NOW)
    assert [n.id for n in run(database, outbox.pending)] == [pending[1].id]
