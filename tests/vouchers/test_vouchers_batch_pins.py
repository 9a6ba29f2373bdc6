"""The sale batch's start function chooses a product's PINs (migration 0024): by a statement on
the vouchers alone, then reads them by id. What a batch gets must be what it got when one
statement did both: the earliest-expiring sellable PINs first (expiry, then id), then PINs
without expiry (id), never an expired or a locked one, each locked for the batch, with the
batch number and supplier code a receipt needs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from batch_start_support import start_batch
from fixed_clock import TODAY
from sqlalchemy import text
from voucher_support import SUPPLIER, GpgKeys, StockWorld, stock_world

from vending.keyring import Keyring
from vending.products import get_product
from vending.storage.database import Database, Txn

pytestmark = pytest.mark.postgres

DAY = TODAY + timedelta(days=20)  # the selling day (stock is imported before its expiry)


@pytest.fixture
def world(
    pg_database: Database, keyring: Keyring, gpg_keys: GpgKeys, secrets_sentinel: object
) -> StockWorld:
    return stock_world(pg_database, keyring, gpg_keys, secrets_sentinel)


def _stock(world: StockWorld) -> int:
    """AIR-10 on the selling day: 2 expired, 3 dated in two expiries (imported later-expiry
    first), 3 without expiry."""
    world.import_rows(world.rows(2, expiry=DAY - timedelta(days=1)))
    world.import_rows(world.rows(2, expiry=DAY + timedelta(days=90)))
    world.import_rows(world.rows(1, expiry=DAY + timedelta(days=10)))
    world.import_rows(world.undated(3)[1])
    return int(world.db.run_txn("product", lambda txn: get_product(txn, "AIR-10")).id)


def _expected(txn: Txn, product: int, wanted: int) -> list[dict[str, Any]]:
    """The sellable PINs in selling order, as the batch reads them."""
    rows = txn.conn.exec_driver_sql(
        """
        SELECT v.id, v.supplier_id, v.import_id, v.batch_seq, v.serial_no, v.pin_key_id,
               encode(v.pin_ciphertext, 'hex') AS pin_ciphertext, v.expiry::text AS expiry,
               b.batch_no, s.code AS supplier_code
        FROM vouchers v
        JOIN voucher_batches b ON b.import_id = v.import_id AND b.seq = v.batch_seq
        JOIN suppliers s ON s.id = v.supplier_id
        WHERE v.product_id = %(p)s AND v.state = 'available'
          AND (v.expiry IS NULL OR v.expiry >= %(d)s)
        ORDER BY v.expiry NULLS LAST, v.id LIMIT %(n)s
        """,
        {"p": product, "d": DAY, "n": wanted},
    ).mappings()
    return [dict(row) for row in rows]


@pytest.mark.parametrize("wanted", [2, 3, 5, 9])
def test_the_batch_gets_the_sellable_pins_in_selling_order(world: StockWorld, wanted: int) -> None:
    """2: the earliest expiry, then the next by id; 3: every dated one; 5: and the first two
    without expiry; 9: all six, no expired one."""
    product = _stock(world)

    def start(txn: Txn) -> tuple[Any, list[dict[str, Any]]]:
        expected = _expected(txn, product, wanted)
        return start_batch(txn.conn, products=[product], days=[DAY], wanted=[wanted]), expected

    started, expected = world.db.run_txn("start", start)
    (chosen,) = started["vouchers"]
    assert chosen["rows"] == expected
    assert len(expected) == min(wanted, 6)
    assert [r["expiry"] is None for r in expected].count(False) == min(wanted, 3)
    assert {r["supplier_code"] for r in expected} == {SUPPLIER}


def test_the_chosen_pins_are_locked_and_another_batch_skips_them(world: StockWorld) -> None:
    product = _stock(world)
    pins = {"products": [product], "days": [DAY], "wanted": [4]}

    def both(txn: Txn) -> tuple[list[int], list[int]]:
        mine = start_batch(txn.conn, **pins)["vouchers"][0]["rows"]
        with world.db.engine.connect() as other:
            theirs = start_batch(other, **pins)["vouchers"][0]["rows"]
            other.rollback()
        return [r["id"] for r in mine], [r["id"] for r in theirs]

    mine, theirs = world.db.run_txn("two batches", both)
    assert len(mine) == 4 and len(theirs) == 2  # six sellable, four taken
    assert not set(mine) & set(theirs)


def test_the_read_by_id_keeps_its_plan_and_the_choice_reads_the_vouchers_alone(
    pg_database: Database,
) -> None:
    """One dynamic statement per choice (dated, then without expiry) on the vouchers alone;
    the join that reads the chosen PINs is static SQL, planned once per connection."""
    with pg_database.engine.connect() as conn:
        body = str(
            conn.execute(
                text("SELECT pg_get_functiondef('evd_sale_batch_start'::regproc)")
            ).scalar_one()
        )
    dynamic = body.split("EXECUTE $q$")[1:]
    assert len(dynamic) == 2
    for statement in dynamic:
        chosen = statement.split("$q$")[0]
        assert "FROM vouchers v" in chosen and "JOIN" not in chosen
        assert "FOR UPDATE SKIP LOCKED" in chosen
    assert "WHERE v.id = ANY(v_pins)" in body
