"""A sale that waits for another sale of the same meter reads the meter's debt as that sale
left it (PostgreSQL, READ COMMITTED).

One statement that locks the meter's row and joins its debt row reads the debt as it was
when the statement began: after waiting for the other transaction, PostgreSQL re-reads the
row it locked, not the joined one. A sale then priced its debt recovery on a debt already
partly recovered, and failed ("debt of meter ... is lower than ...", the crash campaign) or
reported a debt the meter no longer owed. Both the single path (``find_meter(for_update)``)
and the sale batch's start function (migration 0023) lock first and read after.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from batch_start_support import start_batch
from utilities_support import NOW, build_world

from utilities.registry import find_meter, reduce_debt, set_debt
from vending.keyring import Keyring
from vending.money import Money
from vending.storage.database import Database, Txn

pytestmark = pytest.mark.postgres

METER = "04100000019"
WAIT = 20.0  # seconds: the longest a step may take on a loaded machine


def _waiting_for_a_lock(database: Database) -> bool:
    with database.engine.connect() as conn:
        return bool(
            conn.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).scalar()
        )


def _read_while_another_sale_recovers_debt(
    database: Database, keyring: Keyring, read: Callable[[Txn], int | None]
) -> int | None:
    """Debt 1,000.00; one transaction locks the meter and recovers 900.00 of it; ``read``
    runs meanwhile, waits for that transaction's lock, and returns the debt it read."""
    build_world(database, keyring)
    database.run_txn("debt", set_debt, METER, Money.parse("1000.00", "ZAR"), now=NOW)
    locked, release = threading.Event(), threading.Event()

    def recover(txn: Txn) -> None:
        meter = find_meter(txn, METER, for_update=True)
        assert meter is not None
        reduce_debt(txn, meter, 90_000, now=NOW)
        locked.set()
        assert release.wait(WAIT)

    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(database.run_txn, "recover", recover)
        assert locked.wait(WAIT)
        second = pool.submit(database.run_txn, "read", read)
        deadline = time.monotonic() + WAIT
        while not _waiting_for_a_lock(database):  # the read waits for the recovery's lock
            assert time.monotonic() < deadline and not second.done()
            time.sleep(0.005)
        release.set()
        first.result(WAIT)
        return second.result(WAIT)


def test_the_single_path_reads_the_debt_after_the_lock(
    pg_database: Database, keyring: Keyring
) -> None:
    def read(txn: Txn) -> int | None:
        meter = find_meter(txn, METER, for_update=True)
        assert meter is not None and meter.debt is not None
        return meter.debt.amount

    assert _read_while_another_sale_recovers_debt(pg_database, keyring, read) == 10_000


def test_the_batch_start_reads_the_debt_after_the_lock(
    pg_database: Database, keyring: Keyring
) -> None:
    def read(txn: Txn) -> int | None:
        (meter,) = start_batch(txn.conn, meters=[METER])["meters"]
        return int(meter["debt_balance"])

    assert _read_while_another_sale_recovers_debt(pg_database, keyring, read) == 10_000
