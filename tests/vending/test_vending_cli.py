"""``evd`` smoke tests, in-process on a temporary SQLite database: exit codes and output."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
from fixed_clock import NOW
from sqlalchemy import select

from vending.cli.main import main
from vending.keyring import Keyring, MasterKey
from vending.storage.database import Database
from vending.storage.schema import audit_log, data_keys, operators


class Evd:
    """Runs ``evd`` in-process against one temporary SQLite database and master key file."""

    def __init__(
        self,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
        gnupg_dir: Path,
    ) -> None:
        self.db_path = tmp_path / "evd.db"
        self.key_path = tmp_path / "keys" / "master.key"
        self.monkeypatch = monkeypatch
        self.capsys = capsys
        monkeypatch.setenv("EVD_DATABASE_URL", f"sqlite:///{self.db_path}")
        monkeypatch.setenv("EVD__SECURITY__MASTER_KEY_FILE", str(self.key_path))
        # The demo's GnuPG homes in the test's own short directory, never the working tree's
        # var/ (keys made there under a moved date broke later runs) nor under tmp_path
        # (too long a path for the agents' sockets; see gnupg_dir).
        monkeypatch.setenv("EVD__VOUCHERS__GNUPG_HOME", str(gnupg_dir / "gnupg"))
        monkeypatch.setenv("EVD__SECURITY__SCRYPT_LOG_N", "10")
        monkeypatch.setenv("EVD_ACTOR", "tester")

    def __call__(self, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
        if stdin is not None:
            self.monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(list(args))
        out, err = self.capsys.readouterr()
        return code, out, err

    def ok(self, *args: str, stdin: str | None = None) -> str:
        code, out, err = self(*args, stdin=stdin)
        assert code == 0, (args, out, err)
        return out

    def fails(self, *args: str, code: int = 1, stdin: str | None = None) -> str:
        actual, out, err = self(*args, stdin=stdin)
        assert actual == code, (args, out, err)
        assert "Traceback" not in err
        return err

    def database(self) -> Database:
        return Database(f"sqlite:///{self.db_path}", pool_size=1)


@pytest.fixture
def evd(
    tmp_path: Path,
    clean_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    gnupg_dir: Path,
) -> Evd:
    return Evd(tmp_path, clean_env, capsys, gnupg_dir)


def _vendors(evd: Evd) -> dict[str, dict[str, object]]:
    return {row["client_id"]: row for row in json.loads(evd.ok("vendor", "list", "--json"))}


def test_db_upgrade_and_current(evd: Evd) -> None:
    """`db upgrade` migrates an empty database, then says it is up to date."""
    assert evd("db", "current")[0] == 1  # empty: not at head
    assert "migrated from empty to" in evd.ok("db", "upgrade")
    assert "is up to date" in evd.ok("db", "upgrade")
    out = evd.ok("db", "current")
    assert out.startswith("revision ")
    assert evd.db_path.exists()


def test_demo_is_idempotent(evd: Evd) -> None:
    """`demo` needs a migrated database, creates its data once, and changes nothing the
    second time (the ledger stays clean)."""
    assert "evd db upgrade" in evd.fails("demo")
    assert not evd.key_path.exists()  # refused: no side effects
    evd.ok("db", "upgrade")
    first = evd.ok("demo")
    assert "created a demo master key" in first
    assert "vendor 6004708000090" in first
    assert "product ELEC-DEMO" in first
    assert evd.key_path.exists()
    accounts_before = evd.ok("ledger", "accounts", "--json")
    second = evd.ok("demo")
    assert "demo data already present" in second
    assert "created a demo master key" not in second
    assert evd.ok("ledger", "accounts", "--json") == accounts_before
    vendors = _vendors(evd)
    assert vendors["6004708000090"]["balance"] == "5000.00"
    assert vendors["6004708000106"]["credit_limit"] == "5000.00"
    assert "ledger OK" in evd.ok("ledger", "verify")
    products = {row["code"]: row for row in json.loads(evd.ok("product", "list", "--json"))}
    assert products["AIR-DEMO-10"]["price"] == "10.00"
    assert products["ELEC-DEMO"]["price"] == "5.00-5000.00"
    assert products["ELEC-DEMO"]["reversal"] == "none"
    assert "AIR-DEMO-10" in evd.ok("product", "list")


def test_vendor_commands(evd: Evd) -> None:
    """add, list, credit, debit, limit, block and unblock, with their refusals."""
    evd.ok("db", "upgrade")
    out = evd.ok(
        "vendor", "add", "6009999000001", "--name", "Spaza Shop", "--credit-limit", "20.00"
    )
    assert "vendor 6009999000001 created" in out
    assert "already exists" in evd.fails("vendor", "add", "6009999000001", "--name", "Again")
    out = evd.ok("vendor", "credit", "6009999000001", "100.50", "--reason", "bank deposit")
    assert "balance ZAR 100.50" in out
    out = evd.ok("vendor", "debit", "6009999000001", "120.00", "--reason", "refund")
    assert "balance ZAR -19.50, available ZAR 0.50" in out
    err = evd.fails("vendor", "debit", "6009999000001", "0.51", "--reason", "too much")
    assert "vendor:6009999000001" in err
    assert "positive" in evd.fails("vendor", "credit", "6009999000001", "-5", "--reason", "x")
    assert "decimal places" in evd.fails(
        "vendor", "credit", "6009999000001", "1.001", "--reason", "x"
    )
    assert "reason" in evd.fails("vendor", "credit", "6009999000001", "1", "--reason", " ")
    assert "no vendor" in evd.fails("vendor", "credit", "NOPE", "1.00", "--reason", "x")
    assert "credit limit ZAR 50.00" in evd.ok("vendor", "limit", "6009999000001", "50")
    assert "already below" in evd.fails("vendor", "limit", "6009999000001", "19.49")

    assert "blocked" in evd.ok("vendor", "block", "6009999000001", "--reason", "audit")
    assert _vendors(evd)["6009999000001"]["blocked"] is True
    assert "blocked" in evd.fails("vendor", "debit", "6009999000001", "1.00", "--reason", "x")
    evd.ok("vendor", "credit", "6009999000001", "1.00", "--reason", "credits still land")
    assert "unblocked" in evd.ok("vendor", "unblock", "6009999000001")
    assert "privileges: engineering, free_issue" in evd.ok(
        "vendor", "grant", "6009999000001", "free_issue", "engineering"
    )
    assert "privileges: engineering" in evd.ok("vendor", "revoke", "6009999000001", "free_issue")
    assert _vendors(evd)["6009999000001"]["privileges"] == "engineering"
    evd.ok("vendor", "debit", "6009999000001", "1.00", "--reason", "debits again")

    row = _vendors(evd)["6009999000001"]
    assert (row["balance"], row["credit_limit"], row["available"], row["blocked"]) == (
        "-19.50",
        "50.00",
        "30.50",
        False,
    )
    listing = evd.ok("vendor", "list")
    assert "Spaza Shop" in listing
    assert listing.splitlines()[0].split()[:3] == ["client_id", "name", "currency"]
    accounts = {row["code"]: row for row in json.loads(evd.ok("ledger", "accounts", "--json"))}
    assert accounts["house:bank:ZAR"]["balance"] == "19.50"
    assert accounts["vendor:6009999000001"]["credit_limit"] == "50.00"
    assert [
        a["code"] for a in json.loads(evd.ok("ledger", "accounts", "--kind", "vendor", "--json"))
    ] == ["vendor:6009999000001"]
    statement = evd.ok("ledger", "statement", "vendor:6009999000001", "-n", "2")
    assert "debits again" in statement.splitlines()[1]
    assert "ledger OK" in evd.ok("ledger", "verify")

    db = evd.database()
    try:
        actions = db.run_txn(
            "audit",
            lambda txn: txn.execute(select(audit_log.c.action, audit_log.c.actor)).all(),
        )
    finally:
        db.close()
    assert ("vendor.block", "cli:tester") in actions
    assert ("vendor.credit_limit", "cli:tester") in actions


def test_operator_commands(evd: Evd) -> None:
    """add (password from stdin), passwd, block/unblock; the password is never stored."""
    evd.ok("db", "upgrade")
    evd.ok("vendor", "add", "V1", "--name", "Cafe")
    out = evd.ok(
        "operator", "add", "cashier", "--vendor", "V1", "--password-stdin", stdin="first-pw\n"
    )
    assert "operator cashier created (operator)" in out
    evd.ok("operator", "add", "boss", "--admin", "--password-stdin", stdin="admin-pass\n")
    assert "either --vendor" in evd.fails(
        "operator", "add", "x", "--password-stdin", stdin="pw123456\n"
    )
    assert "6 to 128" in evd.fails(
        "operator", "add", "short", "--vendor", "V1", "--password-stdin", stdin="abc\n"
    )
    assert "already exists" in evd.fails(
        "operator", "add", "cashier", "--vendor", "V1", "--password-stdin", stdin="another-pw\n"
    )

    from vending.auth import Authenticator
    from vending.errors import AuthenticationFailed, OperatorBlocked

    db = evd.database()
    try:
        authenticator = Authenticator(db, cache_seconds=0, clock=lambda: NOW)
        assert authenticator.authenticate("V1", "cashier", "first-pw").operator_name == "cashier"
        hashes = db.run_txn(
            "hashes", lambda txn: txn.execute(select(operators.c.password_hash)).scalars().all()
        )
        assert all(h.startswith("scrypt$10$") and "first-pw" not in h for h in hashes)

        out = evd.ok(
            "operator",
            "passwd",
            "cashier",
            "--vendor",
            "V1",
            "--password-stdin",
            stdin="second-pw\n",
        )
        assert "password of operator cashier changed" in out
        with pytest.raises(AuthenticationFailed):
            authenticator.authenticate("V1", "cashier", "first-pw")
        authenticator.authenticate("V1", "cashier", "second-pw")

        assert "operator cashier blocked" in evd.ok(
            "operator", "block", "cashier", "--vendor", "V1"
        )
        with pytest.raises(OperatorBlocked):
            authenticator.authenticate("V1", "cashier", "second-pw")
        evd.ok("operator", "unblock", "cashier", "--vendor", "V1")
        authenticator.authenticate("V1", "cashier", "second-pw")
    finally:
        db.close()
    assert "no operator" in evd.fails("operator", "block", "ghost", "--vendor", "V1")
    rows = json.loads(evd.ok("operator", "list", "--json"))
    assert [(r["name"], r["role"], r["blocked"]) for r in rows] == [
        ("cashier", "operator", False),
        ("boss", "admin", False),
    ]


def test_keys_init_and_rotate(evd: Evd) -> None:
    """init writes the master key once; rotate starts a new data key; rotate --new-master
    re-wraps the data keys so that the new master key reads old rows."""
    evd.ok("db", "upgrade")
    assert "no master key" in evd.fails("keys", "rotate")
    out = evd.ok("keys", "init")
    assert str(evd.key_path) in out
    assert evd.key_path.stat().st_mode & 0o777 == 0o600
    assert "refusing to overwrite" in evd.fails("keys", "init")
    master = MasterKey.from_base64(evd.key_path.read_text())
    assert master.fingerprint in out

    db = evd.database()
    try:
        keyring = Keyring(master, clock=lambda: NOW)
        old_id, old_blob = db.run_txn("enc", lambda txn: keyring.encrypt(txn, b"old", aad=b"a"))
        assert "data key 2 is now active" in evd.ok("keys", "rotate")
        new_id, _ = db.run_txn(
            "enc", lambda txn: Keyring(master, clock=lambda: NOW).encrypt(txn, b"new", aad=b"a")
        )
        assert (old_id, new_id) == (1, 2)

        new_master = MasterKey.generate()
        new_file = evd.key_path.parent / "new.key"
        new_file.write_text(new_master.to_base64())
        out = evd.ok("keys", "rotate", "--new-master", str(new_file))
        assert f"2 data keys re-wrapped under master key {new_master.fingerprint}" in out
        fingerprints = db.run_txn(
            "fps", lambda txn: set(txn.execute(select(data_keys.c.master_fingerprint)).scalars())
        )
        assert fingerprints == {new_master.fingerprint}
        plain = db.run_txn(
            "dec",
            lambda txn: Keyring(new_master, clock=lambda: NOW).decrypt(
                txn, old_id, old_blob, aad=b"a"
            ),
        )
        assert plain == b"old"
    finally:
        db.close()
    # The configured (old) master key no longer matches: a clean error, no traceback.
    assert "wrapped by master key" in evd.fails("keys", "rotate")
    bad = evd.key_path.parent / "bad.key"
    bad.write_text("not a key")
    assert "base64" in evd.fails("keys", "rotate", "--new-master", str(bad))
    assert "missing.key" in evd.fails(
        "keys", "rotate", "--new-master", str(evd.key_path.parent / "missing.key")
    )


def test_configuration_errors_exit_2(evd: Evd) -> None:
    """A bad setting stops any command with exit code 2 and names the key."""
    evd.monkeypatch.setenv("EVD__SERVER__DEADLINE_SECONDS", "12")
    assert "server.deadline_seconds" in evd.fails("vendor", "list", code=2)


def test_vendor_batches_lists_the_batches_of_a_vendor(evd: Evd) -> None:
    from datetime import UTC, datetime

    from vending import batches, vendors

    evd.ok("db", "upgrade")
    evd.ok("vendor", "add", "V1", "--name", "Cafe")
    assert evd.ok("vendor", "batches", "V1").strip() == "(none)"
    database = evd.database()
    vendor = database.run_txn("get", vendors.get_vendor, "V1")
    database.run_txn(
        "start",
        batches.start_batches,
        vendor_id=vendor.id,
        terminal_id="T1",
        currency="ZAR",
        kinds=("shift",),
        now=datetime(2026, 1, 1, tzinfo=UTC),
    )
    database.close()
    out = evd.ok("vendor", "batches", "V1", "--terminal", "T1")
    assert "shift" in out and "open" in out and "0.00" in out
    assert "no vendor" in evd.fails("vendor", "batches", "NOPE")
