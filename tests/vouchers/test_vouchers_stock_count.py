"""The low-stock count reads a product's PINs from the far end of the available-PIN index.

Sales take the earliest-expiring PINs first, so the rows no longer available lie at the start
of the table and of the index. A count "up to the threshold" that read from there walked over
every PIN sold since the last VACUUM on every sale (the batch's start function, migration
0021; the single path's ``vending.vouchers.alerts``). These tests build such a table and
check that each count gives the right number while reading a few pages.
"""

from __future__ import annotations

import importlib
import json
from datetime import date
from typing import Any

import pytest
from sqlalchemy import text
from voucher_support import GpgKeys, build_stock_world

from vending.products import get_product
from vending.storage import migrate
from vending.storage.database import Database, Txn
from vending.vouchers import alerts

pytestmark = pytest.mark.postgres

TODAY = date(2026, 12, 6)
GONE, LEFT = 20_000, 3_000  # rows no longer available (at the start), rows available

_0021 = importlib.import_module("vending.storage.migrations.versions.0021_stock_count_far_end")


def _fill(txn: Txn, product: int) -> None:
    txn.conn.exec_driver_sql(
        """
        INSERT INTO vouchers (supplier_id, product_id, import_id, batch_seq, serial_no,
                              pin_key_id, pin_ciphertext, pin_hash, expiry, state)
        SELECT 1, %(product)s, 1, 1, 'S' || g, 1, '\\x00'::bytea,
               decode(md5('pin' || g), 'hex'), DATE '2027-01-01' + g / 1000,
               CASE WHEN g <= %(gone)s THEN 'quarantined' ELSE 'available' END
        FROM generate_series(1, %(total)s) AS g
        """,
        {"product": product, "gone": GONE, "total": GONE + LEFT},
    )


@pytest.fixture
def stocked(pg_database: Database, gpg_keys: GpgKeys) -> tuple[Database, int]:
    """AIR-10 with GONE rows no longer available, then LEFT available, analyzed."""
    pg_database.run_txn("stock_world", build_stock_world, gpg_keys.supplier_key())
    product = pg_database.run_txn("product", lambda txn: get_product(txn, "AIR-10")).id
    pg_database.run_txn("fill", _fill, product)
    with pg_database.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE vouchers")
    return pg_database, product


def _pages_read(database: Database, sql: str, params: dict[str, Any]) -> tuple[int, int]:
    """(the count, shared pages hit or read) of ``sql`` run under EXPLAIN ANALYZE."""

    def explain(txn: Txn) -> Any:
        return txn.conn.exec_driver_sql(
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, params
        ).scalar_one()

    plan = database.run_txn("explain", explain)
    plan = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]
    count = database.run_txn("count", lambda txn: txn.conn.exec_driver_sql(sql, params).scalar())
    return int(count), plan["Shared Hit Blocks"] + plan["Shared Read Blocks"]


def _as_statement(count: str) -> str:
    """The start function's count statement ($1 product, $2 day, $3 limit) runnable alone."""
    body = count.strip()
    for number, name in (("$1", "product"), ("$2", "day"), ("$3", "limit")):
        body = body.replace(number, f"%({name})s")
    return body


def test_the_start_functions_count_reads_from_the_far_end(stocked: tuple[Database, int]) -> None:
    stocked, product = stocked
    params = {"product": product, "day": TODAY, "limit": 58}
    count, pages = _pages_read(stocked, _as_statement(_0021.FROM_THE_FAR_END), params)
    old_count, old_pages = _pages_read(stocked, _as_statement(_0021.FROM_THE_START), params)
    assert count == old_count == 58
    assert pages <= 10 < old_pages, (pages, old_pages)


def test_the_single_paths_count_reads_from_the_far_end(stocked: tuple[Database, int]) -> None:
    stocked, product = stocked
    for limit in (51, LEFT + 5):  # the threshold + 1; more than there are
        found = stocked.run_txn("count", alerts.count_sellable, product, TODAY, limit=limit)
        assert found == min(limit, LEFT)

    def level(txn: Txn) -> Any:
        alerts.ensure_threshold(txn, product, 50)
        return txn.conn.exec_driver_sql(
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + alerts._LEVEL_SQL,
            {"product": product, "today": TODAY},
        ).scalar_one()

    plan = stocked.run_txn("level", level)
    plan = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]
    assert plan["Shared Hit Blocks"] + plan["Shared Read Blocks"] <= 15


def test_0021_changes_only_the_count_and_goes_back(pg_database: Database) -> None:
    database = pg_database
    try:
        _down_and_up(database)
    finally:  # the database is shared by the worker's later tests: leave it at head
        migrate.upgrade(database.engine)


def _down_and_up(database: Database) -> None:
    def definition() -> str:
        with database.engine.connect() as conn:
            return str(
                conn.execute(
                    text("SELECT pg_get_functiondef('evd_sale_batch_start'::regproc)")
                ).scalar_one()
            )

    assert "ORDER BY product_id DESC, expiry DESC, id DESC" in definition()
    migrate.downgrade(database.engine, "0020_sale_batch_start")
    first = definition()
    assert "ORDER BY product_id DESC" not in first and "LIMIT $3" in first
    migrate.upgrade(database.engine)
    assert migrate.current_revision(database.engine) == migrate.head_revision()
    assert definition().replace(_0021.FROM_THE_FAR_END.strip(), "") == first.replace(
        _0021.FROM_THE_START.strip(), ""
    )
