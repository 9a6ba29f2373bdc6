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
_0022 = importlib.import_module("vending.storage.migrations.versions.0022_start_plans_kept")


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


def _definition(database: Database) -> str:
    with database.engine.connect() as conn:
        return str(
            conn.execute(
                text("SELECT pg_get_functiondef('evd_sale_batch_start'::regproc)")
            ).scalar_one()
        )


def _down_and_up(database: Database) -> None:
    migrate.downgrade(database.engine, "0021_stock_count_far_end")
    far = _definition(database)
    assert "ORDER BY product_id DESC, expiry DESC, id DESC" in far
    migrate.downgrade(database.engine, "0020_sale_batch_start")
    first = _definition(database)
    assert "ORDER BY product_id DESC" not in first and "LIMIT $3" in first
    migrate.upgrade(database.engine, "0021_stock_count_far_end")
    assert _definition(database) == far
    assert far.replace(_0021.FROM_THE_FAR_END.strip(), "") == first.replace(
        _0021.FROM_THE_START.strip(), ""
    )


def test_0022_keeps_the_counts_plan_and_goes_back(pg_database: Database) -> None:
    """At head the start function's stock count is static SQL (PL/pgSQL keeps its plan)
    and the function runs on generic plans; the PIN selections stay dynamic. 0022's
    downgrade gives 0021's function back as it was."""
    database = pg_database
    try:
        kept = _definition(database)
        assert kept.count("EXECUTE $q$") == 2 and "INTO v_sellable" in kept
        assert "SET plan_cache_mode TO 'force_generic_plan'" in kept
        assert "LIMIT v_threshold + 1 + p_counts[i]" in kept
        migrate.downgrade(database.engine, "0021_stock_count_far_end")
        dynamic = _definition(database)
        assert dynamic.count("EXECUTE $q$") == 3 and "plan_cache_mode" not in dynamic
        migrate.upgrade(database.engine)
        assert _definition(database) == kept
    finally:
        migrate.upgrade(database.engine)


def _plan_nodes(plan: dict[str, Any]) -> list[str]:
    return [plan["Node Type"], *(n for p in plan.get("Plans", ()) for n in _plan_nodes(p))]


def test_the_kept_count_plan_reads_the_index_backwards(stocked: tuple[Database, int]) -> None:
    """On a table with thousands of PINs gone before the available ones, the count's
    generic plan (the one 0022 keeps) reads the available-PIN index backwards and stops at
    its limit. (The PIN selection's generic plan, tried the same way, sorted the product's
    available PINs in some runs, with some samples of the statistics: 0022 leaves it
    planned with the actual values.)"""
    which, types, values = 2, "bigint, date, integer", (TODAY, 58)
    database, product = stocked
    body = list(_0022._DYNAMIC.finditer(_0021.start_function(_0021.FROM_THE_FAR_END)))[which]
    arguments = ", ".join(f"%(a{n})s" for n in range(len(values) + 1))
    params = {f"a{n}": v for n, v in enumerate((product, *values))}

    def explain(txn: Txn) -> Any:
        conn = txn.conn
        conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
        conn.exec_driver_sql(f"PREPARE kept_{which} ({types}) AS {body.group('body')}")
        try:
            return conn.exec_driver_sql(
                f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE kept_{which} ({arguments})",
                params,
            ).scalar_one()
        finally:
            conn.exec_driver_sql(f"DEALLOCATE kept_{which}")

    plan = database.run_txn("explain", explain)
    plan = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]
    nodes = _plan_nodes(plan)
    assert "Sort" not in nodes and "Seq Scan" not in nodes, nodes
    assert "Index Only Scan" in nodes or "Index Scan" in nodes, nodes
    assert plan["Plans"][0]["Plans"][0]["Scan Direction"] == "Backward", plan
    assert plan["Shared Hit Blocks"] + plan["Shared Read Blocks"] <= 15
    assert plan["Actual Rows"] == 1
