"""Benchmark: card purchases per second through the acquirer-host simulator with 50 ms of
switch latency, divided by the same with none (target >= 0.8: concurrency, not threads,
bounds the checkout -- a purchase waiting on the switch holds no thread).

    .venv/bin/python -m tools.bench_cards [--seconds 8] [--concurrency 16] [--latency-ms 50]
                                          [--url postgresql://...]

It creates its own PostgreSQL database (demo data and bench meters), then twice: starts
``evd simulate-switch`` (no latency, then ``--latency-ms``) and ``evd serve`` with cards
on, and keeps ``--concurrency`` keep-alive clients posting electricity checkouts (unique
references, R20 each) for ``--seconds``; it prints both rates and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time

from tools.benchkit.seed import DEFAULT_URL, bench_database, seed
from tools.benchkit.server import ServerProcess, free_port

CARD = {"number": "4111111111111111", "expiry": "2912", "cvv": "123"}


async def _client(
    port: int, meters: list[str], prefix: str, stop_at: float, counts: dict[str, int], n: int
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    index = 0
    try:
        while time.monotonic() < stop_at:
            index += 1
            body = json.dumps(
                {
                    "reference": f"{prefix}-{n}-{index}",
                    "product": "ELEC-DEMO",
                    "target": meters[(n + index) % len(meters)],
                    "amount": "20.00",
                    "card": CARD,
                }
            ).encode()
            writer.write(
                b"POST /checkout HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            key = "sold" if status == 201 else f"http {status}"
            counts[key] = counts.get(key, 0) + 1
    finally:
        writer.close()


async def _load(port: int, meters: list[str], prefix: str, seconds: float, n: int) -> dict:  # type: ignore[type-arg]
    counts: dict[str, int] = {}
    stop_at = time.monotonic() + seconds
    await asyncio.gather(*(_client(port, meters, prefix, stop_at, counts, i) for i in range(n)))
    return counts


def run_once(url: str, bench, latency_ms: float, args) -> float:  # type: ignore[no-untyped-def]
    switch_port = free_port()
    switch = subprocess.Popen(
        [sys.executable, "-m", "vending.cli.main", "simulate-switch", "--port", str(switch_port),
         "--latency-ms", str(latency_ms)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert switch.stdout is not None
    switch.stdout.readline()
    server = ServerProcess(url, bench.master_key, workers=1, pool_size=16)
    server._env.update(
        {
            "EVD__CARDS__ENABLED": "true",
            "EVD__CARDS__SWITCH_PORT": str(switch_port),
            "EVD__CARDS__CHECKOUT_VENDOR": bench.vendors[0].client_id,
            "EVD__CARDS__CHECKOUT_OPERATOR": bench.vendors[0].op_name or "",
        }
    )
    server.start()
    try:
        time.sleep(1.0)  # sign-on
        asyncio.run(_load(server.port, list(bench.meters), f"warm{latency_ms}", 1.5, 4))
        counts = asyncio.run(
            _load(server.port, list(bench.meters), f"run{latency_ms}", args.seconds,
                  args.concurrency)
        )  # fmt: skip
    finally:
        server.stop()
        switch.terminate()
        switch.wait()
    rate = counts.get("sold", 0) / args.seconds
    others = {k: v for k, v in counts.items() if k != "sold"}
    print(f"switch latency {latency_ms:5.0f} ms: {rate:7.1f} purchases/s  (other answers {others})")
    return rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--url", default=os.environ.get("EVD_BENCH_POSTGRES_URL", DEFAULT_URL))
    args = parser.parse_args(argv)
    with bench_database(args.url, prefix="evd_bench_cards") as (url, _name):
        bench = seed(url, vendors=1, meters=64, vouchers=0)
        base = run_once(url, bench, 0.0, args)
        slow = run_once(url, bench, args.latency_ms, args)
    print(f"ratio {args.latency_ms:.0f} ms / none: {slow / base:.2f}  (target >= 0.8)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
