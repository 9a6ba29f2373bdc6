"""Deposit intake in a served ``evd serve``: with ``deposits.sms_intake`` on, Kannel's
sms-service call to /deposits/sms credits the merchant the bank SMS names, once; off by
default, and the banner says how to turn it on."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from urllib.parse import quote
from urllib.request import urlopen

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "xmlvend" / "server"))

from live_support import ServerProcess, evd, write_config

from deposits.intake.app import banner_lines
from vending.config import Config, DepositsConfig

ROOT = Path(__file__).resolve().parents[2]
CAFE = "6004708000090"


def test_banner_says_how_to_turn_the_intake_on() -> None:
    off = "\n".join(banner_lines("http://127.0.0.1:8080", config=Config()))
    assert "EVD__DEPOSITS__SMS_INTAKE=true" in off and "EVD__DEPOSITS__IMAP_HOST" in off
    on = Config(
        deposits=DepositsConfig(
            settings_file="conf/deposits.toml",
            sms_intake=True,
            imap_host="imap.example",
            imap_username="alerts",
        )
    )
    lines = "\n".join(banner_lines("http://127.0.0.1:8080", config=on))
    assert "http://127.0.0.1:8080/deposits/sms?sender=%p&text=%a" in lines
    assert "alerts@imap.example:993/INBOX (IDLE + poll every 60 s)" in lines


def test_bank_sms_through_served_intake_credits_once(tmp_path: Path, gnupg_dir: Path) -> None:
    # The demo's GnuPG homes in a short directory: under tmp_path, var/gnupg-demo-supplier's
    # agent sockets would not fit a unix socket path (see gnupg_dir).
    config = write_config(
        tmp_path,
        f'[deposits]\nsettings_file = "{ROOT / "conf" / "deposits.toml"}"\nsms_intake = true\n'
        f'\n[vouchers]\ngnupg_home = "{gnupg_dir / "gnupg"}"\n',
    )
    evd(config, "db", "upgrade")
    evd(config, "demo")
    server = ServerProcess.start(config)
    try:
        banner = "".join(server.stdout)
        assert "/deposits/sms?sender=%p&text=%a" in banner
        base = server.url.rsplit("/xmlvend", 1)[0]
        text = (
            f"FNB :-) R1 500.00 paid to cheq a/c..628301 @ Eft. Ref.EVD {CAFE}. "
            "Trace 7Q2K11ZZ. 5Dec 10:21"
        )
        url = f"{base}/deposits/sms?sender=FNB&text={quote(text)}"
        for _ in range(2):  # Kannel retrying: the same alert again credits nothing more
            with urlopen(url, timeout=30) as answer:
                assert answer.status == 200
    finally:
        server.stop()
    listed = json.loads(evd(config, "deposit", "list", "--all", "--json"))
    assert [(d["state"], d["bank_ref"]) for d in listed] == [("credited", "7Q2K11ZZ")]
