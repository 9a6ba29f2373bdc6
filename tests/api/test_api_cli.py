"""``evd api-key`` and ``evd consumer``, in process on a temporary SQLite database."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from vending.api_keys import principal_for_key
from vending.api_tables import api_keys
from vending.cli.main import main
from vending.demo import seed_core
from vending.storage import migrate
from vending.storage.database import Database

CAFE = "6004708000090"


class Evd:
    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: object) -> None:
        for name in list(os.environ):
            if name.startswith("EVD"):
                monkeypatch.delenv(name)
        self.url = f"sqlite:///{tmp_path / 'evd.db'}"
        monkeypatch.setenv("EVD_DATABASE_URL", self.url)
        monkeypatch.setenv("EVD__SECURITY__MASTER_KEY_FILE", str(tmp_path / "master.key"))
        monkeypatch.setenv("EVD__SECURITY__SCRYPT_LOG_N", "10")
        self.monkeypatch = monkeypatch
        self.capsys = capsys

    def __call__(self, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
        if stdin is not None:
            self.monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(list(args))
        out, err = self.capsys.readouterr()  # type: ignore[attr-defined]
        return code, out, err

    def database(self) -> Database:
        return Database(self.url, pool_size=1)


@pytest.fixture
def evd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: object) -> Evd:
    runner = Evd(tmp_path, monkeypatch, capsys)
    database = runner.database()
    migrate.upgrade(database.engine)
    database.run_txn("seed", seed_core, password_log_n=10)
    database.close()
    return runner


def test_api_key_create_prints_the_key_alone_on_its_last_line(
    evd: Evd, secrets_sentinel: object
) -> None:
    code, out, _ = evd("api-key", "create", "--vendor", CAFE, "--operator", "cashier1")
    assert code == 0
    key = out.strip().splitlines()[-1]
    secrets_sentinel.register(key)  # type: ignore[attr-defined]
    assert key.startswith("evd_live_") and " " not in key
    database = evd.database()
    try:
        assert database.run_txn("auth", principal_for_key, key).principal.client_id == CAFE
        stored = database.run_txn("rows", lambda txn: txn.execute(select(api_keys)).all())
        assert all(key.encode() not in repr(tuple(row)).encode() for row in stored)
    finally:
        database.close()
    code, listing, _ = evd("api-key", "list")
    assert code == 0 and key not in listing and "cashier1" in listing
    code, out, _ = evd("api-key", "revoke", "1")
    assert code == 0 and "revoked" in out
    code, _, err = evd("api-key", "create", "--vendor", CAFE, "--operator", "ghost")
    assert code == 1 and "ghost" in err


def test_consumer_commands(evd: Evd) -> None:
    code, out, err = evd(
        "consumer",
        "register",
        "27821234567",
        "--name",
        "Thandi",
        "--password-stdin",
        stdin="4321\n",
    )
    assert code == 0, err
    code, out, err = evd("consumer", "credit", "27821234567", "50.00", "--reason", "goodwill")
    assert code == 0 and "50.00" in out, err
    code, out, _ = evd("consumer", "credit", "27821234567", "5000.00", "--reason", "too much")
    assert code == 1
    code, out, _ = evd("consumer", "set", "27821234567", "--kyc", "1")
    assert code == 0 and "KYC level 1" in out
    code, out, _ = evd("consumer", "list", "--json")
    assert code == 0 and '"balance": "50.00"' in out and "4321" not in out
