"""Card checkout through `evd serve` against the acquirer-host simulator running as its own
process, over real sockets: approve, decline 05/51, timeout, late and duplicate answers,
disconnect, reversals until acknowledged, and settlement reconciliation."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time

import pytest
from live_channels import LiveCards

pytestmark = [pytest.mark.switch, pytest.mark.slow]


def _state(live: LiveCards, reference: str) -> str:
    database = live.config.parent.parent / "var" / "evd.db"
    with sqlite3.connect(database) as conn:
        row = conn.execute(
            "SELECT state FROM card_payments WHERE reference = ?", (reference,)
        ).fetchone()
    return row[0] if row else ""


def _wait_state(live: LiveCards, reference: str, state: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _state(live, reference)
        if found == state:
            return found
        time.sleep(0.1)
    return _state(live, reference)


def test_approve_decline_and_replay(live_cards: LiveCards) -> None:
    status, doc = live_cards.checkout("live-1", "20.00")
    assert status == 201 and len(doc["sale"]["token"]) == 20 and doc["auth_code"]
    assert live_cards.checkout("live-1", "20.00") == (status, doc)
    status, doc = live_cards.checkout("live-2", "20.05")
    assert (status, doc["response_code"]) == (402, "05")
    status, doc = live_cards.checkout("live-3", "20.51")
    assert (status, doc["response_code"]) == (402, "51")
    assert "4111111111111111" not in str(doc)


def test_timeout_reverses_with_0421_until_0430(live_cards: LiveCards) -> None:
    status, doc = live_cards.checkout("live-4", "20.91")
    assert status == 502 and doc["sale"] is None
    assert _wait_state(live_cards, "live-4", "reversed") == "reversed"


def test_late_answer_is_reversed(live_cards: LiveCards) -> None:
    status, _ = live_cards.checkout("live-5", "20.92")
    assert status == 502
    assert _wait_state(live_cards, "live-5", "reversed") == "reversed"


def test_duplicate_answer_sells_once(live_cards: LiveCards) -> None:
    status, _ = live_cards.checkout("live-6", "20.93")
    assert status == 201 and _state(live_cards, "live-6") == "sold"


def test_disconnect_reverses_after_reconnecting(live_cards: LiveCards) -> None:
    status, _ = live_cards.checkout("live-7", "20.94")
    assert status == 502
    assert _wait_state(live_cards, "live-7", "reversed") == "reversed"
    # The client reconnected: the next payment goes through.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status, _ = live_cards.checkout(f"live-8-{time.monotonic()}", "20.00")
        if status == 201:
            break
        time.sleep(0.3)
    assert status == 201


def test_the_day_reconciles_with_the_switch(live_cards: LiveCards) -> None:
    live_cards.checkout("live-9", "21.00")
    time.sleep(0.5)
    day = time.strftime("%m%d", time.gmtime())
    done = subprocess.run(
        [sys.executable, "-m", "vending.cli.main", "--config", str(live_cards.config),
         "cards", "reconcile", "--day", day, "--report", str(live_cards.settlement)],
        capture_output=True, text=True, cwd=live_cards.config.parent.parent, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "missing here       -" in done.stdout
