"""PostgreSQL: buyers racing for the last PINs each get a different one, exactly once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from voucher_support import StockWorld, build_stock_world, zar

from vending.errors import OutOfStock
from vending.keyring import Keyring
from vending.storage.database import Database
from vending.vouchers.tables import vouchers

BUYERS = 16
PINS = 100


@pytest.fixture
def pg_world(
    pg_database: Database, keyring: Keyring, gpg_keys: object, secrets_sentinel: object
) -> StockWorld:
    pg_database.run_txn("stock_world", build_stock_world, None)
    return StockWorld(pg_database, keyring, secrets_sentinel)


def test_sixteen_buyers_race_for_a_hundred_pins(pg_world: StockWorld) -> None:
    world = pg_world
    rows = world.rows(PINS)
    world.import_rows(rows)
    before = world.vendor_balance()
    barrier = threading.Barrier(BUYERS)

    def buyer(_: int) -> tuple[list[str], int]:
        pins: list[str] = []
        barrier.wait(timeout=30)
        while True:
            try:
                pins.append(world.sell().voucher.pin)
            except OutOfStock:
                return pins, 1

    with ThreadPoolExecutor(max_workers=BUYERS) as pool:
        results = list(pool.map(buyer, range(BUYERS)))
    pins = [pin for bought, _ in results for pin in bought]
    assert len(pins) == PINS
    assert set(pins) == {row.pin for row in rows}  # 100 sales, 100 distinct PINs
    assert sum(told for _, told in results) == BUYERS  # everyone was told: out of stock
    assert sum(1 for bought, _ in results if bought) > 1  # the sales really interleaved
    assert world.count(vouchers, vouchers.c.state == "sold") == PINS
    assert world.vendor_balance() == before - zar("970.00")  # 100 x (10.00 - 3%)
    world.assert_ledger_clean()
