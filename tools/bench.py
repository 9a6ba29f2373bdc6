"""Benchmark: creditVend throughput and latency of ``evd serve --workers N`` on PostgreSQL,
against pgbench's TPC-B-like script on the same server.

    .venv/bin/python -m tools.bench [--seconds 20] [--connections 32] [--workers 2]
                                    [--products electricity,voucher] [--url postgresql://...]
                                    [--channel json]

(``make bench BENCH_ARGS="..."`` runs the same.) It creates its own database on the server
at ``--url`` (default ``$EVD_BENCH_POSTGRES_URL`` or the local trust-auth server), seeds it
(demo data, bench vendors and meters, voucher stock), starts ``evd serve``, and per product:

1. **peak** -- closed loop: ``--connections`` keep-alive clients, each sending its next
   creditVendReq as soon as the last is answered;
2. **80 %** -- open loop at ``--fraction`` of that peak (constant arrival rate; latency from
   each request's due time, so a stalled server cannot hide its queue).

Then it stops the server, runs ``pgbench -i -s SCALE`` and ``pgbench -c C -j 2 -T SECONDS``
in the same database, checks the ledger (``evd ledger verify``) and prints vends/s, p50/p99,
pgbench tps and the ratio vends/s / tps. The database is dropped at the end.

Every vend is a real one: authenticated, claimed, priced, tokenised (or a PIN reserved),
posted to the ledger, its response stored encrypted -- and answered only after its own
commit, with ``synchronous_commit`` and ``fsync`` as the server has them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from tools.benchkit import pgbench
from tools.benchkit.cpu import CpuMeter, postgres_pids
from tools.benchkit.loadgen import (
    JsonTemplate,
    MsgIds,
    Result,
    Template,
    closed_loop,
    json_templates,
    open_loop,
    vend_templates,
)
from tools.benchkit.seed import DEFAULT_URL, VOUCHER_PRODUCT, bench_database, seed
from tools.benchkit.server import ServerProcess
from tools.conformance.profile import Credentials

PRODUCTS = ("electricity", "voucher")


@dataclass
class Phase:
    product: str  # the label: the product, with " json" for the JSON API
    peak: Result
    steady: Result | None
    peak_cpu: dict[str, float]
    steady_cpu: dict[str, float]
    peak_other: float = 0.0  # CPU seconds other processes used during the peak window


def _products(text: str) -> tuple[str, ...]:
    chosen = tuple(p.strip() for p in text.split(",") if p.strip())
    unknown = [p for p in chosen if p not in PRODUCTS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"products are {', '.join(PRODUCTS)}")
    return chosen


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--url",
        default=os.environ.get("EVD_BENCH_POSTGRES_URL", DEFAULT_URL),
        help="PostgreSQL server (a database is created and dropped there)",
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="per measured run")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured, before each run")
    parser.add_argument(
        "--login-warmup",
        type=float,
        default=15.0,
        help="unmeasured closed loop over every product before the first run, so that each "
        "bench vendor's operator has logged in (scrypt at production cost, ~0.1-1 s each on a "
        "loaded machine) before anything is measured; 0: none",
    )
    parser.add_argument(
        "--history",
        type=int,
        default=5000,
        help="unmeasured sales made after the login warm-up and before the first VACUUM "
        "ANALYZE, so that the planner sees the tables of a platform in operation (on tables "
        "analyzed nearly empty, PostgreSQL keeps the foreign-key checks' cached plans as "
        "sequential scans until the next ANALYZE); 0: none",
    )
    parser.add_argument("--connections", type=int, default=32, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=2, help="evd serve --workers")
    parser.add_argument("--pool-size", type=int, default=8, help="database.pool_size per worker")
    parser.add_argument(
        "--batching",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="[sales] batching = true / false (issue 16); default: the server's default "
        "(on for PostgreSQL since step 2)",
    )
    parser.add_argument("--batch-max-sales", type=int, default=64)
    parser.add_argument("--batch-max-wait-ms", type=float, default=1.0)
    parser.add_argument(
        "--products",
        type=_products,
        default=PRODUCTS,
        help="comma-separated: electricity, voucher (default both)",
    )
    parser.add_argument("--fraction", type=float, default=0.8, help="open-loop rate / peak")
    parser.add_argument("--vendors", type=int, default=32, help="bench vendors (own floats)")
    parser.add_argument("--meters", type=int, default=128, help="bench STA meters")
    parser.add_argument(
        "--vouchers", type=int, default=0, help="PINs in stock (default: enough for the runs)"
    )
    parser.add_argument("--pgbench-scale", type=int, default=1)
    parser.add_argument(
        "--pgbench-clients",
        type=int,
        default=0,
        help="default: --connections (the same number of transactions in flight)",
    )
    parser.add_argument("--pgbench-seconds", type=int, default=0, help="default: --seconds")
    parser.add_argument("--no-pgbench", action="store_true", help="skip pgbench")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="with --channel json: XMLVend and JSON peaks alternate this many times per "
        "product (closed loop only), so drifting load on the machine hits both alike",
    )
    parser.add_argument(
        "--channel",
        choices=("xmlvend", "json"),
        default="xmlvend",
        help="json: each product sold over XMLVend and over the JSON API (/api/v1/sales, one "
        "API key per bench vendor) in the same run, and the ratio JSON / XMLVend vends/s",
    )
    parser.add_argument(
        "--server-code",
        metavar="DIR",
        help="run the server from another checkout (e.g. `git archive HEAD` unpacked in DIR) "
        "for before/after comparisons; the bench itself and the seeding use this one",
    )
    return parser.parse_args(argv)


def _cpu_text(meter: CpuMeter, result: Result) -> str:
    if not result.ok:
        return ""
    cpu = meter.spent
    per = {name: seconds / result.ok * 1000 for name, seconds in cpu.items()}
    busy = sum(cpu.values()) / result.seconds
    text = (
        f"CPU ms/vend: server {per['server']:.2f}, postgres {per['postgres']:.2f}, "
        f"load generator {per['loadgen']:.2f}; {busy:.2f} cores busy"
    )
    machine = (sum(cpu.values()) + meter.other) / result.ok * 1000
    text += f"; whole machine {machine:.2f} ms/vend"
    other = meter.other / result.seconds
    if other > 0.1:
        text += f"; WARNING: other processes used {other:.2f} cores meanwhile"
    return text


def _line(label: str, result: Result) -> str:
    errors = f", {result.error_total()} errors {result.errors}" if result.error_total() else ""
    return (
        f"{label:<22} {result.rate:8.1f} vends/s  p50 {result.percentile(50):7.2f} ms  "
        f"p99 {result.percentile(99):7.2f} ms  ({result.ok} vends{errors})"
    )


def _vacuum(url: str, command: str = "VACUUM ANALYZE") -> None:
    """VACUUM ANALYZE the bench database, as pgbench does before each of its runs: every
    run starts from tables without the previous run's dead rows."""
    from sqlalchemy import create_engine

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(command)
    finally:
        engine.dispose()


