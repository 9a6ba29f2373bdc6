"""Benchmark: the cost of one vend inside the server, without HTTP, threads or load.

    .venv/bin/python -m tools.bench_txn [--vends 1000] [--batch 16] [--profile FILE]

Seeds its own PostgreSQL database like ``tools.bench``, builds the XMLVend endpoint in this
process with synchronous database calls, and sends it creditVendReq bodies one after the
other: electricity, then vouchers. Prints per vend: SQL statements, CPU time of this process
(parse, authenticate, price, tokenise, SQLAlchemy, render, encrypt) and wall time (CPU plus
PostgreSQL round trips) and the CPU of the PostgreSQL backend serving it (``/proc``: the
pool has one connection). Single-threaded, so statements per vend and the CPU each side
spends per vend move only when the code does (CPU times still stretch somewhat on a
loaded machine) -- the end-to-end benchmark (tools.bench) is noisier. ``--profile FILE``
writes a cProfile of the measured vends in CPU time (``python -m pstats FILE``).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import event

from tools.benchkit.seed import DEFAULT_URL, VOUCHER_PRODUCT, bench_database, seed
from tools.conformance import builders
from xmlvend.codec import render_request
from xmlvend.codec.types_base import MsgID

WARMUP = 50


def _bodies(seeded, kind: str, count: int, first: int) -> list[bytes]:  # type: ignore[no-untyped-def]
    bodies = []
    for i in range(first, first + count):
        vendor = seeded.vendors[i % len(seeded.vendors)]
        header = builders.request_header(
            vendor, MsgID(date_time="20260101120000", unique_number=str(i + 1))
        )
        if kind == "voucher":
            request = builders.voucher_vend(header, VOUCHER_PRODUCT, Decimal("10.00"), "ZAR")
        else:
            msno = seeded.meters[i % len(seeded.meters)]
            request = builders.credit_vend(header, msno, Decimal("20.00"), "ZAR")
        bodies.append(render_request(request))
    return bodies


class _Queued:
    """A runner whose transactions run when pumped (the batcher's inner runner here)."""

    def __init__(self, database: Any) -> None:
        self.database = database
        self.queue: list[Any] = []

    def run(self, desc: str, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        from twisted.internet.defer import Deferred

        deferred: Deferred = Deferred()
        self.queue.append((deferred, desc, fn, args, kwargs))
        return deferred

    def pump(self) -> None:
        while self.queue:
            deferred, desc, fn, args, kwargs = self.queue.pop(0)
            try:
                result = self.database.run_txn(desc, fn, *args, **kwargs)
            except Exception:
                deferred.errback()
            else:
                deferred.callback(result)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench_txn", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--vends", type=int, default=1000, help="per product")
    parser.add_argument("--url", default=os.environ.get("EVD_BENCH_POSTGRES_URL", DEFAULT_URL))
    parser.add_argument(
        "--batch",
        type=int,
        default=0,
        help="sales per batch through the sales batcher (issue 16); 0: one transaction each",
    )
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="write a cProfile (CPU time) of the measured vends, both products, to FILE (pstats)",
    )
    args = parser.parse_args(argv)
    from twisted.internet import reactor

    from vending.clock import system_clock
    from vending.config import Config
    from vending.keyring import Keyring
    from vending.services.wiring import build_application
    from vending.storage.database import Database
    from xmlvend.server.app import build_server
    from xmlvend.server.auth import call_now
    from xmlvend.server.parsing import parse_now
    from xmlvend.transport.asyncdb import ImmediateDatabase

    command = "python -m tools.bench_txn " + shlex.join(sys.argv[1:] if argv is None else argv)
    print(f"command: {command}")
    with bench_database(args.url, "evd_bench_txn") as (url, _name):
        # Enough stock that the low-stock alert stays quiet during the run.
        seeded = seed(url, vendors=4, meters=16, vouchers=args.vends + WARMUP + 1000)
        database = Database(url, pool_size=1)
        keyring = Keyring(seeded.master_key, clock=system_clock)
        config = Config()
        runner: Any = ImmediateDatabase(database)
        queued = timer = None
        if args.batch:
            from twisted.internet.task import Clock

            from vending.services.sale_batching import sale_locks
            from xmlvend.transport.batching import BatchingRunner

            queued, timer = _Queued(database), Clock()
            runner = BatchingRunner(queued, timer, sale_locks, max_sales=args.batch, max_wait=1)
        app = build_application(
            config,
            reactor=reactor,
            clock=system_clock,
            runner=runner,
            database=database,
            keyring=keyring,
        )
        server = build_server(
            config,
            reactor=reactor,
            app=app,
            call_blocking=call_now,
            parse=parse_now,  # the reactor never runs here: parse on this thread
        )
        server.start(recovery=False)
        statements = [0]
        commits = [0]

        def count(*_: object) -> None:
            statements[0] += 1

        def count_commit(*_: object) -> None:
            commits[0] += 1

        event.listen(database.engine, "before_cursor_execute", count)
        # A transaction committed through the driver costs two round trips more than its
        # statements (psycopg2's own BEGIN and COMMIT); a merged one (commits_with_last_
        # statement) sends both inside its statements and fires no commit event.
        event.listen(database.engine, "commit", count_commit)
        from tools.benchkit.cpu import _cpu_seconds

        backend = database.run_txn(
            "bench_backend",
            lambda txn: txn.conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one(),
        )
        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile(time.process_time)  # CPU, not waits
        try:
            for number, kind in enumerate(("electricity", "voucher")):
                total = args.vends + WARMUP
                bodies = _bodies(seeded, kind, total, number * total)
                answers: list[int] = []

                def answered(outcome: Any, answers: list[int] = answers) -> None:
                    answers.append(outcome.status)

                def send(some: list[bytes]) -> None:
                    step = args.batch or 1
                    for start in range(0, len(some), step):
                        for body in some[start : start + step]:
                            server.endpoint.handle(body).addCallback(answered)
                        if queued is not None and timer is not None:
                            timer.advance(1)  # the batch goes
                            queued.pump()

                send(bodies[:WARMUP])
                statements[0] = commits[0] = 0
                pg_cpu = _cpu_seconds(backend)
                wall, cpu = time.perf_counter(), time.process_time()
                if profiler is not None:
                    profiler.enable()
                send(bodies[WARMUP:])
                if profiler is not None:
                    profiler.disable()
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                pg_cpu = _cpu_seconds(backend) - pg_cpu
                if any(status != 200 for status in answers):
                    raise SystemExit(f"{kind}: a vend failed (HTTP {set(answers)})")
                stats = getattr(runner, "stats", None)
                if stats is not None and (stats.fallbacks or stats.isolated):
                    # A batch that failed as a whole ran its sales one by one: what was
                    # measured is not the batched path (e.g. a bug in the batch's start).
                    raise SystemExit(
                        f"{kind}: {stats.fallbacks} batches fell back to one by one,"
                        f" {stats.isolated} sales isolated (see the evd.batching warnings)"
                    )
                n = args.vends
                print(
                    f"{kind:<12} {statements[0] / n:5.2f} statements/vend  "
                    f"{(statements[0] + 2 * commits[0]) / n:5.2f} round trips/vend  "
                    f"CPU {cpu / n * 1000:6.3f} ms/vend  PostgreSQL CPU "
                    f"{pg_cpu / n * 1000:6.3f} ms/vend  wall {wall / n * 1000:6.3f} ms/vend"
                )
        finally:
            database.close()
        if profiler is not None:
            profiler.dump_stats(args.profile)
            print(f"profile of the measured vends: {args.profile}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
