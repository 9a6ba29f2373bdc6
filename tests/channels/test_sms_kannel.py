"""Through a real Kannel: an MO typed at fakesmsc reaches `evd serve`'s /sms/mo, sells
through the services, and the reply comes back through sendsms as an MT with the PIN; the
delivery report from Kannel marks it delivered."""

from __future__ import annotations

import re
import time

import pytest
from live_channels import LIVE_MERCHANT, LIVE_PIN, LiveSms

pytestmark = [pytest.mark.kannel, pytest.mark.slow]


def test_an_mo_comes_back_as_an_mt_with_the_pin(live_sms: LiveSms) -> None:
    mts = live_sms.kannel.exchange(  # type: ignore[attr-defined]
        LIVE_MERCHANT,
        f"{LIVE_PIN} BUY AIR-DEMO-10",
        until=lambda found: any("PIN" in mt.text for mt in found),
        timeout=30,
    )
    replies = [mt for mt in mts if mt.receiver == LIVE_MERCHANT]
    assert replies, f"no MT came back: {mts}"
    assert re.search(r"PIN \d{16}", replies[0].text), replies[0].text
    assert replies[0].sender == "12345"
    # Kannel's delivery report (the fake SMSC acknowledges) reaches /sms/dlr.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        outbox = live_sms.evd("sms", "outbox")
        if "delivered" in outbox:
            break
        time.sleep(0.3)
    assert "delivered" in outbox, outbox


def test_a_refusal_comes_back_too(live_sms: LiveSms) -> None:
    mts = live_sms.kannel.exchange(  # type: ignore[attr-defined]
        "27829999999", f"{LIVE_PIN} BAL", until=bool, timeout=30
    )
    assert mts and "not registered" in mts[0].text


BURST_MERCHANT = "27820000002"
BURST_PIN = "2468"


def _count(live_sms: LiveSms, query: str, *args: object) -> int:
    import sqlite3

    database = live_sms.config.parent.parent / "var" / "evd.db"
    with sqlite3.connect(database) as conn:
        return int(conn.execute(query, args).fetchone()[0])


def test_a_burst_sells_once_per_mo_and_every_reply_is_delivered(live_sms: LiveSms) -> None:
    """A smaller burst than the benchmark's 10,000 (tools/bench_sms.py --burst): every MO
    through Kannel is one sale, none is lost or sold twice, and every reply MT comes back
    with Kannel's delivery report recorded."""
    burst = 500
    live_sms.evd(
        "sms", "register", BURST_MERCHANT, "--vendor", "6004708000106", "--operator",
        "platform", "--pin-stdin", stdin=BURST_PIN + "\n",
    )  # fmt: skip
    mts = live_sms.kannel.exchange(  # type: ignore[attr-defined]
        BURST_MERCHANT,
        f"{BURST_PIN} ELEC 04100000019 10",
        count=burst,
        until=lambda found: sum(mt.text.startswith("Elec ") for mt in found) >= burst,
        timeout=600,
    )
    replies = [mt for mt in mts if mt.receiver == BURST_MERCHANT]
    assert len(replies) == burst and all(mt.text.startswith("Elec ") for mt in replies)
    sales_query = (
        "SELECT count({}) FROM sales s JOIN requests r ON r.id = s.request_pk "
        "JOIN vendors v ON v.id = s.vendor_id "
        "WHERE r.channel = 'sms' AND v.client_id = '6004708000106'"
    )
    assert _count(live_sms, sales_query.format("*")) == burst
    assert _count(live_sms, sales_query.format("DISTINCT r.request_id")) == burst
    delivered = (
        "SELECT count(*) FROM sms_messages WHERE msisdn = ? AND purpose = 'reply' "
        "AND state = 'delivered' AND dlr_status = 1"
    )
    deadline = time.monotonic() + 60
    while _count(live_sms, delivered, BURST_MERCHANT) < burst and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _count(live_sms, delivered, BURST_MERCHANT) == burst
    assert _count(live_sms, "SELECT count(*) FROM sms_messages WHERE msisdn = ?",
                  BURST_MERCHANT) == burst  # fmt: skip
