"""Imports: summary, audit record, progress, refusal of a second import of the same file,
PINs encrypted at rest under rotating data keys with a stable keyed hash."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from fixed_clock import NOW
from sqlalchemy import select
from voucher_support import SUPPLIER, StockWorld, zar

from tools.gen_stock import render_csv
from vending.keyring import Keyring, KeyringError, MasterKey
from vending.storage.schema import audit_log
from vending.vouchers.errors import AlreadyImported
from vending.vouchers.importer import StockUpload
from vending.vouchers.pins import pin_hasher, reveal_pin
from vending.vouchers.tables import stock_imports, voucher_batches, vouchers


def test_summary_audit_and_progress(world: StockWorld) -> None:
    rows = world.rows(30, "AIR-10", "AIR-30", "DATA-1GB", batch_size=4)
    seen: list[tuple[int, int]] = []
    summary = world.import_rows(rows, progress=lambda done, total: seen.append((done, total)))
    assert summary.rows == 30
    assert {(t.product_code, t.rows) for t in summary.products} == {
        ("AIR-10", 10),
        ("AIR-30", 10),
        ("DATA-1GB", 10),
    }
    assert summary.face_total == zar("1390.00")  # 10 x (10 + 30 + 99)
    assert summary.cost_total == zar("1316.00")  # 10 x (9.40 + 28.20 + 94.00)
    assert summary.batches == 9  # 10 rows per product in batches of 4: 3 + 3 + 3
    assert seen[-1] == (30, 30)
    assert world.count(voucher_batches) == 9
    imported = world.db.run_txn(
        "import", lambda txn: txn.execute(select(stock_imports)).one()._mapping
    )
    assert imported["row_count"] == 30 and imported["face_total"] == 139000
    assert imported["imported_by"] == "test"
    audit = world.db.run_txn(
        "audit",
        lambda txn: (
            txn.execute(select(audit_log).where(audit_log.c.action == "stock.import"))
            .one()
            ._mapping
        ),
    )
    assert audit["actor"] == "test" and audit["subject"] == f"import:{summary.import_id}"
    assert audit["details"]["rows"] == 30 and audit["details"]["supplier"] == SUPPLIER
    assert audit["details"]["face_total"] == "1390.00"
    assert any("1390.00" in line for line in summary.lines())


def test_the_same_file_is_refused_the_second_time(world: StockWorld, tmp_path: Path) -> None:
    assert world.keys is not None
    plaintext = render_csv(world.rows(5))
    path = tmp_path / "stock.gpg"
    path.write_bytes(world.keys.encrypt(plaintext))
    first = world.import_file(path)
    with pytest.raises(AlreadyImported, match=f"import {first.import_id}"):
        world.import_file(path)
    # The same content encrypted again (new session key, new bytes) is the same stock.
    again = tmp_path / "again.gpg"
    again.write_bytes(world.keys.encrypt(plaintext))
    with pytest.raises(AlreadyImported):
        world.import_file(again)
    assert world.count(vouchers) == 5 and world.count(stock_imports) == 1


def _pin_rows(world: StockWorld) -> list:  # type: ignore[type-arg]
    return world.db.run_txn(
        "pins",
        lambda txn: txn.execute(
            select(
                vouchers.c.supplier_id,
                vouchers.c.serial_no,
                vouchers.c.pin_key_id,
                vouchers.c.pin_ciphertext,
                vouchers.c.pin_hash,
            ).order_by(vouchers.c.id)
        ).all(),
    )


def _reveal(world: StockWorld, keyring: Keyring, row) -> str:  # type: ignore[no-untyped-def]
    return world.db.run_txn(
        "reveal",
        lambda txn: reveal_pin(
            txn,
            keyring,
            supplier_id=row.supplier_id,
            serial_no=row.serial_no,
            key_id=row.pin_key_id,
            blob=row.pin_ciphertext,
        ),
    )


def test_pins_are_encrypted_bound_to_their_row_and_hashed(world: StockWorld) -> None:
    rows = world.rows(3)
    world.import_rows(rows)
    stored = _pin_rows(world)
    for row, original in zip(stored, rows, strict=True):
        assert original.pin.encode() not in bytes(row.pin_ciphertext)
        assert _reveal(world, world.keyring, row) == original.pin
        expected_hash = world.db.run_txn(
            "hash", lambda txn, p=original.pin: pin_hasher(txn, world.keyring)(p.encode())
        )
        assert bytes(row.pin_hash) == expected_hash
    # A ciphertext copied onto another voucher does not decrypt there.
    first, second = stored[0], stored[1]
    with pytest.raises(KeyringError):
        _reveal(
            world,
            world.keyring,
            SimpleNamespace(**{**second._asdict(), "pin_ciphertext": first.pin_ciphertext}),
        )


def test_rotating_the_data_key_keeps_old_pins_readable(world: StockWorld) -> None:
    old_rows = world.rows(2)
    world.import_rows(old_rows)
    old_key = {row.pin_key_id for row in _pin_rows(world)}
    new_key = world.db.run_txn("rotate", world.keyring.rotate_data_key, now=NOW)
    new_rows = world.rows(2)
    world.import_rows(new_rows)
    stored = _pin_rows(world)
    assert [row.pin_key_id for row in stored] == [*old_key, *old_key, new_key, new_key]
    assert new_key not in old_key
    assert [_reveal(world, world.keyring, row) for row in stored] == [
        row.pin for row in old_rows + new_rows
    ]
    # A PIN imported before the rotation is still recognised as a duplicate after it.
    again = world.rows(1)
    lines = render_csv(again).decode().replace(again[0].pin, old_rows[0].pin).encode()
    with pytest.raises(Exception, match="pin is already in stock"):
        world.import_rows(lines)


def test_a_new_master_key_rewraps_the_pin_hash_key_too(world: StockWorld) -> None:
    rows = world.rows(2)
    world.import_rows(rows)
    new_master = MasterKey.generate()
    world.db.run_txn("rewrap", world.keyring.rewrap, new_master)
    rewrapped = Keyring(new_master, clock=lambda: NOW)
    stored = _pin_rows(world)
    assert [_reveal(world, rewrapped, row) for row in stored] == [row.pin for row in rows]
    assert world.db.run_txn(
        "hash", lambda txn: pin_hasher(txn, rewrapped)(rows[0].pin.encode())
    ) == bytes(stored[0].pin_hash)
    # The old master key no longer unwraps anything.
    with pytest.raises(KeyringError):
        world.db.run_txn(
            "hash", lambda txn: pin_hasher(txn, Keyring(MasterKey.generate(), clock=lambda: NOW))
        )


def test_an_import_conflicting_with_stock_names_lines_and_keeps_the_transaction(
    world: StockWorld,
) -> None:
    """The unique-index path: the duplicate is found by the database, not the pre-check,
    so the savepoint rolls the partial COPY back before the lines are named."""
    first = world.rows(50)
    world.import_rows(first)
    second = world.rows(50)
    text = render_csv(second).decode().replace(second[49].pin, first[0].pin).encode()
    with pytest.raises(Exception, match="1 bad line; first: line 51: pin is already in stock"):
        world.import_rows(text)
    assert world.count(vouchers) == 50


def test_disabled_products_are_refused(world: StockWorld) -> None:
    from vending.products import set_active

    world.db.run_txn("disable", set_active, "AIR-30", False, actor="test", now=NOW)
    with pytest.raises(Exception, match="AIR-30 is disabled"):
        world.import_rows(world.rows(2, "AIR-30"))


def test_import_upload_by_name(world: StockWorld) -> None:
    upload = StockUpload(SUPPLIER, "named.csv", "ab" * 32, render_csv(world.rows(1)))
    summary = world.importer().import_upload(upload, actor="test")
    assert summary.file_name == "named.csv"
