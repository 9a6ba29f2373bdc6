"""Benchmark: SMS round trips through a real Kannel against XMLVend vends, side by side in
one run, and a burst of MOs with nothing lost, nothing sold twice and every MT delivered.

    .venv/bin/python -m tools.bench_sms [--seconds 8] [--connections 16] [--sms 400]
                                        [--burst 10000] [--url postgresql://...]

It creates its own PostgreSQL database (``tools.benchkit.seed``: bench vendors with a
large float, bench meters), registers one SMS merchant per bench vendor, starts a local
Kannel (``tools.kannel``: bearerbox + smsbox + the fake SMSC) and ``evd serve`` with the
SMS channel on, then:

1. **XMLVend**: closed loop of electricity creditVendReqs for ``--seconds`` (vends/s);
2. **SMS**: ``--sms`` MOs ``<PIN> ELEC <meter> 20`` injected through one fake phone
   connection (``fakesmsc`` picks each from every meter, the merchants taking turns: the
   fake SMSC takes one phone at a time), timed until every reply MT came back through
   sendsms (round trips/s: MO -> Kannel -> /sms/mo -> sale -> outbox -> sendsms -> Kannel
   -> the phone);
3. **burst**: ``--burst`` MOs the same way; then counts the replies that reached the phone
   and the SMS sales in the database (lost = MOs without a reply, duplicated = sales
   beyond one per request key) and waits for Kannel's delivery report of every reply MT
   of the run. Exit status 1 if anything was lost, duplicated or not delivered.

It prints the rates and the ratio SMS/XMLVend (target >= 0.5), and drops the database.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

from tools.benchkit.loadgen import MsgIds, closed_loop, vend_templates
from tools.benchkit.seed import DEFAULT_URL, bench_database, seed
from tools.benchkit.server import ServerProcess
from tools.kannel import LocalKannel, find_binaries
from vending import sms_merchants
from vending.storage.database import Database

PIN = "2468"


def msisdn(index: int) -> str:
    return f"2782{index:07d}"


def register_merchants(url: str, vendors: list) -> list[str]:  # type: ignore[type-arg]
    database = Database(url, pool_size=1)
    numbers = []
    try:
        pin_hash = sms_merchants.hash_pin(PIN, log_n=14)
        for index, vendor in enumerate(vendors):
            number = msisdn(index)
            database.run_txn(
                "bench_sms_merchant",
                sms_merchants.register,
                msisdn=number,
                vendor_client_id=vendor.client_id,
                operator_name=vendor.op_name,
                pin_hash=pin_hash,
                now=datetime.now(UTC),
            )
            numbers.append(number)
    finally:
        database.close()
    return numbers


def _rows(url: str, query: str) -> list:  # type: ignore[type-arg]
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(query)).all())
    finally:
        engine.dispose()


def sms_counts(url: str) -> tuple[int, int]:
    """(SMS sales, distinct SMS request keys with a sale)."""
    ((sales, distinct),) = _rows(
        url,
        "SELECT count(*), count(DISTINCT r.request_id) FROM sales s "
        "JOIN requests r ON r.id = s.request_pk WHERE r.channel = 'sms'",
    )
    return int(sales), int(distinct)


def mo_messages(merchants: list[str], meters: list[str]) -> list[tuple[str, str]]:
    """(sender, text) of the MOs: every meter once, the merchants taking turns (a sale
    locks its meter's and its vendor's rows, as the XMLVend load rotates over both)."""
    return [
        (merchants[index % len(merchants)], f"{PIN} ELEC {meter} 20")
        for index, meter in enumerate(meters)
    ]


def round_trips(
    kannel: LocalKannel, merchants: list[str], meters: list[str], count: int, timeout: float
) -> tuple[float, int]:
    """Inject ``count`` MOs through one fake phone connection (fakesmsc picks each from
    :func:`mo_messages` at random); (seconds until every reply reached it, replies)."""
    first, *more = mo_messages(merchants, meters)

    def replies(mts: list) -> int:  # type: ignore[type-arg]
        return sum(1 for mt in mts if mt.text.startswith("Elec "))

    started = time.monotonic()
    mts = kannel.exchange(
        *first,
        more=more,
        count=count,
        until=lambda found: replies(found) >= count,
        timeout=timeout,
    )
    return time.monotonic() - started, replies(mts)


def reply_states(url: str) -> dict[str, int]:
    """The reply MTs by state (``delivered``: Kannel's delivery report came back)."""
    query = "SELECT state, count(*) FROM sms_messages WHERE purpose = 'reply' GROUP BY state"
    return {str(state): int(count) for state, count in _rows(url, query)}


def wait_delivered(url: str, timeout: float) -> dict[str, int]:
    """Poll until every reply MT is ``delivered`` (or ``timeout``); the states."""
    deadline = time.monotonic() + timeout
    while True:
        states = reply_states(url)
        if set(states) == {"delivered"} or time.monotonic() > deadline:
            return states
        time.sleep(0.5)


def direct_mos(port: int, merchants: list[str], meters: list[str], count: int) -> float:
    """Diagnostic: MOs posted straight to /sms/mo (no Kannel on the way in) by 16 threads;
    the MO handling rate of the server alone (the replies still go out through Kannel)."""
    import threading
    import urllib.request
    from urllib.parse import urlencode

    counter = iter(range(count))
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                return
            query = urlencode({"from": merchants[n % len(merchants)], "to": "12345",
                               "text": f"{PIN} ELEC {meters[n % len(meters)]} 20",
                               "id": f"direct-{n}"})  # fmt: skip
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/sms/mo?{query}") as answer:
                answer.read()

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return count / (time.monotonic() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--vendors", type=int, default=8)
    parser.add_argument("--sms", type=int, default=400, help="MOs of the timed SMS phase")
    parser.add_argument("--burst", type=int, default=10000, help="MOs of the burst (0: skip)")
    parser.add_argument("--burst-timeout", type=float, default=1800.0)
    parser.add_argument("--direct", type=int, default=0, help="diagnostic: MOs straight to us")
    parser.add_argument("--url", default=os.environ.get("EVD_BENCH_POSTGRES_URL", DEFAULT_URL))
    args = parser.parse_args(argv)
    found = find_binaries()
    if isinstance(found, str):
        print(found, file=sys.stderr)
        return 2
    with bench_database(args.url, prefix="evd_bench_sms") as (url, _name):
        bench = seed(url, vendors=args.vendors, meters=args.vendors * 8, vouchers=0)
        merchants = register_merchants(url, list(bench.vendors))
        scratch = Path(tempfile.mkdtemp(prefix="evd-bench-sms-"))
        server = ServerProcess(url, bench.master_key, workers=1, pool_size=16)
        kannel = LocalKannel(scratch / "kannel", mo_url=f"http://127.0.0.1:{server.port}/sms/mo")
        server._env.update(
            {
                "EVD__SMS__ENABLED": "true",
                "EVD__SMS__SENDSMS_URL": kannel.sendsms_url,
                "EVD__SMS__USERNAME": kannel.username,
                "EVD__SMS__PASSWORD": kannel.password,
                "EVD__SMS__POLL_SECONDS": "0.2",
            }
        )
        kannel.start()
        server.start()
        try:
            templates = vend_templates(list(bench.vendors), list(bench.meters), None,
                                       host=f"127.0.0.1:{server.port}")  # fmt: skip
            xml = asyncio.run(
                closed_loop(
                    "127.0.0.1",
                    server.port,
                    templates["electricity"],
                    MsgIds(),
                    connections=args.connections,
                    seconds=args.seconds,
                )
            )
            # Warm the PIN cache and connections, then the timed SMS phase.
            round_trips(kannel, merchants, list(bench.meters), len(merchants) * 2, 60)
            seconds, replies = round_trips(kannel, merchants, list(bench.meters), args.sms, 120)
            sms_rate = replies / seconds
            print(f"XMLVend electricity vends/s  {xml.rate:8.1f}  (errors {xml.error_total()})")
            print(f"SMS round trips/s            {sms_rate:8.1f}  ({replies}/{args.sms} in "
                  f"{seconds:.1f} s)")  # fmt: skip
            print(f"ratio SMS / XMLVend          {sms_rate / xml.rate:8.2f}  (target >= 0.5)")
            if args.direct:
                rate = direct_mos(server.port, merchants, list(bench.meters), args.direct)
                print(f"diagnostic: MOs straight to /sms/mo, handled/s {rate:8.1f}")
            if args.burst:
                before, _ = sms_counts(url)
                seconds, replies = round_trips(
                    kannel, merchants, list(bench.meters), args.burst, args.burst_timeout
                )
                sales, distinct = sms_counts(url)
                burst_sales = sales - before
                # Every reply MT of the run (warm-up, timed phase, burst) with its report.
                states = wait_delivered(url, 120)
                print(
                    f"burst {args.burst} MOs in {seconds:.1f} s ({replies / seconds:.1f}/s): "
                    f"replies {replies}, lost {args.burst - replies}, SMS sales {burst_sales}, "
                    f"duplicated {sales - distinct}; reply MTs of the run by state: {states}"
                )
                ok = replies == args.burst == burst_sales and sales == distinct
                if not ok or set(states) != {"delivered"}:
                    print("burst FAILED", file=sys.stderr)
                    return 1
        finally:
            server.stop()
            kannel.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