async def _phase(
    url: str,
    server: ServerProcess,
    product: str,
    templates: list[Template] | list[JsonTemplate],
    msg_ids: MsgIds,
    args: argparse.Namespace,
    meter: CpuMeter,
    *,
    steady_too: bool = True,
) -> Phase:
    _vacuum(url)
    peak = await closed_loop(
        server.host,
        server.port,
        templates,
        msg_ids,
        connections=args.connections,
        seconds=args.seconds,
        warmup=args.warmup,
        window=meter,
    )
    peak_cpu, peak_other = dict(meter.spent), meter.other
    print(_line(f"{product} peak", peak), flush=True)
    print(f"{'':<22} {_cpu_text(meter, peak)}", flush=True)
    steady = None
    steady_cpu: dict[str, float] = {}
    if peak.rate > 0 and steady_too:
        _vacuum(url)
        steady = await open_loop(
            server.host,
            server.port,
            templates,
            msg_ids,
            rate=peak.rate * args.fraction,
            connections=args.connections,
            seconds=args.seconds,
            warmup=args.warmup,
            window=meter,
        )
        steady_cpu = dict(meter.spent)
        label = f"{product} @{args.fraction:.0%} ({peak.rate * args.fraction:.0f}/s)"
        print(_line(label, steady), flush=True)
        print(f"{'':<22} {_cpu_text(meter, steady)}", flush=True)
    return Phase(product, peak, steady, peak_cpu, steady_cpu, peak_other)


