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
