"""Concurrency on PostgreSQL (and SQLite where it can express it): no lost update, no
overdraft, one sale per request however many copies race, keys created once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fixed_clock import NOW
from sqlalchemy import func, select
from vending_support import (
    VENDOR,
    add_vendor,
    assert_ledger_consistent,
    balance,
    build_world,
    house,
    order_for,
    run,
)

from vending.errors import InsufficientFunds
from vending.keyring import Keyring, MasterKey
from vending.money import Money
from vending.requests import Claim, StoredResponse, claim_request, store_response
from vending.sales import record_sale
from vending.storage.database import Database, Txn
from vending.storage.schema import accounts, data_keys, ledger_entries, sales, transfers
from vending.vendors import adjust_vendor_balance

THREADS = 8


def _race(threads: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` on ``threads`` threads released at the same moment."""
    barrier = threading.Barrier(threads)

    def start(i: int) -> Any:
        barrier.wait(timeout=30)
        return work(i)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(start, range(threads)))


def test_concurrent_debits_never_overdraw(pg_database: Database) -> None:
    """8 threads x 200 one-cent debits against R3.00 + R2.00 credit: exactly 500 succeed,
    the balance ends at exactly -R2.00 and never went below it at any point."""
    db = pg_database
    run(db, add_vendor, VENDOR, deposit="3.00", limit="2.00")
    debit = Money(-1, "ZAR")

    def worker(_: int) -> tuple[int, int]:
        ok = refused = 0
        for _n in range(200):
            try:
                db.run_txn(
                    "debit", adjust_vendor_balance, VENDOR, debit, reason="race", actor="t", now=NOW
                )
                ok += 1
            except InsufficientFunds:
                refused += 1
        return ok, refused

    results = _race(THREADS, worker)
    successes = sum(ok for ok, _ in results)
    assert successes == 500
    assert sum(refused for _, refused in results) == THREADS * 200 - 500
    assert balance(db, f"vendor:{VENDOR}") == -200
    assert balance(db, house("bank")) == 200

    def journal(txn: Txn) -> tuple[int, int]:
        vendor_id = txn.execute(
            select(accounts.c.id).where(accounts.c.code == f"vendor:{VENDOR}")
        ).scalar_one()
        lowest, count = txn.execute(
            select(func.min(ledger_entries.c.balance_after), func.count()).where(
                ledger_entries.c.account_id == vendor_id
            )
        ).one()
        return int(lowest), int(count)

    lowest, entries = db.run_txn("journal", journal)
    assert lowest == -200
    assert entries == 1 + 500  # the deposit and every successful debit
    # Every balance_after is distinct: no two debits saw the same balance (no lost update).
    distinct = db.run_txn(
        "distinct",
        lambda txn: txn.execute(
            select(func.count(func.distinct(ledger_entries.c.balance_after))).where(
                ledger_entries.c.role == "withdrawal", ledger_entries.c.amount == -1
            )
        ).scalar_one(),
    )
    assert distinct == 500
    assert_ledger_consistent(db)


def test_same_request_racing_makes_one_sale(database: Database, keyring: Keyring) -> None:
    """8 copies of one request (same client, request id and fingerprint) at once: one sale,
    one transfer, and every copy answers with the same bytes (one fresh, seven replays)."""
    db = database
    run(db, build_world)
    transfers_before = db.run_txn(
        "n", lambda txn: txn.execute(select(func.count()).select_from(transfers)).scalar_one()
    )

    def vend(txn: Txn) -> tuple[bytes, int, bool]:
        claimed = claim_request(
            txn,
            keyring,
            channel="xmlvend",
            client_id=VENDOR,
            request_id="same-request",
            operation="creditVend",
            fingerprint=b"\x07" * 32,
            now=NOW,
        )
        if isinstance(claimed, StoredResponse):
            return claimed.body, claimed.http_status, True
        assert isinstance(claimed, Claim)
        result = record_sale(txn, claimed, order_for(txn, "AIR10"), created_by="t", now=NOW)
        body = b"<receipt no=%d balance=%d/>" % (result.sale.id, result.vendor_balance.amount)
        store_response(txn, keyring, claimed, body, now=NOW)
        return body, 200, False

    results = _race(THREADS, lambda _i: db.run_txn("vend", vend))
    assert [replayed for _body, _status, replayed in results].count(False) == 1
    assert len({(body, status) for body, status, _ in results}) == 1
    assert (
        db.run_txn(
            "sales", lambda txn: txn.execute(select(func.count()).select_from(sales)).scalar_one()
        )
        == 1
    )
    assert (
        db.run_txn(
            "n", lambda txn: txn.execute(select(func.count()).select_from(transfers)).scalar_one()
        )
        == transfers_before + 1
    )
    assert balance(db, f"vendor:{VENDOR}") == 10000 - 960
    assert_ledger_consistent(db)


def test_first_data_key_races_do_not_fail(pg_database: Database) -> None:
    """Several processes (own Keyring each, same master key) storing their first responses
    at once on a fresh database all succeed: none fails on a duplicate data key id."""
    db = pg_database
    key = MasterKey.generate()
    keyrings = [Keyring(key, clock=lambda: NOW) for _ in range(THREADS)]

    def store(i: int) -> int:
        def work(txn: Txn) -> int:
            claimed = claim_request(
                txn,
                keyrings[i],
                channel="xmlvend",
                client_id="C",
                request_id=f"r{i}",
                operation="op",
                fingerprint=b"\x00" * 32,
                now=NOW,
            )
            assert isinstance(claimed, Claim)
            store_response(txn, keyrings[i], claimed, b"body %d" % i, now=NOW)
            return claimed.request_pk

        return db.run_txn("store", work)

    assert len(set(_race(THREADS, store))) == THREADS
    # Usually one key; a process that looked just before another committed its key may
    # start a second one, which is harmless.
    keys = db.run_txn(
        "keys", lambda txn: txn.execute(select(func.count()).select_from(data_keys)).scalar_one()
    )
    assert 1 <= keys <= THREADS
    for i in range(THREADS):
        replay = db.run_txn(
            "replay",
            lambda txn, i=i: claim_request(
                txn,
                Keyring(key, clock=lambda: NOW),
                channel="xmlvend",
                client_id="C",
                request_id=f"r{i}",
                operation="op",
                fingerprint=b"\x00" * 32,
                now=NOW,
            ),
        )
        assert replay == StoredResponse(b"body %d" % i, 200)
