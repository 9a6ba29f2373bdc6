"""The transaction runner: retries, after-commit callbacks, the dedicated pool, SQLite setup."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from vending.config import defaults, load_config
from vending.errors import InvalidRequest
from vending.storage.database import Database, Txn, is_retryable


class _FakePgError(Exception):
    """Stands in for a psycopg2 error: carries a SQLSTATE in ``pgcode``."""

    def __init__(self, pgcode: str) -> None:
        super().__init__(f"fake error {pgcode}")
        self.pgcode = pgcode


def _db_error(pgcode: str) -> DBAPIError:
    return DBAPIError("SELECT 1", {}, _FakePgError(pgcode))


def _scratch(txn: Txn) -> None:
    txn.execute(text("CREATE TABLE IF NOT EXISTS scratch (n INTEGER)"))


def _count(db: Database) -> int:
    return db.run_txn(
        "count", lambda txn: txn.execute(text("SELECT count(*) FROM scratch")).scalar_one()
    )


@pytest.fixture
def db(database: Database) -> Iterator[Database]:
    database.max_attempts = 4
    database.run_txn("scratch", _scratch)
    yield database
    # The PostgreSQL database is shared by every test of this worker: a table left behind
    # would be an extra table to the migration tests that run later on it.
    database.max_attempts = 1
    database.run_txn("drop scratch", lambda txn: txn.execute(text("DROP TABLE scratch")))


def test_is_retryable() -> None:
    """Serialization failures, deadlocks, lost connections and SQLite busy are retryable."""
    assert is_retryable(_db_error("40001"))
    assert is_retryable(_db_error("40P01"))
    assert not is_retryable(_db_error("23505"))
    assert not is_retryable(ValueError("40001"))
    assert is_retryable(OperationalError("x", {}, Exception("database is locked")))
    assert is_retryable(DBAPIError("x", {}, Exception("boom"), connection_invalidated=True))
    assert not is_retryable(IntegrityError("x", {}, Exception("UNIQUE constraint failed")))


def test_retryable_error_reruns_the_whole_function(db: Database) -> None:
    """A function failing twice with SQLSTATE 40001 runs a third time; only the last run's
    writes survive and its result is returned."""
    calls = []

    def work(txn: Txn) -> int:
        calls.append(1)
        txn.execute(text("INSERT INTO scratch (n) VALUES (:n)"), {"n": len(calls)})
        if len(calls) < 3:
            raise _db_error("40001" if len(calls) == 1 else "40P01")
        return len(calls)

    assert db.run_txn("flaky", work) == 3
    assert len(calls) == 3
    assert _count(db) == 1
    assert db.run_txn("n", lambda txn: txn.execute(text("SELECT n FROM scratch")).scalar_one()) == 3
    stats = db.stats.by_name["flaky"]
    assert (stats.count, stats.retries, stats.failures) == (1, 2, 0)


def test_runner_gives_up_after_max_attempts(db: Database) -> None:
    """A function that always hits a serialization failure runs max_attempts times, then
    the error propagates and nothing is written."""
    calls = []

    def work(txn: Txn) -> None:
        calls.append(1)
        txn.execute(text("INSERT INTO scratch (n) VALUES (1)"))
        raise _db_error("40001")

    with pytest.raises(DBAPIError):
        db.run_txn("hopeless", work)
    assert len(calls) == db.max_attempts == 4
    assert _count(db) == 0
    stats = db.stats.by_name["hopeless"]
    assert (stats.count, stats.retries, stats.failures) == (1, 3, 1)


def test_domain_errors_are_not_retried(db: Database) -> None:
    """A domain error rolls back at once and is raised to the caller unchanged."""
    calls = []

    def work(txn: Txn) -> None:
        calls.append(1)
        txn.execute(text("INSERT INTO scratch (n) VALUES (1)"))
        raise InvalidRequest("nope")

    with pytest.raises(InvalidRequest, match="nope"):
        db.run_txn("refused", work)
    assert len(calls) == 1
    assert _count(db) == 0


def test_after_commit_callbacks_run_once_after_commit(db: Database) -> None:
    """call_after runs once, after the commit (the row is visible), not per attempt."""
    seen: list[int] = []
    attempts = []

    def work(txn: Txn) -> str:
        attempts.append(1)
        txn.execute(text("INSERT INTO scratch (n) VALUES (7)"))
        # The callback sees the committed row from another connection.
        txn.call_after(lambda: seen.append(_count(db)))
        if len(attempts) == 1:
            raise _db_error("40001")
        return "done"

    assert db.run_txn("with_callback", work) == "done"
    assert len(attempts) == 2
    assert seen == [1]


def test_after_commit_callbacks_never_run_after_rollback(db: Database) -> None:
    """A transaction that fails calls none of its callbacks."""
    seen: list[str] = []

    def work(txn: Txn) -> None:
        txn.call_after(seen.append, "committed")
        raise InvalidRequest("refused")

    with pytest.raises(InvalidRequest):
        db.run_txn("rolled_back", work)
    assert seen == []


def test_failing_callback_does_not_undo_the_commit(db: Database) -> None:
    """A broken after-commit hook is logged; the committed result still stands."""
    later: list[str] = []

    def work(txn: Txn) -> int:
        txn.execute(text("INSERT INTO scratch (n) VALUES (1)"))
        txn.call_after(lambda: 1 / 0)
        txn.call_after(later.append, "second hook still runs")
        return 5

    assert db.run_txn("bad_hook", work) == 5
    assert _count(db) == 1
    assert later == ["second hook still runs"]


def test_submit_runs_on_the_dedicated_pool(db: Database) -> None:
    """submit() returns a future computed on an evd-db thread, not the caller's."""

    def where(txn: Txn) -> str:
        return threading.current_thread().name

    futures = [db.submit("where", where) for _ in range(6)]
    names = {future.result(timeout=30) for future in futures}
    assert all(name.startswith("evd-db") for name in names)
    assert threading.current_thread().name not in names
    assert len(names) <= db.pool_size


