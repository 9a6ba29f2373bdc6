"""Benchmark: recharges per second through a bulk file ÷ the same recharges sent one by one
over XMLVend (issue 13 §7, target >= 1.0: bulk must not be slower than the wire).

    .venv/bin/python -m tools.bench_bulk [--rows 10000] [--in-flight 16]
        [--latency-ms 0] [--chunk-rows 20] [--url postgresql://...] [--server-code DIR]

One run, side by side, on one fresh PostgreSQL database (created on the server at ``--url``,
dropped after) and one ``evd serve`` (one worker), with ``evd simulate-provider recharge``
as the operator's provider (``--latency-ms`` per call):

1. **XMLVend**: ``--rows`` creditVendReq with ``ext:ProductIdentifier RCH-AIRTEL`` (a
   PIN-less recharge; the answer carries ``ext:RechargeTx``), one request per sale, from
   ``--in-flight`` keep-alive connections each sending its next as soon as the last is
   answered. Rate: sales / seconds from the first request to the last answer.
2. **Bulk**: the same number of recharges in one bulk file (``POST /api/v1/bulk``, the
   server sells with ``[bulk] concurrency = --in-flight``). Rate: rows / seconds from the
   submit to the status endpoint reporting the batch done.

Both sell through the same services, provider client and database; every sale is real
(claimed, held in suspense, executed at the provider, settled, the answer stored). The
ledger is verified at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import urllib.request
from collections.abc import Sequence
from decimal import Decimal

from tools.benchkit.provider_sim import (
    sell_airtel_through_simulator,
    start_recharge_simulator,
)
from tools.benchkit.seed import DEFAULT_URL, bench_database, ean13, seed
from tools.benchkit.server import ServerProcess
from tools.conformance.profile import Credentials

CLIENT = Credentials(ean13("600470899901"), "1", "bulk1", "bulkbench1")
PRODUCT = "RCH-AIRTEL"
AMOUNT = "199.00"


def _seed_recharge(url: str, master_key: object, provider_url: str) -> str:
    """The catalogue, the simulator as provider of RCH-AIRTEL, an INR vendor with an
    operator (XMLVend) and an API key (bulk). The API key."""
    from vending.api_keys import create_api_key
    from vending.clock import system_clock
    from vending.keyring import Keyring
    from vending.money import Money
    from vending.passwords import hash_password
    from vending.storage.database import Database, Txn
    from vending.vendors import adjust_vendor_balance, create_operator, create_vendor

    keyring = Keyring(master_key, clock=system_clock)  # type: ignore[arg-type]
    now = system_clock()
    database = Database(url, pool_size=2)

    def go(txn: Txn) -> str:
        sell_airtel_through_simulator(txn, keyring, provider_url, timeout_ms=10000, now=now)
        create_vendor(
            txn, client_id=CLIENT.client_id, name="Bulk bench dealer", currency="INR", now=now
        )
        adjust_vendor_balance(
            txn, CLIENT.client_id, Money(10**12, "INR"), reason="bench", actor="bench", now=now
        )
        create_operator(
            txn,
            name=CLIENT.op_name or "",
            password_hash=hash_password(CLIENT.password or "", log_n=10),
            vendor_client_id=CLIENT.client_id,
            actor="bench",
            now=now,
        )
        _, key = create_api_key(
            txn, vendor_client_id=CLIENT.client_id, operator_name="bulk1", actor="bench", now=now
        )
        return key

    try:
        return database.run_txn("bench_bulk_seed", go)
    finally:
        database.close()


def _numbers(rows: int, offset: int) -> list[str]:
    # Airtel Delhi series; a last digit 0: the simulator recharges it at once.
    return [f"98100{(offset + i) % 10000:04d}0" for i in range(rows)]


async def _xmlvend(host: str, port: int, rows: int, in_flight: int) -> float:
    from tools.benchkit.loadgen import MsgIds, Template
    from tools.conformance import builders
    from xmlvend.codec import types_base as b
    from xmlvend.codec import types_ext as ext
    from xmlvend.codec import types_revenue as r

    placeholder = b.MsgID(date_time="20991231235959", unique_number="999999")
    header = builders.request_header(CLIENT, placeholder)
    templates = [
        Template.of(
            r.CreditVendReq(
                header=header,
                resource=ext.Voucher(product_code=PRODUCT),
                id_method=b.VendIDMethod(
                    meter_identifier=ext.ProductIdentifier(product_code=PRODUCT, recipient=number)
                ),
                purchase_value=r.PurchaseValueCurrency(amt=builders.money(Decimal(AMOUNT), "INR")),
            ),
            "recharge",
            f"{host}:{port}",
        )
        for number in _numbers(min(rows, 500), 0)
    ]
    msg_ids = MsgIds()
    next_index = iter(range(rows))
    failures: list[bytes] = []

    async def client() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for i in next_index:
                writer.write(templates[i % len(templates)].render(msg_ids.next()))
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                if not head.startswith(b"HTTP/1.1 200") or b"RechargeTx" not in body:
                    failures.append(head[:40] + body[:300])
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(in_flight)))
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} XMLVend recharges failed, e.g. {failures[0]!r}")
    return rows / elapsed


def _bulk(base: str, api_key: str, rows: int) -> tuple[float, dict[str, int]]:
    from bulk import fileformat

    content = fileformat.write_csv(
        f"BENCH-{os.getpid()}",
        [
            {"product": PRODUCT, "target": n, "amount": AMOUNT, "ref": str(i)}
            for i, n in enumerate(_numbers(rows, 5000))
        ],
    )

    def call(method: str, path: str, body: bytes | None = None) -> dict:
        request = urllib.request.Request(base + path, data=body, method=method)
        request.add_header("Authorization", f"Bearer {api_key}")
        if body is not None:
            request.add_header("Content-Type", "text/csv")
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.loads(answer.read())

    started = time.perf_counter()
    batch = call("POST", "/api/v1/bulk", content)
    accepted = time.perf_counter() - started
    while batch["state"] != "done":
        time.sleep(0.2)  # the status poll's own cadence (at most 0.2 s added to 10,000 rows)
        batch = call("GET", f"/api/v1/bulk/{batch['batch_id']}")
    elapsed = time.perf_counter() - started
    print(f"  bulk submit answered in {accepted * 1000:.0f} ms (batch {batch['batch_id']})")
    return rows / elapsed, batch["counts"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench_bulk", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--in-flight", type=int, default=16)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--chunk-rows", type=int, default=20, help="[bulk] chunk_rows")
    parser.add_argument("--url", default=os.environ.get("EVD_BENCH_POSTGRES_URL", DEFAULT_URL))
    parser.add_argument(
        "--server-code",
        metavar="DIR",
        help="run the server from another checkout (a before/after comparison; same migrations)",
    )
    args = parser.parse_args(argv)

    simulator, provider_url = start_recharge_simulator(args.latency_ms)
    try:
        with bench_database(args.url, prefix="evd_bench_bulk") as (url, _name):
            bench = seed(url, vendors=1, meters=1, vouchers=0, scrypt_log_n=10)
            api_key = _seed_recharge(url, bench.master_key, provider_url)
            server = ServerProcess(
                url,
                bench.master_key,
                workers=1,
                pool_size=8,
                code_dir=args.server_code,
                extra_env={
                    "EVD__SERVER__MAX_BODY_BYTES": str(4 * 1024 * 1024),
                    "EVD__BULK__CONCURRENCY": str(args.in_flight),
                    "EVD__BULK__CHUNK_ROWS": str(args.chunk_rows),
                },
            )
            server.start()
            try:
                wire = asyncio.run(_xmlvend(server.host, server.port, args.rows, args.in_flight))
                print(
                    f"XMLVend one by one: {wire:7.1f} recharges/s "
                    f"({args.rows} creditVendReq, {args.in_flight} in flight)"
                )
                rate, counts = _bulk(f"http://{server.host}:{server.port}", api_key, args.rows)
                print(f"bulk file:          {rate:7.1f} recharges/s ({args.rows} rows: {counts})")
            finally:
                server.stop()
            _verify(url)
    finally:
        simulator.terminate()
        simulator.wait()
    print(f"ratio bulk / XMLVend: {rate / wire:.2f} (target >= 1.0)")
    return 0 if counts["sold"] == args.rows else 1


def _verify(url: str) -> None:
    from vending.ledger import verify_ledger
    from vending.storage.database import Database

    database = Database(url, pool_size=1)
    try:
        problems = database.run_txn("bench_verify", verify_ledger)
        print(f"ledger verified: {'ok' if problems.ok else problems}")
    finally:
        database.close()


if __name__ == "__main__":
    sys.exit(main())
