"""``evd network``, ``evd fund`` and ``evd points``: the network built, limited and fed from
the command line, fund requests asked and decided, slabs and points rules loaded; refusals
are clean errors that change nothing; every change is audited with the actor."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from deposit_support import ZAR_MERCHANT, seed_merchants
from sqlalchemy import select

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


def test_build_feed_limit_and_fund(evd, tmp_path: Path) -> None:
    run, database = evd
    assert "no network yet" in run("network", "tree", code=1)
    run("network", "root", "OP", "--name", "Operator", "--currency", "ZAR")
    run("network", "add", "OP", "DL", "--name", "Dealer", "--credit-limit", "100.00")
    run("network", "add", "DL", "R1", "--name", "Spaza", "--vendor", ZAR_MERCHANT)
    run("network", "transfer", "DL", "1000.00", "--reason", "float")
    assert "ZAR 1100.00 available" in run(
        "network", "transfer", "R1", "2000.00", "--reason", "x", "--as", "DL", code=1
    )
    run("network", "limits", "R1", "--daily", "50.00", "--channels", "sms,ussd", "--as", "DL")
    tree = {n["code"]: n for n in json.loads(run("network", "tree", "--json", "--as", "DL"))}
    assert tree["R1"]["daily_limit"] == "50.00" and tree["R1"]["channels"] == "sms,ussd"
    assert tree["DL"]["balance"] == "1000.00"
    assert "channels are among" in run("network", "limits", "R1", "--channels", "fax", code=1)

    run("fund", "ask", "R1", "200.00", "REF1")
    assert "exists already" in run("fund", "ask", "R1", "200.00", "REF1", code=1)
    pending = json.loads(run("fund", "pending", "--json", "--as", "DL"))
    assert [(p["requester"], p["amount"]) for p in pending] == [("R1", "200.00 ZAR")]
    assert "approved" in run("fund", "approve", str(pending[0]["id"]), "--as", "DL")
    tree = {n["code"]: n for n in json.loads(run("network", "tree", "--json", "--as", "DL"))}
    assert (tree["DL"]["balance"], tree["R1"]["balance"]) == ("800.00", "200.00")
    assert "no node" in run("fund", "pending", "--as", "R9", code=1)

    slabs = tmp_path / "slabs.json"
    slabs.write_text(json.dumps({"AIR-10": {"1": [{"min": 0, "percent": "1.5", "cap": 500}]}}))
    assert "1 bands for 1 product" in run("network", "slabs", str(slabs))
    slabs.write_text(json.dumps({"AIR-10": {"1": [{"min": 0, "flat": 1, "percent": "1"}]}}))
    assert "one of flat or percent" in run("network", "slabs", str(slabs), code=1)

    run("points", "rule", "AIR-10", "merchant", "--per", "100", "--value", "1", "--days", "30")
    rules = json.loads(run("points", "rules", "--json"))
    assert [(r["product_code"], r["per_amount"]) for r in rules] == [("AIR-10", 100)]
    balance = json.loads(run("points", "balance", "merchant", ZAR_MERCHANT, "--json"))
    assert balance[0]["points"] == 0
    assert "only 0 points" in run(
        "points", "redeem", "merchant", ZAR_MERCHANT, "5", "--reference", "r1", code=1
    )
    assert "0 point(s) expired" in run("points", "expire")
    assert "0 fund request(s) expired" in run("fund", "expire")

    actions = database.run_txn(
        "audit", lambda txn: [r.action for r in txn.execute(select(audit_log.c.action))]
    )
    for action in (
        "node.create",
        "node.limits",
        "node.credit_transfer",
        "fund_request.approved",
        "network.slabs",
        "rewards.rule",
    ):
        assert action in actions
    ours = ("node.", "fund_request.", "network.", "rewards.")
    actors = database.run_txn(
        "actors",
        lambda txn: {
            r.actor
            for r in txn.execute(select(audit_log.c.actor, audit_log.c.action))
            if r.action.startswith(ours)
        },
    )
    assert actors == {"cli:carol"}
