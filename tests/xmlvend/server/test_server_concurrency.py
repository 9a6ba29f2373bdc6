"""16 clients vending at once against one vendor account, through ``evd serve --workers 2``
(two processes sharing the port with SO_REUSEPORT) on PostgreSQL: every vend answered,
every token distinct, no sale twice (retries replayed), the vendor's balance exact."""

from __future__ import annotations

import http.client
import json
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from live_support import ServerProcess, write_config
from server_support import (
    CAFE,
    CAFE_OPERATOR,
    MISTY_METER,
    NORMAL_METER,
    NOW,
    HTTPResponse,
    check_response,
    credit_vend,
)
from sqlalchemy import func, select

from utilities.demo import seed_utilities
from vending.demo import seed_core
from vending.keyring import Keyring, MasterKey
from vending.ledger import verify_ledger
from vending.money import Money
from vending.storage.database import Database
from vending.storage.schema import sales
from vending.vendors import get_vendor
from xmlvend.codec import parse_response, render_request
from xmlvend.codec import types_base as b
from xmlvend.codec import types_revenue as r

pytestmark = pytest.mark.slow

CLIENTS = 16
VENDS_EACH = 5
METERS = (NORMAL_METER, MISTY_METER, "04100000126")


def post(url: str, body: bytes) -> HTTPResponse:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request("POST", parts.path, body, {"Content-Type": "text/xml; charset=utf-8"})
        answer = connection.getresponse()
        return HTTPResponse(answer.status, dict(answer.getheaders()), answer.read())
    finally:
        connection.close()


def test_sixteen_clients_one_vendor_two_workers(pg_database: Database, tmp_path: Path) -> None:
    master = MasterKey.generate()
    pg_database.run_txn("seed_core", seed_core, now=NOW, password_log_n=10)
    pg_database.run_txn(
        "seed_utilities", seed_utilities, Keyring(master, clock=lambda: NOW), now=NOW
    )
    before = pg_database.run_txn("vendor", get_vendor, CAFE).balance
    config = write_config(tmp_path, database_url=pg_database.url)
    server = ServerProcess.start(
        config, "--workers", "2", env={"EVD_MASTER_KEY": master.to_base64()}
    )
    results: list[tuple[bytes, HTTPResponse]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def client(index: int) -> None:
        try:
            last = b""
            for vend in range(VENDS_EACH):
                header = b.RequestHeader(
                    client_id=b.EANDeviceID(ean=CAFE),
                    terminal_id=b.GenericDeviceID(id=f"T{index}"),
                    msg_id=b.MsgID(
                        date_time="20261122100000", unique_number=str(index * 100 + vend + 1)
                    ),
                    auth_cred=b.AuthCred(op_name=CAFE_OPERATOR[0], password=CAFE_OPERATOR[1]),
                )
                last = render_request(credit_vend(header, METERS[(index + vend) % 3], "10.00"))
                response = post(server.url, last)
                with lock:
                    results.append((last, response))
            # A client that timed out sends its last request again: the same answer.
            again = post(server.url, last)
            with lock:
                results.append((last, again))
        except BaseException as exc:  # reported below, with the server's output
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    try:
        assert not errors, errors
        assert len(results) == CLIENTS * (VENDS_EACH + 1)
        answers: dict[bytes, bytes] = {}
        for request, response in results:
            check_response(response)
            assert response.status == 200, response.body
            if request in answers:  # the retry: byte for byte the stored answer
                assert answers[request] == response.body
            answers[request] = response.body
        vends = [parse_response(body) for body in answers.values()]
        assert all(isinstance(vend, r.CreditVendResp) for vend in vends)
        tokens = [
            v.credit_vend_receipt.transactions.tx[0].credit_token_issue.token.sts_cipher
            for v in vends
        ]
        assert len(tokens) == len(set(tokens)) == CLIENTS * VENDS_EACH
        receipts = {v.credit_vend_receipt.receipt_no for v in vends}
        assert len(receipts) == CLIENTS * VENDS_EACH

        def facts(txn: Any) -> tuple[int, Money, Any]:
            count = txn.execute(select(func.count()).select_from(sales)).scalar_one()
            return count, get_vendor(txn, CAFE).balance, verify_ledger(txn)

        count, after, ledger = pg_database.run_txn("facts", facts)
        assert count == CLIENTS * VENDS_EACH
        # R10.00 less 2 % commission, 80 times.
        assert after == before - Money(980 * count, "ZAR")
        assert ledger.ok, ledger.problems
        pids = {
            json.loads(line)["pid"]
            for line in server.stdout
            if line.startswith("{") and '"operation":"creditVend"' in line
        }
        assert len(pids) == 2, "both workers should have answered vends"
    finally:
        assert server.stop() == 0, server.output()
