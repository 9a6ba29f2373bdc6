"""Real GnuPG round trips: a signed, encrypted stock file imports; every unreadable or
wrongly signed file is refused with nothing imported (and the refusal audited)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixed_clock import NOW
from sqlalchemy import select
from voucher_support import SUPPLIER, StockWorld, bad_signature_message

from tools.gen_stock import render_csv
from vending.storage.schema import audit_log
from vending.vouchers import gpg as gpg_module
from vending.vouchers.gpg import (
    GnupgMissing,
    SignatureRefused,
    StockFileUnreadable,
    StockGpg,
)
from vending.vouchers.suppliers import set_supplier_key


def _write(tmp_path: Path, message: bytes, name: str = "stock.csv.gpg") -> Path:
    path = tmp_path / name
    path.write_bytes(message)
    return path


def test_signed_encrypted_file_imports_and_its_pins_sell(world: StockWorld, tmp_path: Path) -> None:
    assert world.keys is not None
    rows = world.rows(20, "AIR-10", "DATA-1GB")
    summary = world.import_file(_write(tmp_path, world.keys.encrypt(render_csv(rows))))
    assert summary.rows == 20
    assert summary.signer_fingerprint == world.keys.supplier_fpr
    sold = {world.sell("DATA-1GB").voucher.pin for _ in range(10)}
    assert sold == {row.pin for row in rows if row.product_code == "DATA-1GB"}


def _ghost_message(tmp_path: Path, world: StockWorld, plaintext: bytes) -> bytes:
    """Signed by a key this server has never seen."""
    assert world.keys is not None
    ghost = StockGpg(tmp_path / "ghost")
    try:
        fingerprint = ghost.generate_key("Ghost <ghost@test>")
        ghost.import_public_key(world.keys.operator.export_public_key(world.keys.operator_fpr))
        return ghost.encrypt(plaintext, world.keys.operator_fpr, sign_with=fingerprint)
    finally:
        ghost.shutdown()


def _flip(message: bytes, at: int) -> bytes:
    return message[:at] + bytes([message[at] ^ 0x55]) + message[at + 1 :]


REFUSALS = {
    "encrypted to another key": (StockFileUnreadable, "not encrypted to this server"),
    "not signed": (SignatureRefused, "not signed"),
    "signed by another known key": (SignatureRefused, "not by the supplier's key"),
    "signed by an unknown key": (SignatureRefused, "no public key"),
    "bad signature": (SignatureRefused, "signature is bad"),
    "truncated": (StockFileUnreadable, "truncated, damaged or was tampered"),
    "tampered": (StockFileUnreadable, "truncated, damaged or was tampered"),
    # The flipped byte lands in the signature packet: gpg reports a bad signature first.
    "tampered near the end": ((StockFileUnreadable, SignatureRefused), "altered|tampered"),
    "not encrypted": (StockFileUnreadable, "not an OpenPGP-encrypted message"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refused_file_imports_nothing(world: StockWorld, tmp_path: Path, case: str) -> None:
    keys = world.keys
    assert keys is not None
    plaintext = render_csv(world.rows(12, "AIR-10"))
    message = {
        "encrypted to another key": lambda: keys.encrypt(plaintext, to="stranger"),
        "not signed": lambda: keys.encrypt(plaintext, sign=None),
        "signed by another known key": lambda: keys.encrypt(plaintext, sign="stranger"),
        "signed by an unknown key": lambda: _ghost_message(tmp_path, world, plaintext),
        "bad signature": lambda: bad_signature_message(keys, plaintext),
        "truncated": lambda: keys.encrypt(plaintext)[:-40],
        "tampered": lambda: _flip(keys.encrypt(plaintext), 200),
        "tampered near the end": lambda: _flip(keys.encrypt(plaintext), -30),
        "not encrypted": lambda: plaintext,
    }[case]()
    before = world.stock_counts()
    error, text = REFUSALS[case]
    with pytest.raises(error, match=text):
        world.import_file(_write(tmp_path, message))
    assert world.stock_counts() == before
    refusals = world.db.run_txn(
        "audit",
        lambda txn: txn.execute(
            select(audit_log.c.details).where(audit_log.c.action == "stock.import_refused")
        ).all(),
    )
    codes = {e.code for e in error} if isinstance(error, tuple) else {error.code}
    assert len(refusals) == 1 and refusals[0].details["reason"] in codes


def test_unsigned_files_pass_only_when_the_supplier_does_not_require_signatures(
    world: StockWorld, tmp_path: Path
) -> None:
    keys = world.keys
    assert keys is not None
    world.db.run_txn(
        "relax",
        set_supplier_key,
        SUPPLIER,
        key=keys.supplier_key(),
        require_signature=False,
        actor="test",
        now=NOW,
    )
    summary = world.import_file(
        _write(tmp_path, keys.encrypt(render_csv(world.rows(5)), sign=None))
    )
    assert summary.rows == 5 and summary.signer_fingerprint is None
    # A signature, when present, must still be the supplier's.
    with pytest.raises(SignatureRefused):
        world.import_file(
            _write(tmp_path, keys.encrypt(render_csv(world.rows(5)), sign="stranger"), "b.gpg")
        )


def test_missing_gpg_names_the_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(gpg_module.shutil, "which", lambda name: None)
    with pytest.raises(GnupgMissing, match="apt-get install gnupg"):
        StockGpg(tmp_path / "home")


def test_decrypted_chunks_are_not_logged_by_python_gnupg(
    world: StockWorld, caplog: pytest.LogCaptureFixture
) -> None:
    """python-gnupg logs the first bytes of decrypted output at DEBUG; the filter drops
    them (the data here are not registered secrets, so the check itself leaks nothing)."""
    keys = world.keys
    assert keys is not None
    marker = b"marker-0123456789-not-a-pin"
    with caplog.at_level("DEBUG", logger="gnupg"):
        decrypted = keys.operator.decrypt(keys.encrypt(marker * 3))
    assert decrypted.plaintext == marker * 3
    assert any(record.name == "gnupg" for record in caplog.records)  # it did log at DEBUG
    assert not any(marker.decode() in record.getMessage() for record in caplog.records)