def test_submit_propagates_errors(db: Database) -> None:
    """An error in the transaction function surfaces from the future."""

    def fail(txn: Txn) -> None:
        raise InvalidRequest("through the future")

    with pytest.raises(InvalidRequest, match="through the future"):
        db.submit("fail", fail).result(timeout=30)


def test_sqlite_connections_use_wal_and_begin_immediate(tmp_path: Path) -> None:
    """SQLite runs in WAL mode with foreign keys on, and every transaction holds the write
    lock from its start, so a second writer waits (and times out) instead of deadlocking."""
    db = Database(f"sqlite:///{tmp_path / 'x.db'}", pool_size=2, sqlite_busy_timeout=0.2)
    try:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        db.run_txn("scratch", _scratch)
        with db.engine.connect() as holder, holder.begin():
            # Only a read, but BEGIN IMMEDIATE already took the write lock.
            holder.execute(text("SELECT count(*) FROM scratch"))
            db.max_attempts = 1
            with pytest.raises(OperationalError, match="locked"):
                db.run_txn("blocked", lambda txn: txn.execute(text("SELECT 1")))
    finally:
        db.close()


def test_from_config_resolves_relative_sqlite_paths(tmp_path: Path) -> None:
    """A relative SQLite path in the config is relative to the project (base_dir)."""
    config = load_config(environ={"EVD_DATABASE_URL": "sqlite:///var/test.db"})
    config = config.replace(base_dir=str(tmp_path))
    db = Database.from_config(config)
    try:
        assert db.url == f"sqlite:///{tmp_path.resolve() / 'var' / 'test.db'}"
        assert db.pool_size == defaults().database.pool_size
        db.run_txn("touch", _scratch)
        assert (tmp_path / "var" / "test.db").exists()
    finally:
        db.close()
