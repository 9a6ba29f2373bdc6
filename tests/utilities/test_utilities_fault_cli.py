"""``evd fault list|show|close`` in process, on an SQLite database with the demo vendors and
meters and three customer fault reports."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from utilities_support import NOW, principal_for

from utilities.demo import seed_utilities
from utilities.faults.reports import CustomerDetails, FaultReport, report_fault_once
from vending.cli.main import main
from vending.demo import seed_core
from vending.keyring import Keyring, MasterKey
from vending.requests import RequestKey, StoredResponse
from vending.storage import migrate
from vending.storage.database import Database
from vending.storage.schema import audit_log

REPORTS = (
    FaultReport("meter", CustomerDetails("J Smith", "3 Erf Road"), "Display blank", "04100000019"),
    FaultReport("meter", CustomerDetails("A Dlamini", "9 Long Street"), None, "04100000043"),
    FaultReport("network", CustomerDetails("P Naidoo", "1 Hill Road", "0831234567"), "No power"),
)


@pytest.fixture
def reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """The environment of an ``evd`` run, and its database with REPORTS logged."""
    for name in list(os.environ):
        if name.startswith("EVD"):
            monkeypatch.delenv(name)
    url = f"sqlite:///{tmp_path / 'evd.db'}"
    master = MasterKey.generate()
    monkeypatch.setenv("EVD_DATABASE_URL", url)
    monkeypatch.setenv("EVD_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    monkeypatch.setenv("EVD_ACTOR", "alice")
    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    database = Database(url, pool_size=2)
    keyring = Keyring(master, clock=lambda: NOW)
    database.run_txn("seed_core", seed_core, now=NOW, password_log_n=10)
    database.run_txn("seed_utilities", seed_utilities, keyring, now=NOW)
    cafe = principal_for(database, "6004708000090")
    for n, report in enumerate(REPORTS):
        key = RequestKey("xmlvend", cafe.client_id, f"m{n}", "custReportFault",
                         hashlib.sha256(b"%d" % n).digest())  # fmt: skip
        database.run_txn(
            "report", report_fault_once, keyring, key, cafe, report, terminal_id="POS-1",
            render=lambda record: StoredResponse(record.ref_no.encode(), 200), now=NOW,
        )  # fmt: skip
    try:
        yield database
    finally:
        database.close()


def evd(capsys: pytest.CaptureFixture[str], *argv: str, code: int = 0) -> str:
    result = main(list(argv))
    out, err = capsys.readouterr()
    assert result == code, f"evd {' '.join(argv)} -> {result}\n{out}\n{err}"
    return out + err


def test_list_show_and_close(reported: Database, capsys: pytest.CaptureFixture[str]) -> None:
    listing = evd(capsys, "fault", "list")
    lines = listing.splitlines()
    assert lines[0].split()[:4] == ["ref", "status", "kind", "meter"]
    # Newest first; an unregistered meter is flagged.
    assert [line.split()[0] for line in lines[1:]] == ["FR00000034", "FR00000026", "FR00000018"]
    assert "04100000043 (not registered)" in listing

    shown = evd(capsys, "fault", "show", "fr0000-0026")
    assert "FR00000026" in shown and "A Dlamini" in shown and "(not registered)" in shown
    assert "client 6004708000090, terminal POS-1" in shown

    closed = evd(capsys, "fault", "close", "FR00000018", "--resolution", "Meter replaced")
    assert "FR00000018 closed" in closed
    rows = json.loads(evd(capsys, "fault", "list", "--open", "--json"))
    assert [row["ref"] for row in rows] == ["FR00000026", "FR00000034"]  # oldest first
    shown = evd(capsys, "fault", "show", "FR00000018")
    assert "closed" in shown and "Meter replaced" in shown and "cli:alice" in shown

    meter = json.loads(evd(capsys, "fault", "list", "--meter", "04100000019", "--json"))
    assert [(row["ref"], row["status"]) for row in meter] == [("FR00000018", "closed")]

    audits = reported.run_txn(
        "audit",
        lambda txn: txn.execute(
            select(audit_log.c.actor, audit_log.c.subject).where(
                audit_log.c.action == "fault_report_close"
            )
        ).all(),
    )
    assert [tuple(a) for a in audits] == [("cli:alice", "fault_report:FR00000018")]


def test_mistakes_are_clean_errors(reported: Database, capsys: pytest.CaptureFixture[str]) -> None:
    out = evd(capsys, "fault", "close", "FR00000018", "--resolution", "done")
    assert "closed" in out
    again = evd(capsys, "fault", "close", "FR00000018", "--resolution", "done", code=1)
    assert "closed already" in again
    typo = evd(capsys, "fault", "show", "FR00000019", code=1)
    assert "check digit" in typo
    missing = evd(capsys, "fault", "show", "FR00000042", code=1)
    assert "no fault report FR00000042" in missing
    blank = evd(capsys, "fault", "close", "FR00000026", "--resolution", " ", code=1)
    assert "resolution is required" in blank
    assert "Traceback" not in typo + missing + blank
