"""Encryption at rest: data keys wrapped by the master key, rotation and re-wrapping."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from fixed_clock import NOW
from sqlalchemy import select

from vending.config import load_config
from vending.keyring import (
    Keyring,
    KeyringError,
    MasterKey,
    load_master_key,
    write_master_key_file,
)
from vending.storage.database import Database, Txn
from vending.storage.schema import data_keys

AAD = b"row:1"


def _encrypt(
    db: Database, keyring: Keyring, plaintext: bytes, aad: bytes = AAD
) -> tuple[int, bytes]:
    return db.run_txn("encrypt", lambda txn: keyring.encrypt(txn, plaintext, aad=aad))


def _decrypt(db: Database, keyring: Keyring, key_id: int, blob: bytes, aad: bytes = AAD) -> bytes:
    return db.run_txn("decrypt", lambda txn: keyring.decrypt(txn, key_id, blob, aad=aad))


def _keys(db: Database) -> list[tuple[int, str, bool]]:
    return [
        (row.id, row.master_fingerprint, row.retired_at is not None)
        for row in db.run_txn(
            "keys", lambda txn: txn.execute(select(data_keys).order_by(data_keys.c.id)).all()
        )
    ]


def test_encrypt_decrypt_round_trip(database: Database, keyring: Keyring) -> None:
    """Ciphertext decrypts to the plaintext with the same associated data, and only then."""
    key_id, blob = _encrypt(database, keyring, b"PIN 1234")
    assert key_id == 1
    assert b"PIN 1234" not in blob
    assert _decrypt(database, keyring, key_id, blob) == b"PIN 1234"
    assert (
        _decrypt(database, Keyring(keyring._master, clock=lambda: NOW), key_id, blob) == b"PIN 1234"
    )
    with pytest.raises(KeyringError, match="failed authentication"):
        _decrypt(database, keyring, key_id, blob, aad=b"row:2")
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(KeyringError):
        _decrypt(database, keyring, key_id, tampered)
    with pytest.raises(KeyringError, match="data key 7 does not exist"):
        _decrypt(database, keyring, 7, blob)
    assert _keys(database) == [(1, keyring.master_fingerprint, False)]


def test_wrong_master_key_names_both_fingerprints(database: Database, keyring: Keyring) -> None:
    """Another master key cannot use the stored data keys, and says which keys differ."""
    key_id, blob = _encrypt(database, keyring, b"secret")
    stranger = Keyring(MasterKey.generate(), clock=lambda: NOW)
    with pytest.raises(KeyringError) as excinfo:
        _decrypt(database, stranger, key_id, blob)
    message = str(excinfo.value)
    assert keyring.master_fingerprint in message
    assert stranger.master_fingerprint in message
    with pytest.raises(KeyringError, match=keyring.master_fingerprint):
        _encrypt(database, stranger, b"new row")


def test_rolled_back_key_is_not_remembered(database: Database, keyring: Keyring) -> None:
    """A data key created in a transaction that rolls back is forgotten: the next
    encryption creates (and commits) a real key rather than using a phantom id."""

    def encrypt_then_fail(txn: Txn) -> None:
        keyring.encrypt(txn, b"x", aad=AAD)
        raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        database.run_txn("fail", encrypt_then_fail)
    assert _keys(database) == []
    key_id, blob = _encrypt(database, keyring, b"kept")
    assert _keys(database) == [(key_id, keyring.master_fingerprint, False)]
    assert _decrypt(database, Keyring(keyring._master, clock=lambda: NOW), key_id, blob) == b"kept"


def test_rotate_data_key(database: Database, keyring: Keyring) -> None:
    """After rotation new rows use the new key; old rows still decrypt."""
    old_id, old_blob = _encrypt(database, keyring, b"old row")
    new_id = database.run_txn("rotate", keyring.rotate_data_key, now=NOW)
    assert new_id == old_id + 1
    key_id, new_blob = _encrypt(database, keyring, b"new row")
    assert key_id == new_id
    assert _decrypt(database, keyring, old_id, old_blob) == b"old row"
    assert _decrypt(database, keyring, new_id, new_blob) == b"new row"
    fp = keyring.master_fingerprint
    assert _keys(database) == [(old_id, fp, True), (new_id, fp, False)]
    # A fresh process picks the newest active key too.
    assert _encrypt(database, Keyring(keyring._master, clock=lambda: NOW), b"x")[0] == new_id


def test_rewrap_under_a_new_master_key(database: Database, keyring: Keyring) -> None:
    """Re-wrapping moves every data key to the new master; rows decrypt with it, and the
    old master key is refused afterwards."""
    first = _encrypt(database, keyring, b"first")
    database.run_txn("rotate", keyring.rotate_data_key, now=NOW)
    second = _encrypt(database, keyring, b"second")
    new_master = MasterKey.generate()
    assert database.run_txn("rewrap", keyring.rewrap, new_master) == 2
    assert {fp for _id, fp, _retired in _keys(database)} == {new_master.fingerprint}
    renewed = Keyring(new_master, clock=lambda: NOW)
    assert _decrypt(database, renewed, *first) == b"first"
    assert _decrypt(database, renewed, *second) == b"second"
    with pytest.raises(KeyringError, match=new_master.fingerprint):
        _decrypt(database, Keyring(keyring._master, clock=lambda: NOW), *first)
    # Rotating with the old master would mix masters and strand rows: refused, nothing
    # written.
    before = _keys(database)
    with pytest.raises(KeyringError) as excinfo:
        database.run_txn(
            "rotate", Keyring(keyring._master, clock=lambda: NOW).rotate_data_key, now=NOW
        )
    assert new_master.fingerprint in str(excinfo.value)
    assert keyring.master_fingerprint in str(excinfo.value)
    assert _keys(database) == before


def test_master_key_parsing() -> None:
    """Master keys are base64 of exactly 32 bytes and never print their material."""
    key = MasterKey.generate()
    assert MasterKey.from_base64(key.to_base64() + "\n") == key
    assert key.to_base64() not in repr(key)
    assert key.fingerprint in repr(key)
    assert len(key.fingerprint) == 16
    with pytest.raises(KeyringError, match="base64"):
        MasterKey.from_base64("not base64!")
    with pytest.raises(KeyringError, match="32 bytes"):
        MasterKey.from_base64("c2hvcnQ=")


def test_load_master_key_sources(tmp_path: Path) -> None:
    """Config/environment first, then the key file; neither is a clear KeyringError."""
    key = MasterKey.generate()
    path = tmp_path / "keys" / "master.key"
    env = {"EVD__SECURITY__MASTER_KEY_FILE": str(path)}
    with pytest.raises(KeyringError, match="evd keys init"):
        load_master_key(load_config(environ=env))
    written = write_master_key_file(path, key)
    assert written == key
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_master_key(load_config(environ=env)) == key
    other = MasterKey.generate()
    assert (
        load_master_key(load_config(environ={**env, "EVD_MASTER_KEY": other.to_base64()})) == other
    )
    with pytest.raises(FileExistsError):
        write_master_key_file(path)
    assert load_master_key(load_config(environ=env)) == key
