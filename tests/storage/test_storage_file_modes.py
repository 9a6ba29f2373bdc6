"""The SQLite database and its -wal and -shm files are private to their owner (0600),
whatever the umask: they hold password hashes, encrypted PINs and the ledger."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from vending.storage.database import Database


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0o022)  # the usual default: files readable by everyone
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _write(database: Database) -> None:
    def work(txn: object) -> None:
        txn.execute(text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))  # type: ignore[attr-defined]
        txn.execute(text("INSERT INTO t VALUES (1)"))  # type: ignore[attr-defined]

    database.run_txn("t_write", work)


def test_new_sqlite_files_are_created_0600(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "var" / "evd.db"
    database = Database(f"sqlite:///{path}", pool_size=2)
    try:
        _write(database)
        files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
        assert all(f.exists() for f in files)
        assert {f.name: _mode(f) for f in files} == {f.name: 0o600 for f in files}
    finally:
        database.close()


def test_an_existing_readable_database_is_tightened(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "evd.db"
    first = Database(f"sqlite:///{path}", pool_size=1)
    _write(first)
    first.close()
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if name.exists():
            os.chmod(name, 0o644)
    again = Database(f"sqlite:///{path}", pool_size=1)
    try:
        _write(again)
        for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            if name.exists():
                assert _mode(name) == 0o600, name
    finally:
        again.close()
