"""No PIN in clear anywhere: not in any column of any table after imports, sales,
reversals, reprints and refusals, and not in any log record (DEBUG included)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fixed_clock import NOW
from sqlalchemy import MetaData, select
from voucher_support import SUPPLIER, StockWorld

from tools.gen_stock import render_csv
from vending.vouchers.errors import AlreadyImported, StockFileRejected, VoucherStateError
from vending.vouchers.quarantine import release_vouchers
from vending.vouchers.selling import quote_voucher, reprint_voucher


def _text(value: Any) -> str | bytes:
    if isinstance(value, memoryview | bytearray):
        return bytes(value)
    if isinstance(value, bytes | str):
        return value
    return json.dumps(value, default=str)


def _dump_database(world: StockWorld) -> list[tuple[str, str, str | bytes]]:
    """(table, column, value) of every cell of every table, as text or bytes."""
    tables = MetaData()
    tables.reflect(bind=world.db.engine)
    cells = []
    with world.db.engine.connect() as conn:
        for table in tables.sorted_tables:
            for row in conn.execute(select(table)):
                for column, value in row._mapping.items():
                    if value is not None:
                        cells.append((table.name, column, _text(value)))
    return cells


def _exercise(world: StockWorld, tmp_path: Path) -> list[str]:
    """Everything that touches PINs; returns the PINs involved."""
    assert world.keys is not None
    rows = world.rows(8, "AIR-10", "DATA-1GB")
    path = tmp_path / "stock.gpg"
    path.write_bytes(world.keys.encrypt(render_csv(rows)))
    world.import_file(path)
    with pytest.raises(AlreadyImported):
        world.import_file(path)
    refused = world.rows(3)
    text = render_csv(refused).decode().replace(refused[2].pin, rows[0].pin).encode()
    with pytest.raises(StockFileRejected):
        world.import_rows(text)
    sales = [world.sell(code) for code in ("AIR-10", "DATA-1GB", "AIR-10")]
    world.db.run_txn("reprint", reprint_voucher, world.keyring, sales[1].sale.id, now=NOW)
    world.db.run_txn(
        "quote", lambda txn: quote_voucher(txn, product_code="AIR-10", amount=None, now=NOW)
    )
    world.reverse(sales[0].sale.id)
    with pytest.raises(VoucherStateError):  # a reversed sale's PIN never returns to stock
        world.db.run_txn(
            "release",
            release_vouchers,
            supplier_code=SUPPLIER,
            serials=[sales[0].voucher.serial_no],
            reason="reviewed",
            actor="test",
            now=NOW,
        )
    return [row.pin for row in rows + refused]


def test_no_pin_in_clear_in_any_table(world: StockWorld, tmp_path: Path) -> None:
    pins = _exercise(world, tmp_path)
    cells = _dump_database(world)
    assert {table for table, _c, _v in cells} >= {"vouchers", "sales", "audit_log", "requests"}
    # The scan finds a PIN when there is one (text and bytes alike) ...
    assert world.sentinel.find(f"details: {pins[0]}!") == {pins[0]}
    assert world.sentinel.find(b"\x00" + pins[1].encode()) == {pins[1]}
    # ... and there is none in the database.
    leaks = [(table, column) for table, column, value in cells if world.sentinel.find(value)]
    assert leaks == []


def test_no_pin_in_any_log_record(world: StockWorld, tmp_path: Path) -> None:
    """The session-wide capture holds every record, DEBUG included for our loggers and
    python-gnupg's (which logs decrypted data unless filtered)."""
    import logging

    assert logging.getLogger("gnupg").isEnabledFor(logging.DEBUG)
    _exercise(world, tmp_path)
    assert len(world.sentinel.records) > 0
    assert world.sentinel.log_leaks() == []
