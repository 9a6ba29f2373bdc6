"""``evd deposit``: the manual queue from the command line, every change audited with the
actor; refusals are clean errors that change nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from deposit_support import INR_OTHER, NOW, ROOT, SETTINGS, fixture, seed_merchants
from sqlalchemy import select

from deposits.authenticity import sms_alert
from deposits.recording import record_alert
from vending.cli.main import main
from vending.storage.database import Database
from vending.storage.schema import audit_log


@pytest.fixture
def evd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    for name in list(os.environ):
        if name.startswith("EVD"):
            monkeypatch.delenv(name)
    url = f"sqlite:///{tmp_path / 'evd.db'}"
    monkeypatch.setenv("EVD_DATABASE_URL", url)
    monkeypatch.setenv("EVD__DEPOSITS__SETTINGS_FILE", str(ROOT / "conf" / "deposits.toml"))
    monkeypatch.setenv("EVD_ACTOR", "carol")

    def evd(*args: str, code: int = 0) -> str:
        actual = main(list(args))
        out, err = capsys.readouterr()
        assert actual == code, (args, out, err)
        assert "Traceback" not in err
        return out if code == 0 else err

    evd("db", "upgrade")
    database = Database(url, pool_size=1)
    seed_merchants(database)
    yield evd, database
    database.close()


def _queue(evd) -> list[dict]:
    return json.loads(evd("deposit", "list", "--json"))


def test_list_assign_reject(evd) -> None:
    run, database = evd
    assert run("deposit", "list").strip() == "(none)"
    for text in (
        fixture("sbi_upi.sms"),
        fixture("sbi_upi.sms").replace("634087654321", "634087654399"),
    ):
        alert = sms_alert("+919800000001", "From: VM-SBIINB\n" + text, SETTINGS.forwarders)
        database.run_txn("alert", record_alert, SETTINGS, alert, NOW)
    queued = _queue(run)
    assert [(d["state"], d["amount"], d["payer"]) for d in queued] == [
        ("suspense", "7500.00 INR", "MEENA STORES")
    ] * 2
    first, second = (d["id"] for d in queued)

    err = run("deposit", "assign", str(first), "NOSUCH", "--reason", "x", code=1)
    assert "NOSUCH" in err
    err = run("deposit", "assign", str(first), INR_OTHER, "--reason", "  ", code=1)
    assert "reason" in err
    out = run("deposit", "assign", str(first), INR_OTHER, "--reason", "shop called in")
    assert out.strip() == f"deposit {first} credited to {INR_OTHER}: 7500.00 less fee 37.50 INR"
    assert run("deposit", "reject", str(second), "--reason", "returned to payer").strip() == (
        f"deposit {second} rejected"
    )
    assert _queue(run) == []
    everything = json.loads(run("deposit", "list", "--all", "--json"))
    assert [d["state"] for d in everything] == ["credited", "rejected"]
    err = run("deposit", "reject", str(first), "--reason", "again", code=1)
    assert "not in the manual queue" in err
    audit = database.run_txn(
        "audit",
        lambda txn: txn.execute(
            select(audit_log.c.actor, audit_log.c.action).order_by(audit_log.c.id)
        ).all(),
    )
    assert [tuple(row) for row in audit if row.action.startswith("deposit.")] == [
        ("cli:carol", "deposit.assign"),
        ("cli:carol", "deposit.reject"),
    ]


def test_merchant_details_and_payers(evd) -> None:
    run, _database = evd
    run("deposit", "merchant", INR_OTHER, "--tier", "gold", "--virtual-account", "EVDV000777")
    err = run("deposit", "merchant", INR_OTHER, "--tier", "platinum", code=1)
    assert "no fee tier 'platinum'" in err
    run("deposit", "payer", INR_OTHER, "30012345678")
    err = run("deposit", "payer", INR_OTHER, "3001 2345 678", code=1)
    assert "already pays" in err


def test_alerts_lists_what_a_template_could_not_read(evd) -> None:
    run, database = evd
    alert = sms_alert("FNB", fixture("fnb_eft.sms").replace("Trace", "Trc"), SETTINGS.forwarders)
    database.run_txn("alert", record_alert, SETTINGS, alert, NOW)
    rows = json.loads(run("deposit", "alerts", "--json"))
    assert [(r["bank"], r["reason"]) for r in rows] == [
        ("FNB", "FNB template no longer matches: no bank_ref")
    ]