def _unmeasured(
    server: ServerProcess,
    mix: list[Template] | list[JsonTemplate],
    msg_ids: MsgIds,
    args: argparse.Namespace,
    seconds: float,
) -> Result:
    """A closed loop of ``seconds`` nobody measures (warm-ups, history)."""
    return asyncio.run(
        closed_loop(
            server.host,
            server.port,
            mix,
            msg_ids,
            connections=args.connections,
            seconds=seconds,
            warmup=0.0,
        )
    )


def _make_history(
    url: str,
    server: ServerProcess,
    templates: dict[str, list[Template]],
    msg_ids: MsgIds,
    args: argparse.Namespace,
) -> int:
    """Unmeasured sales, a second of each product in turn, until ``args.history`` are made:
    a platform in operation has sales, transfers and requests, and the VACUUM ANALYZE before
    the first measured run should see them. Analyzed nearly empty, the tables' statistics
    make every foreign-key check's cached plan a sequential scan, kept until the next ANALYZE
    -- on the bench's first run that cost more PostgreSQL CPU than the sales themselves
    (pg_stat_user_tables: 29,109 sequential scans of ``transfers`` reading 98 million rows in
    one 13-second electricity run), and the runs after it did not pay it."""
    made = 0
    for round_no in range(10 * max(1, args.history // 100)):
        if made >= args.history:
            break
        product = args.products[round_no % len(args.products)]
        made += _unmeasured(server, templates[product], msg_ids, args, 1.0).ok
        _vacuum(url, "ANALYZE")  # as the tables grow, or the history itself crawls
    return made


def _verify_ledger(url: str) -> str:
    from vending.ledger import verify_ledger
    from vending.storage.database import Database

    database = Database(url, pool_size=1)
    try:
        report = database.run_txn("bench_verify", verify_ledger)
    finally:
        database.close()
    if report.ok:
        return f"ok ({report.accounts_checked} accounts, {report.transfers_checked} transfers)"
    return "FAILED: " + "; ".join(report.problems()[:5])


def _batch_counts(host: str) -> dict[str, int]:
    """Transactions run by name, summed over the workers (GET /metrics)."""
    import re
    import urllib.request

    time.sleep(1.5)  # the workers' metrics snapshots are at most a second old
    try:
        with urllib.request.urlopen(f"http://{host}/metrics", timeout=10) as answer:
            text = answer.read().decode()
    except OSError as exc:
        print(f"/metrics unavailable: {exc}", flush=True)
        return {}
    found = re.findall(r'^evd_db_transactions_total\{name="([^"]+)"\} (\d+)', text, re.M)
    return {name: int(count) for name, count in found}


def _mean_batch(url: str, counts: dict[str, int]) -> str:
    """Sales per batch transaction: the sales made in batches (all sales less those run
    alone) over the batches (1.0 and no batches without ``--batching``)."""
    from vending.storage.database import Database

    database = Database(url, pool_size=1)
    try:
        total = database.run_txn(
            "bench_sales",
            lambda txn: txn.conn.exec_driver_sql("SELECT count(*) FROM sales").scalar_one(),
        )
    finally:
        database.close()
    batches = counts.get("sale_batch", 0)
    alone = counts.get("sell_voucher", 0) + counts.get("utility_credit_vend", 0)
    if not batches:
        return f"no batches ({total} sales, one transaction each)"
    return (
        f"{(total - alone) / batches:.2f} sales per batch ({batches} batches, "
        f"{total} sales, {alone} run alone)"
    )


def _rates(phases: list[Phase]) -> dict[str, float]:
    """Peak vends/s per label over all its rounds (vends summed over seconds summed)."""
    vends: dict[str, int] = {}
    seconds: dict[str, float] = {}
    for phase in phases:
        vends[phase.product] = vends.get(phase.product, 0) + phase.peak.ok
        seconds[phase.product] = seconds.get(phase.product, 0.0) + phase.peak.seconds
    return {label: vends[label] / seconds[label] for label in vends if seconds[label]}


def _server_cpu(phases: list[Phase]) -> dict[str, float]:
    """The server processes' CPU milliseconds per vend, per label over all its rounds."""
    spent: dict[str, float] = {}
    vends: dict[str, int] = {}
    for phase in phases:
        spent[phase.product] = spent.get(phase.product, 0.0) + phase.peak_cpu.get("server", 0.0)
        vends[phase.product] = vends.get(phase.product, 0) + phase.peak.ok
    return {label: spent[label] / vends[label] * 1000 for label in spent if vends[label]}


def _api_keys(url: str, vendors: Sequence[Credentials]) -> list[str]:
    """One JSON API key per bench vendor, for its bench operator."""
    from vending.api_keys import create_api_key
    from vending.clock import system_clock
    from vending.storage.database import Database

    database = Database(url, pool_size=1)
    try:
        return [
            database.run_txn(
                "bench_api_key",
                create_api_key,
                vendor_client_id=vendor.client_id,
                operator_name=vendor.op_name or "",
                actor="bench",
                now=system_clock(),
            )[1]
            for vendor in vendors
        ]
    finally:
        database.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    command = "python -m tools.bench " + shlex.join(sys.argv[1:] if argv is None else argv)
    vouchers = args.vouchers or (200_000 if "voucher" in args.products else 0)
    print(f"command: {command}", flush=True)
    print(
        f"machine: {os.cpu_count()} CPUs; evd serve --workers {args.workers}, pool_size "
        f"{args.pool_size}; {args.connections} connections; {args.vendors} vendors, "
        f"{args.meters} meters, {vouchers} {VOUCHER_PRODUCT} PINs",
        flush=True,
    )
    phases: list[Phase] = []
    with bench_database(args.url) as (url, name):
        mark = time.perf_counter()
        seeded = seed(url, vendors=args.vendors, meters=args.meters, vouchers=vouchers)
        print(f"seeded in {time.perf_counter() - mark:.1f} s", flush=True)
        server = ServerProcess(
            url,
            seeded.master_key,
            workers=args.workers,
            pool_size=args.pool_size,
            code_dir=args.server_code,
            extra_config=(
                ""
                if args.batching is None
                else f"[sales]\nbatching = {str(args.batching).lower()}\n"
                f"batch_max_sales = {args.batch_max_sales}\n"
                f"batch_max_wait_ms = {args.batch_max_wait_ms}\n"
            ),
        )
        try:
            server.start()
            meter = CpuMeter(
                {
                    "server": server.pids,
                    "postgres": lambda: postgres_pids(name),
                    "loadgen": lambda: [os.getpid()],
                }
            )
            host = f"{server.host}:{server.port}"
            templates = vend_templates(seeded.vendors, seeded.meters, VOUCHER_PRODUCT, host=host)
            json_mix = None
            if args.channel == "json":
                keys = _api_keys(url, seeded.vendors)
                json_mix = json_templates(keys, seeded.meters, VOUCHER_PRODUCT, host=host)
            msg_ids = MsgIds()
            if args.login_warmup > 0:
                # Unmeasured: every vendor's first request verifies its operator's password
                # (32 scrypt hashes): without this the first product measured pays them.
                for product in args.products:
                    seconds = args.login_warmup / len(args.products)
                    _unmeasured(server, templates[product], msg_ids, args, seconds)
            if args.history > 0:
                made = _make_history(url, server, templates, msg_ids, args)
                print(f"history: {made} sales made before the first ANALYZE", flush=True)
            for product in args.products:
                if json_mix is None:
                    phases.append(
                        asyncio.run(
                            _phase(url, server, product, templates[product], msg_ids, args, meter)
                        )
                    )
                    continue
                # Unmeasured: both channels' caches (operator scrypt, API keys) warm first.
                for mix in (templates[product], json_mix[product]):
                    _unmeasured(server, mix, msg_ids, args, args.warmup)
                for _ in range(args.rounds):
                    for label, mix in (
                        (product, templates[product]),
                        (f"{product} json", json_mix[product]),
                    ):
                        phases.append(
                            asyncio.run(
                                _phase(
                                    url, server, label, mix, msg_ids, args, meter, steady_too=False
                                )
                            )
                        )
            counts = _batch_counts(host)
        finally:
            server.cleanup()
        ledger = _verify_ledger(url)
        print(f"ledger verify: {ledger}", flush=True)
        per_txn = _mean_batch(url, counts)
        print(f"mean batch: {per_txn}", flush=True)
        bench = None
        if not args.no_pgbench:
            clients = args.pgbench_clients or args.connections
            seconds = int(args.pgbench_seconds or args.seconds)
            pgbench.initialise(url, args.pgbench_scale)
            bench = pgbench.run(
                url, clients=clients, threads=2, seconds=seconds, scale=args.pgbench_scale
            )
    print()
    print("summary")
    print(f"  command:   {command}")
    for phase in phases:
        print("  " + _line(f"{phase.product} peak", phase.peak))
        if phase.steady is not None:
            print("  " + _line(f"{phase.product} @{args.fraction:.0%} of peak", phase.steady))
    by_product = _rates(phases)
    for product in args.products:
        xml, json_rate = by_product.get(product), by_product.get(f"{product} json")
        if xml and json_rate is not None:
            print(
                f"  {product}: JSON API / XMLVend peak vends/s: {json_rate / xml:.2f} "
                f"({json_rate:.1f} / {xml:.1f} over {args.rounds} alternating rounds; "
                "target >= 1.0)"
            )
            cpu = _server_cpu(phases)
            if cpu.get(product) and cpu.get(f"{product} json"):
                print(
                    f"  {product}: server CPU ms/vend XMLVend {cpu[product]:.2f}, JSON API "
                    f"{cpu[f'{product} json']:.2f}: CPU ratio XMLVend / JSON "
                    f"{cpu[product] / cpu[f'{product} json']:.2f}"
                )
    if "electricity" in by_product and "voucher" in by_product and by_product["electricity"]:
        print(
            f"  voucher / electricity peak throughput: "
            f"{by_product['voucher'] / by_product['electricity']:.2f}"
        )
    if bench is not None:
        print(
            f"  pgbench:   {bench.tps:.1f} tps, latency {bench.latency_ms:.2f} ms "
            f"(TPC-B-like, scale {bench.scale}, -c {bench.clients} -j {bench.threads} "
            f"-T {bench.seconds})"
        )
        print(
            f"  pgbench CPU: {bench.cpu_ms_per_txn:.2f} ms per transaction, whole machine "
            f"({bench.cores_busy:.2f} cores busy)"
        )
        for phase in phases:
            ratio = phase.peak.rate / bench.tps
            print(f"  ratio {phase.product} vends/s / pgbench tps: {ratio:.2f}")
            cpu = phase.peak_cpu
            if phase.peak.ok and cpu:
                # Both runs are CPU bound, so the ratio follows the CPU each operation costs.
                per_vend = (sum(cpu.values()) + phase.peak_other) / phase.peak.ok * 1000
                print(
                    f"    CPU per {phase.product} vend {per_vend:.2f} ms vs per pgbench "
                    f"transaction {bench.cpu_ms_per_txn:.2f} ms: CPU-bound ratio "
                    f"{bench.cpu_ms_per_txn / per_vend:.2f}"
                )
    print(f"  mean batch: {per_txn}")
    print(f"  ledger verify: {ledger}")
    return 0 if ledger.startswith("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
