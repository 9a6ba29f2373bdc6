"""Benchmark: bank deposit alerts read and matched per second (issue 13 §7, target 1,000/s),
and the end-to-end latency IMAP -> credit -> confirmation.

    .venv/bin/python -m tools.bench_deposits [--alerts 3000] [--url sqlite:///...|postgresql://...]
        [--imap 20]

Seeds its own database (a fresh SQLite file by default) with merchants, virtual accounts and
payer accounts, then runs in one process, side by side:

1. parse: the bank template reads the alert (no database);
2. parse + match (the parse time above plus the match): find the merchant (reference,
   virtual account, payer) in a read-only transaction per alert, or in reads of 100;
   and set-based in batches of 100 (``deposits.matching.find_merchants``: two round trips
   per batch, what an IMAP poll's batch uses);
3. full intake: ``deposits.recording.record_alert``, one transaction per alert -- dedupe,
   match, the balanced transfer with the fee leg, the outbox confirmation -- and
   ``record_alerts``, one transaction per batch of 100 (a mailbox poll's batch, a savepoint
   per alert).

``--imap N``: end to end on real mail peers (``tools.mailpeers``: Dovecot + an aiosmtpd
sink on loopback): N DKIM-signed bank e-mails sent over SMTP one every 0.5 s, read by the
poller ``evd serve`` runs (IMAP IDLE + poll, on the Twisted reactor, the database on its
thread pool); the latency of each from its SMTP hand-over to its committed credit and
queued confirmation (one transaction).

A mix of the four banks' fixtures with unique bank references. Prints alerts/s and each
rate ÷ the 1,000/s target.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine

TARGET = 1000.0
ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "data" / "deposits"

# (fixture, sender id, bank reference in it, how to make it unique)
_SOURCES = [
    ("hdfc_imps.sms", "VM-HDFCBK", "634012345678", "{:012d}"),
    ("hdfc_neft.sms", "VM-HDFCBK", "SBIN626340123456", "SBIN{:012d}"),
    ("sbi_upi.sms", "From: VM-SBIINB", "634087654321", "{:012d}"),
    ("fnb_eft.sms", "FNB", "8H2K91QZ", "F{:09d}"),
]


def _alerts(count: int, series: int = 0) -> list[tuple[str, str]]:
    texts = [(FIXTURES / name).read_text("utf-8") for name, *_ in _SOURCES]
    out = []
    for i in range(count):
        index = i % len(_SOURCES)
        _name, sender, ref, fmt = _SOURCES[index]
        text = texts[index].replace(ref, fmt.format(700000000 + series * 100_000_000 + i))
        if sender.startswith("From: "):  # forwarded by our GSM modem
            out.append(("+919800000001", f"{sender}\n{text}"))
        else:
            out.append((sender, text))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench_deposits", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--alerts", type=int, default=3000)
    parser.add_argument("--url", default="", help="default: a fresh SQLite file")
    parser.add_argument("--imap", type=int, default=0, help="end-to-end e-mails (0: skip)")
    args = parser.parse_args(argv)

    from deposits import queue
    from deposits.authenticity import sms_alert
    from deposits.matching import find_merchant, find_merchants
    from deposits.recording import record_alert, record_alerts
    from deposits.settings import DepositSettings
    from vending.storage import migrate
    from vending.storage.database import Database, normalize_url
    from vending.vendors import create_vendor

    # The outbox logs every confirmation it writes; 3,000 of them would drown the result.
    logging.getLogger("evd.notifications").setLevel(logging.ERROR)
    settings = DepositSettings.load(ROOT / "conf" / "deposits.toml")
    url = args.url or f"sqlite:///{tempfile.mkdtemp(prefix='bench-deposits-')}/evd.db"
    url = normalize_url(url)
    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    database = Database(url, pool_size=2)
    now = datetime(2026, 12, 6, 8, 30, tzinfo=UTC)

    def seed(txn):  # type: ignore[no-untyped-def]
        for i in range(100, 300):
            create_vendor(
                txn, client_id=f"89012340{i:05d}", name=f"Shop {i}", currency="INR", now=now
            )
            create_vendor(
                txn, client_id=f"60047080{i:05d}", name=f"Spaza {i}", currency="ZAR", now=now
            )
        create_vendor(txn, client_id="8901234000011", name="Kirana", currency="INR", now=now)
        create_vendor(txn, client_id="6004708000007", name="Spaza", currency="ZAR", now=now)
        queue.set_merchant(
            txn,
            "8901234000011",
            tier="standard",
            virtual_account="EVDV000123",
            actor="bench",
            now=now,
        )
        queue.add_payer(txn, "8901234000011", "MEENA STORES", actor="bench", now=now)

    database.run_txn("seed", seed)
    alerts = _alerts(args.alerts)
    incoming = [sms_alert(sender, text, settings.forwarders) for sender, text in alerts]

    started = time.perf_counter()
    parsed = [settings.book.for_sender(a.sender_id).parse(a.text, now.date()) for a in incoming]
    parse_seconds = time.perf_counter() - started
    parse_rate = len(parsed) / parse_seconds

    started = time.perf_counter()
    matched = 0
    for alert in parsed:
        found = database.run_txn(
            "bench_match", find_merchant, alert, now.date(), settings.match_window_days
        )
        matched += found is not None
    match_rate = len(parsed) / (parse_seconds + time.perf_counter() - started)

    # An IMAP poll or an SMS burst hands over many alerts: match them in reads of 100.
    def match_batch(txn, batch):  # type: ignore[no-untyped-def]
        return [find_merchant(txn, a, now.date(), settings.match_window_days) for a in batch]

    started = time.perf_counter()
    for first in range(0, len(parsed), 100):
        database.run_txn("bench_match_batch", match_batch, parsed[first : first + 100])
    batch_rate = len(parsed) / (parse_seconds + time.perf_counter() - started)

    started = time.perf_counter()
    for first in range(0, len(parsed), 100):
        database.run_txn(
            "bench_match_set",
            find_merchants,
            parsed[first : first + 100],
            now.date(),
            settings.match_window_days,
        )
    set_rate = len(parsed) / (parse_seconds + time.perf_counter() - started)

    started = time.perf_counter()
    states: dict[str, int] = {}
    for alert in incoming:
        result = database.run_txn("deposit_alert", record_alert, settings, alert, now)
        states[result.state or result.outcome] = states.get(result.state or result.outcome, 0) + 1
    intake_rate = len(incoming) / (time.perf_counter() - started)

    second = [
        sms_alert(sender, text, settings.forwarders) for sender, text in _alerts(args.alerts, 1)
    ]
    started = time.perf_counter()
    for first in range(0, len(second), 100):
        for result in database.run_txn(
            "deposit_alerts", record_alerts, settings, second[first : first + 100], now
        ):
            key = result.state or result.outcome
            states[key] = states.get(key, 0) + 1
    batch_intake_rate = len(second) / (time.perf_counter() - started)
    database.close()

    engine_name = url.split(":", 1)[0]
    print(f"$ python -m tools.bench_deposits {shlex.join(sys.argv[1:])}".rstrip())
    print(f"{len(alerts)} alerts, 4 templates, {engine_name}; matched {matched}; outcome {states}")
    for label, rate in (
        ("parse", parse_rate),
        ("parse + match (1 read/alert)", match_rate),
        ("parse + match (reads of 100)", batch_rate),
        ("parse + match (set-based, 100)", set_rate),
        ("full intake (post + outbox)", intake_rate),
        ("full intake (100 per txn)", batch_intake_rate),
    ):
        print(f"  {label:30s} {rate:10.0f} alerts/s   ÷ target {rate / TARGET:6.2f}")
    if args.imap:
        from tools.bench_deposits_imap import end_to_end

        end_to_end(url, args.imap)
    return 0


if __name__ == "__main__":
    sys.exit(main())
