"""``evd admin``: the first administrator from the command line, a password reset, the user
list -- in process on a temporary SQLite database; the one-time password then signs in."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import select

from staff import users
from staff.tables import staff_users
from vending.cli.main import main
from vending.passwords import verify_password
from vending.storage import migrate
from vending.storage.database import Database


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    for name in list(os.environ):
        if name.startswith("EVD"):
            monkeypatch.delenv(name)
    url = f"sqlite:///{tmp_path / 'evd.db'}"
    monkeypatch.setenv("EVD_DATABASE_URL", url)
    monkeypatch.setenv("EVD__SECURITY__MASTER_KEY_FILE", str(tmp_path / "master.key"))
    monkeypatch.setenv("EVD__SECURITY__SCRYPT_LOG_N", "10")
    monkeypatch.setenv("EVD_ACTOR", "ops-alice")
    database = Database(url, pool_size=1)
    migrate.upgrade(database.engine)
    database.close()
    return url


def _hash(url: str, username: str) -> tuple[str, bool]:
    database = Database(url, pool_size=1)
    try:
        row = database.run_txn(
            "t",
            lambda txn: txn.execute(
                select(staff_users.c.password_hash, staff_users.c.must_change_password).where(
                    staff_users.c.username == username
                )
            ).one(),
        )
        return row.password_hash, row.must_change_password
    finally:
        database.close()


def test_create_reset_and_list(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["admin", "create-user", "Alice", "--name", "Alice Admin",
                 "--role", "super_admin"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    one_time = out.split("one-time password: ")[1].split()[0]
    stored, must_change = _hash(url, "alice")
    assert verify_password(one_time, stored) and must_change
    assert main(["admin", "reset-password", "alice", "--reset-totp"]) == 0
    second = capsys.readouterr().out.split("one-time password ")[1].split()[0]
    stored, _ = _hash(url, "alice")
    assert verify_password(second, stored) and not verify_password(one_time, stored)
    assert main(["admin", "users", "--json"]) == 0
    assert '"role": "super_admin"' in capsys.readouterr().out
    database = Database(url, pool_size=1)
    try:
        from vending import audit

        actions = [r["action"] for r in database.run_txn("t", audit.search, actor="cli:ops-alice")]
        assert actions == ["user.totp_reset", "user.password_reset", "user.create"]
        assert database.run_txn("t", users.find_user, "alice").role == "super_admin"
    finally:
        database.close()
    # A partner role needs a node; an unknown user cannot be reset.
    assert main(["admin", "create-user", "dan", "--name", "D", "--role", "dealer"]) != 0
    assert main(["admin", "reset-password", "nobody"]) != 0
