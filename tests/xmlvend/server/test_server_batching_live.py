"""Batched sales through ``evd serve --workers 2`` on PostgreSQL (issue 16): 16 clients
buying electricity (three meters) and PINs at once, as two vendors, with ``[sales]
batching`` on. Both workers batch and contend for the same meters and vendor accounts: no
deadlock left unresolved, every sale answered once, no TID or PIN twice, retries replayed
byte for byte, balances exact, the ledger verified, and sales really shared transactions."""

from __future__ import annotations

import http.client
import re
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import urlopen

import pytest
from live_support import ServerProcess, write_config
from server_support import (
    CAFE,
    CAFE_OPERATOR,
    MISTY_METER,
    NORMAL_METER,
    PLATFORM,
    PLATFORM_OPERATOR,
    HTTPResponse,
    check_response,
    credit_vend,
    import_vouchers,
    seed_vouchers,
    voucher_vend,
)
from sqlalchemy import func, select

from utilities.demo import seed_utilities
from utilities.tables import issued_tokens
from vending.clock import system_clock
from vending.demo import seed_core
from vending.keyring import Keyring, MasterKey
from vending.ledger import verify_ledger
from vending.storage.database import Database
from vending.storage.schema import sales
from xmlvend.codec import parse_response, render_request
from xmlvend.codec import types_base as b
from xmlvend.codec import types_revenue as r

pytestmark = pytest.mark.slow

CLIENTS = 16
SALES_EACH = 6
METERS = (NORMAL_METER, MISTY_METER, "04100000126")
BATCHING = "[sales]\nbatching = true\nbatch_max_sales = 16\nbatch_max_wait_ms = 2.0\n"


def post(url: str, body: bytes) -> HTTPResponse:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request("POST", parts.path, body, {"Content-Type": "text/xml; charset=utf-8"})
        answer = connection.getresponse()
        return HTTPResponse(answer.status, dict(answer.getheaders()), answer.read())
    finally:
        connection.close()


def test_batched_sales_two_workers(
    pg_database: Database, tmp_path: Path, secrets_sentinel: Any
) -> None:
    master = MasterKey.generate()
    # A real evd serve stamps with the system clock: the seed uses the same one.
    keyring = Keyring(master, clock=system_clock)
    now = system_clock()
    pg_database.run_txn("seed_core", seed_core, now=now, password_log_n=10)
    pg_database.run_txn("seed_utilities", seed_utilities, keyring, now=now)
    pg_database.run_txn("seed_vouchers", seed_vouchers, now=now)
    import_vouchers(pg_database, keyring, "AIR-DEMO-10", CLIENTS * SALES_EACH, secrets_sentinel)
    config = write_config(tmp_path, BATCHING, database_url=pg_database.url)
    server = ServerProcess.start(
        config, "--workers", "2", env={"EVD_MASTER_KEY": master.to_base64()}
    )
    results: list[tuple[bytes, HTTPResponse]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def client(index: int) -> None:
        vendor, operator = (CAFE, CAFE_OPERATOR) if index % 2 else (PLATFORM, PLATFORM_OPERATOR)
        try:
            last = b""
            for sale in range(SALES_EACH):
                header = b.RequestHeader(
                    client_id=b.EANDeviceID(ean=vendor),
                    terminal_id=b.GenericDeviceID(id=f"T{index}"),
                    msg_id=b.MsgID(
                        date_time="20261122100000", unique_number=str(index * 100 + sale + 1)
                    ),
                    auth_cred=b.AuthCred(op_name=operator[0], password=operator[1]),
                )
                if sale % 2:
                    request = voucher_vend(header)
                else:
                    request = credit_vend(header, METERS[(index + sale) % 3], "10.00")
                last = render_request(request)
                response = post(server.url, last)
                with lock:
                    results.append((last, response))
            again = post(server.url, last)  # a client that timed out sends it again
            with lock:
                results.append((last, again))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    try:
        assert not errors, errors
        answers: dict[bytes, bytes] = {}
        for request, response in results:
            check_response(response)
            assert response.status == 200, response.body
            if request in answers:
                assert answers[request] == response.body
            answers[request] = response.body
        assert len(answers) == CLIENTS * SALES_EACH
        sold = [parse_response(body) for body in answers.values()]
        assert all(isinstance(s, r.CreditVendResp) for s in sold)
        receipts = {s.credit_vend_receipt.receipt_no for s in sold}
        assert len(receipts) == CLIENTS * SALES_EACH
        pins = [body for body in answers.values() if b"pin=" in body]
        assert len(pins) == CLIENTS * SALES_EACH // 2
        assert len({p.split(b'pin="')[1][:16] for p in pins}) == len(pins)

        def facts(txn: Any) -> tuple[int, int, Any]:
            count = txn.execute(select(func.count()).select_from(sales)).scalar_one()
            tids = txn.execute(
                select(issued_tokens.c.meter_id, issued_tokens.c.tid).where(
                    issued_tokens.c.kind == "sale"
                )
            ).all()
            assert len(tids) == len(set(tids)) == CLIENTS * SALES_EACH // 2
            return count, len(tids), verify_ledger(txn)

        count, _, ledger = pg_database.run_txn("facts", facts)
        assert count == CLIENTS * SALES_EACH
        assert ledger.ok, ledger.problems
        time.sleep(1.5)  # the workers' /metrics snapshots are at most a second old
        metrics = (
            urlopen(f"http://{urlsplit(server.url).netloc}/metrics", timeout=10).read().decode()
        )
        batches = dict(
            re.findall(r'^evd_db_transactions_total\{name="([^"]+)"\} (\d+)', metrics, re.M)
        )
        assert 0 < int(batches["sale_batch"]) < count, "no two sales ever shared a transaction"
    finally:
        assert server.stop() == 0, server.output()
