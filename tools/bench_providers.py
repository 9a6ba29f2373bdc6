"""Benchmark: recharge sales per second through a simulated provider with 200 ms latency
divided by the same with none, 64 sales in flight (issue 14 §8, target >= 0.8: concurrency,
not threads, bounds it).

    .venv/bin/python -m tools.bench_providers [--sales 1500] [--in-flight 64]
        [--latency-ms 200] [--url postgresql://...]

Starts two ``evd simulate-provider recharge`` processes (latency 0 and --latency-ms), seeds
a fresh PostgreSQL database per run (the catalogue's demo data, 16 vendors, one provider),
and drives the real path in this process: RechargeSales -> Fulfilment (claim, hold in
suspense, execute over the HTTP/JSON client, settle, store the answer) with the database on
its thread pool, ``--in-flight`` sales at a time on one reactor thread. Prints both rates
and their ratio, measured side by side in one run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import create_engine

from tools.benchkit.provider_sim import (
    sell_airtel_through_simulator,
    start_recharge_simulator,
)
from tools.benchkit.seed import DEFAULT_URL, bench_database

VENDORS = 16


class _Renderer:
    def provider_sale(self, request: Any, sold: Any) -> Any:
        from vending.requests import StoredResponse

        body = {"order": sold.order_id, "state": sold.state, "ref": sold.operator_ref}
        return StoredResponse(json.dumps(body).encode(), http_status=200)

    def load(self, request_body: bytes) -> Any:
        return json.loads(request_body)


def _seed(url: str, provider_url: str, keyring: Any) -> list[Any]:
    from vending.auth import Principal
    from vending.money import Money
    from vending.storage import migrate
    from vending.storage.database import Database, Txn
    from vending.vendors import adjust_vendor_balance, create_vendor, get_vendor

    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    db = Database(url, pool_size=8)
    now = datetime.now(UTC)

    def seed(txn: Txn) -> list[Principal]:
        sell_airtel_through_simulator(txn, keyring, provider_url, timeout_ms=5000, now=now)
        principals = []
        for i in range(VENDORS):
            client_id = f"BENCH{i:02d}"
            create_vendor(txn, client_id=client_id, name=f"Bench {i}", currency="INR", now=now)
            adjust_vendor_balance(
                txn, client_id, Money(10**10, "INR"), reason="bench", actor="bench", now=now
            )
            v = get_vendor(txn, client_id)
            principals.append(
                Principal(v.id, client_id, v.name, "", v.account_id, "INR", None, None)
            )
        return principals

    principals = db.run_txn("bench_seed", seed)
    db.close()
    return principals


def _run(url: str, provider_url: str, sales: int, in_flight: int) -> float:
    from twisted.internet import reactor
    from twisted.internet.defer import DeferredSemaphore, ensureDeferred, gatherResults

    from catalogue.adapters.tasks import ReactorScheduler
    from catalogue.adapters.wiring import CALLBACK_PARSERS, build_clients
    from catalogue.fulfilment import Fulfilment
    from vending.clock import system_clock as utcnow
    from vending.keyring import Keyring, MasterKey
    from vending.money import Money
    from vending.requests import RequestKey
    from vending.services.context import RequestContext
    from vending.services.recharge_sales import RechargeRequest, RechargeSales
    from vending.services.rendering import Renderers
    from vending.storage.database import Database
    from xmlvend.transport.asyncdb import AsyncDatabase

    keyring = Keyring(MasterKey.generate(), clock=utcnow)
    principals = _seed(url, provider_url, keyring)
    db = Database(url, pool_size=8)
    renderer = _Renderer()
    runner = AsyncDatabase(reactor, db)
    fulfilment = Fulfilment(
        runner,
        keyring,
        utcnow,
        ReactorScheduler(reactor),
        build_clients(reactor, db, keyring, utcnow),
        Renderers({"json": renderer}),
        callback_parsers=CALLBACK_PARSERS,
    )
    service = RechargeSales(runner, fulfilment, utcnow)

    def request(i: int) -> RechargeRequest:
        who = principals[i % len(principals)]
        raw = json.dumps({"id": i}).encode()
        key = RequestKey("json", who.client_id, f"b-{i}", "sale", hashlib.sha256(raw).digest())
        ctx = RequestContext(key, who, "T1", {"id": i}, raw, utcnow())
        # Numbers ending 0: the simulator recharges them at once (see tools.simulators).
        number = f"98100{i % 10000:04d}0"
        return RechargeRequest(ctx, number, Money(19_900, "INR"), operator="AT", circle="DL")

    # Warm up (connections, caches) before the clock starts.
    warm = [request(sales + i) for i in range(in_flight)]
    semaphore = DeferredSemaphore(in_flight)
    timing: dict[str, float] = {}

    def go() -> Any:
        def one(req: RechargeRequest) -> Any:
            return semaphore.run(lambda: ensureDeferred(service.sell(req, renderer)))

        d = gatherResults([one(r) for r in warm], consumeErrors=True)

        def timed(_: Any) -> Any:
            timing["start"] = time.perf_counter()
            return gatherResults([one(request(i)) for i in range(sales)], consumeErrors=True)

        d.addCallback(timed)
        d.addCallback(lambda _: timing.__setitem__("end", time.perf_counter()))
        d.addErrback(lambda f: print(f.getTraceback(), file=sys.stderr))
        d.addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(go)
    reactor.run()
    if os.environ.get("EVD_BENCH_STATS"):
        for name, stats in sorted(db.stats.by_name.items()):
            print(
                f"  {name}: {stats.count} x {1000 * stats.seconds / max(1, stats.count):.1f} ms"
                f", {stats.retries} retries",
                file=sys.stderr,
            )
    db.close()
    return sales / (timing["end"] - timing["start"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench_providers", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--sales", type=int, default=1500)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--url", default=os.environ.get("EVD_BENCH_POSTGRES_URL", DEFAULT_URL))
    parser.add_argument("--run", help=argparse.SUPPRESS)  # one measurement, in a child
    args = parser.parse_args(argv)
    if args.run:
        with bench_database(args.url, prefix=f"evd_bench_prov_{args.run[:1]}") as (url, _):
            rate = _run(url, args.run, args.sales, args.in_flight)
        print(f"RATE {rate:.1f}")
        return 0
    rates = {}
    for latency in (0.0, args.latency_ms):
        sim, sim_url = start_recharge_simulator(latency)
        try:
            # Each measurement in its own process: a Twisted reactor runs once per process.
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "tools.bench_providers",
                    "--run",
                    sim_url,
                    "--sales",
                    str(args.sales),
                    "--in-flight",
                    str(args.in_flight),
                    "--url",
                    args.url,
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        finally:
            sim.terminate()
            sim.wait()
        rates[latency] = float(out.rsplit("RATE ", 1)[1])
        print(
            f"provider latency {latency:5.0f} ms: {rates[latency]:7.1f} sales/s "
            f"({args.sales} sales, {args.in_flight} in flight)"
        )
    ratio = rates[args.latency_ms] / rates[0.0]
    print(f"ratio {args.latency_ms:.0f} ms / none: {ratio:.2f} (target >= 0.8)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
