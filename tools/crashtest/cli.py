"""``python -m tools.crashtest``: kill -9 the whole XMLVend server under load, restart it,
replay what went unanswered, and check that no sale was lost or duplicated.

    .venv/bin/python -m tools.crashtest [--kills 5] [--seconds 60] [--seed 1]
        [--connections 8] [--workers 2] [--slow-meter] [--url postgresql://...]

1. **Set up** (everything in a scratch directory and a fresh PostgreSQL database on
   ``--url``'s server, both removed at the end): ``evd db upgrade``, ``evd demo``, the demo
   vendors credited, extra voucher stock; a simulated utility (``evd simulate-utility``, its
   own SQLite database, answers late by ``--upstream-latency`` + up to ``--upstream-jitter``
   seconds) to which supply group 123457 is routed; ``evd serve --workers N`` in its own
   process group.
2. **Load**: ``--connections`` clients send creditVendReqs with unique request keys --
   electricity on our engine, AIR-DEMO-10 vouchers and electricity routed upstream (and the
   demo's slow meter with ``--slow-meter``) for ``--seconds`` of server uptime; meanwhile
   ``--kills`` times, at moments of uptime drawn from ``--seed``, the whole server process
   group gets SIGKILL and is restarted.
3. **Replay**: every request that got no answer is sent again, twice; then every request
   still without a definitive answer (``TransactionDelayedEx``: the sale is still being
   completed) is sent again every 2 s for at most ``--settle-seconds``.
4. **Check** (SQL over the database, :mod:`tools.crashtest.checks`): at most one sale per
   request key, no PIN sold twice, every vendor's balance = credits - its sales, no request
   left pending, every client's answer agrees with the database; then ``evd ledger verify``.

The last line is ``K kills, V vends, L lost, D duplicated, P pending``. Exit status 0 only
when nothing was lost or duplicated, nothing is pending, balances and the ledger agree.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import shlex
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine

from tools.benchkit.seed import DEFAULT_URL, bench_database
from tools.crashtest import checks, load
from tools.crashtest.processes import Server, Simulator, evd, free_port, write_config
from vending.clock import system_clock

CREDIT = "1000000.00"  # each demo vendor's top-up: no campaign spends it
STOCK_SUPPLIER = "CRASH"
# A voucher product of our own supplier (the demo's products belong to the demo supplier,
# whose stock files must be signed): sold like any voucher, PINs from stock.
VOUCHER_PRODUCT = load.VOUCHER_PRODUCT


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.crashtest", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--url",
        default=os.environ.get("EVD_CRASHTEST_POSTGRES_URL", DEFAULT_URL),
        help="PostgreSQL server (a database is created and dropped there)",
    )
    parser.add_argument("--kills", type=int, default=5, help="kill -9s of the whole server")
    parser.add_argument(
        "--seconds",
        type=float,
        default=60.0,
        help="load duration (server uptime, restarts excluded)",
    )
    parser.add_argument("--seed", type=int, default=1, help="kill moments and request mix")
    parser.add_argument("--connections", type=int, default=8, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=2, help="evd serve --workers")
    parser.add_argument("--vouchers", type=int, default=3000, help="extra AIR-DEMO-10 PINs")
    parser.add_argument("--upstream-latency", type=float, default=0.1)
    parser.add_argument("--upstream-jitter", type=float, default=0.5)
    parser.add_argument(
        "--slow-meter",
        action="store_true",
        help="also vend the demo's slow meter (answered TransactionDelayedEx, completed late)",
    )
    parser.add_argument(
        "--settle-seconds", type=float, default=90.0, help="longest wait for delayed sales"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database and scratch")
    parser.add_argument(
        "--batching",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="[sales] batching = true / false (issue 16); default: the server's default",
    )
    return parser.parse_args(argv)


@dataclass
class Run:
    args: argparse.Namespace
    scratch: Path
    env: dict[str, str]
    url: str
    records: list[checks.Sent] = field(default_factory=list)
    kills: int = 0
    restart_seconds: list[float] = field(default_factory=list)
    replays: int = 0
    settle_rounds: int = 0
    server: Server | None = None
    simulator: Simulator | None = None

    def log(self, text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


# --- set-up --------------------------------------------------------------------------------


def _stock(url: str, config: Path, env: dict[str, str], count: int) -> None:
    """An unsigned supplier and ``count`` PINs of its product (the demo's 120 would run out
    in seconds), imported through the real importer."""
    from tools.gen_stock import ProductSpec, generate_rows, render_csv
    from vending.keyring import Keyring, MasterKey
    from vending.storage.database import Database
    from vending.vouchers.importer import StockImporter, StockUpload
    from vending.vouchers.suppliers import add_supplier

    database = Database(url, pool_size=1)
    try:
        database.run_txn(
            "crashtest_supplier",
            add_supplier,
            code=STOCK_SUPPLIER,
            name="Crash test airtime",
            account_code="supplier:CRASHTEST",  # the demo supplier settles supplier:VOUCHERS
            currency="ZAR",
            key=None,
            require_signature=False,
            actor="crashtest",
            now=system_clock(),
        )
        evd(config, env, "voucher-product", "add", VOUCHER_PRODUCT, "--supplier",
            STOCK_SUPPLIER, "--network", "CrashMobile", "--face-value", "10.00",
            "--cost-price", "9.40", "--pin-length", "16")  # fmt: skip
        rows = generate_rows(
            [ProductSpec(VOUCHER_PRODUCT, "10.00", 16)], count, today=system_clock().date()
        )
        plaintext = render_csv(rows)
        upload = StockUpload(
            STOCK_SUPPLIER, "crashtest.csv", hashlib.sha256(plaintext).hexdigest(), plaintext
        )
        keyring = Keyring(MasterKey.from_base64(env["EVD_MASTER_KEY"]), clock=system_clock)
        StockImporter(database, keyring, clock=system_clock).import_upload(
            upload, actor="crashtest"
        )
    finally:
        database.close()


def set_up(run: Run) -> None:
    args = run.args
    sim_port, port = free_port(), free_port()
    sim_config = write_config(
        run.scratch / "simulator.toml",
        database_url=f"sqlite:///{run.scratch}/simulator.db",
        port=sim_port,
        workers=1,
        scratch=run.scratch,
    )
    for command in (("db", "upgrade"), ("demo",)):
        evd(sim_config, run.env, *command)
    evd(sim_config, run.env, "vendor", "credit", load.PLATFORM.client_id, CREDIT,
        "--reason", "crash test float")  # fmt: skip
    run.simulator = Simulator(
        sim_config, run.env, sim_port, args.upstream_latency, args.upstream_jitter
    )
    run.simulator.start_and_wait()
    config = write_config(
        run.scratch / "evd.toml",
        database_url=run.url,
        port=port,
        workers=args.workers,
        scratch=run.scratch,
        upstream_url=run.simulator.url,
        test_behaviours=args.slow_meter,
        batching=args.batching,
    )
    for command in (("db", "upgrade"), ("demo",)):
        evd(config, run.env, *command)
    for vendor in load.VENDORS:
        evd(config, run.env, "vendor", "credit", vendor.client_id, CREDIT,
            "--reason", "crash test float")  # fmt: skip
    if args.vouchers:
        _stock(run.url, config, run.env, args.vouchers)
    run.server = Server(config, run.env, port, args.workers)
    seconds = run.server.start_and_wait()
    run.log(f"server up on 127.0.0.1:{port} in {seconds:.1f} s ({args.workers} workers)")


# --- load and kills ------------------------------------------------------------------------


async def campaign(run: Run) -> None:
    args = run.args
    server = run.server
    assert server is not None
    rng = random.Random(args.seed)
    mix = load.Mix(slow=0.05 if args.slow_meter else 0.0)
    factory = load.RequestFactory(random.Random(args.seed + 1), mix, system_clock())
    # Kill moments in the server's *uptime* (restarts take seconds on a busy machine: on the
    # wall clock, dense kills would all land just after a restart, with no load between).
    kill_at = sorted(rng.uniform(1.0, max(args.seconds - 1.0, 1.5)) for _ in range(args.kills))
    stop = asyncio.Event()
    driver = asyncio.create_task(
        load.drive("127.0.0.1", server.port, factory, run.records, stop, args.connections)
    )
    started = time.monotonic()
    uptime = 0.0
    for moment in kill_at:
        await asyncio.sleep(moment - uptime)
        uptime = moment
        done = len(run.records)
        await asyncio.to_thread(server.kill)
        run.kills += 1
        run.log(
            f"kill {run.kills}/{args.kills} at {uptime:.1f} s of uptime "
            f"({done} requests done so far); restarting"
        )
        seconds = await asyncio.to_thread(server.start_and_wait)
        run.restart_seconds.append(seconds)
    await asyncio.sleep(args.seconds - uptime)
    stop.set()
    await driver
    run.log(
        f"load done: {len(run.records)} requests, {args.seconds:.0f} s of server uptime, "
        f"{time.monotonic() - started:.1f} s in all"
    )


async def replay(run: Run) -> None:
    """Every request that got no answer, sent again twice; then the ones without a
    definitive answer, again every 2 s until they have one or time is up."""
    server = run.server
    assert server is not None
    unanswered = [r for r in run.records if r.unanswered]
    run.log(f"replaying {len(unanswered)} unanswered requests twice")
    for _ in range(2):
        await _send_all(server.port, unanswered)
        run.replays += len(unanswered)
    deadline = time.monotonic() + run.args.settle_seconds
    while True:
        waiting = [r for r in run.records if r.final is None]
        if not waiting or time.monotonic() >= deadline:
            break
        run.settle_rounds += 1
        if run.settle_rounds == 1 or run.settle_rounds % 10 == 0:
            run.log(f"{len(waiting)} requests without a definitive answer; asking again")
        await asyncio.sleep(2.0)
        await _send_all(server.port, waiting)


async def _send_all(port: int, records: list[checks.Sent], parallel: int = 8) -> None:
    gate = asyncio.Semaphore(parallel)

    async def one(record: checks.Sent) -> None:
        async with gate:
            await load.send("127.0.0.1", port, record)

    await asyncio.gather(*(one(record) for record in records))


# --- checks and report ---------------------------------------------------------------------


def verify_ledger(run: Run) -> tuple[bool, str]:
    assert run.server is not None
    config = run.scratch / "evd.toml"
    try:
        out = evd(config, run.env, "ledger", "verify")
        return True, out.strip().splitlines()[-1]
    except RuntimeError as exc:
        return False, str(exc).strip().splitlines()[-1]


def report(run: Run, verdict: checks.Verdict, ledger: tuple[bool, str]) -> None:
    from rich.console import Console
    from rich.table import Table

    kinds = Counter(r.kind for r in run.records)
    outcomes: Counter[str] = Counter()
    for record in run.records:
        final = record.final
        if final is None:
            outcomes[f"no definitive answer ({record.kind})"] += 1
        else:
            outcomes["sale" if final.outcome == "sale" else final.fault_class or "fault"] += 1
    table = Table(title="crash campaign", show_header=True)
    table.add_column("what")
    table.add_column("count", justify="right")
    rows = [
        ("kills (SIGKILL of the whole process group)", run.kills),
        ("restart to healthy, longest (s)",
         f"{max(run.restart_seconds):.1f}" if run.restart_seconds else "-"),
        ("requests (unique keys)", len(run.records)),
        *((f"  {kind}", count) for kind, count in sorted(kinds.items())),
        ("sends without an answer", sum(r.unanswered for r in run.records)),
        *(
            (f"  {kind}", sum(r.unanswered for r in run.records if r.kind == kind))
            for kind in sorted(kinds)
        ),
        ("replays (2 per unanswered request)", run.replays),
        ("settle rounds (delayed answers asked again)", run.settle_rounds),
        *((f"final answer: {name}", count) for name, count in outcomes.most_common()),
        ("vends (definitive sale answers)", verdict.vends),
        *((f"lost: {name}", count) for name, count in verdict.lost.items()),
        *((f"duplicated: {name}", count) for name, count in verdict.duplicated.items()),
        *((f"pending: {name}", count) for name, count in verdict.pending.items()),
        ("vendor balances != credits - sales", len(verdict.balance_mismatches)),
        ("ledger verify", "ok" if ledger[0] else "FAILED"),
    ]  # fmt: skip
    for name, value in rows:
        table.add_row(name, str(value))
    Console(width=100).print(table)
    print(f"ledger verify: {ledger[1]}")
    for line in verdict.balance_mismatches + verdict.examples:
        print(f"  {line}")
    refused = [r for r in run.records if r.final is not None and r.final.outcome == "fault"]
    for record in refused[:10]:
        assert record.final is not None
        print(
            f"  refused: {record.kind} {record.key}: {record.final.fault_class} after "
            f"{len(record.answers)} answers, {record.unanswered} unanswered sends"
        )


def main(argv: Sequence[str] | None = None) -> int:
    from vending.keyring import MasterKey

    args = parse_args(argv)
    command = "python -m tools.crashtest " + shlex.join(sys.argv[1:] if argv is None else argv)
    print(f"command: {command}", flush=True)
    scratch = tempfile.TemporaryDirectory(prefix="evd-crashtest-")
    env = {
        **os.environ,
        "EVD_MASTER_KEY": MasterKey.generate().to_base64(),
        "TMPDIR": scratch.name,  # the servers' metrics directories die with the scratch
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    try:
        with bench_database(args.url, prefix="evd_crashtest") as (url, _name):
            run = Run(args, Path(scratch.name), env, url)
            try:
                set_up(run)
                asyncio.run(campaign(run))
                asyncio.run(replay(run))
            finally:
                if run.server is not None:
                    run.server.stop()
                if run.simulator is not None:
                    run.simulator.stop()
            engine = create_engine(url)
            try:
                with engine.connect() as conn:
                    verdict = checks.judge(run.records, conn)
            finally:
                engine.dispose()
            ledger = verify_ledger(run)
            report(run, verdict, ledger)
            if args.keep:
                input(f"database {url} and {scratch.name} kept; Enter to drop them ")
    finally:
        scratch.cleanup()
    print(checks.summary_line(run.kills, verdict))
    return 0 if verdict.clean and ledger[0] else 1
