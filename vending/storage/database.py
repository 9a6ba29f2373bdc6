"""The transaction runner: every unit of database work is a named function run in one
transaction, retried as a whole on transient failures, on a dedicated thread pool.

Contract for transaction functions (Synapse's ``runInteraction`` contract):

* ``fn(txn, *args, **kwargs)`` does all its work through ``txn`` and returns plain values
  (dataclasses, ints), never live cursors or rows bound to the connection;
* it may run more than once (serialization failure, deadlock, lost connection, SQLite busy),
  so it must not have effects outside the database: schedule those with ``txn.call_after``,
  which runs them once, after the commit that made them true;
* it must not block on anything but the database.

SQLite: WAL journal, ``BEGIN IMMEDIATE`` for every write transaction (deferred transactions
that read then write fail with SQLITE_BUSY on lock upgrade), one server process.
PostgreSQL: READ COMMITTED plus conditional updates; SQLSTATE 40001/40P01 are retried.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from vending.config import Config

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

# SQLSTATEs after which the whole transaction may simply be run again.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})

# Txn.local key of a set-based sale batch's plan (vending.batch_plan).
BATCH_PLAN = "vending.batch_plan"


class Txn:
    """One running transaction, handed to transaction functions."""

    __slots__ = ("_after_commit", "_before_commit", "conn", "desc", "dialect", "local")

    def __init__(self, conn: Connection, desc: str) -> None:
        self.conn = conn
        self.desc = desc
        self.dialect: str = conn.dialect.name
        self._after_commit: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
        self._before_commit: list[Callable[[Txn], None]] = []
        # Scratch space of this transaction only (e.g. rows already read by an earlier
        # statement of it); gone with the transaction, so it never goes stale.
        self.local: dict[Any, Any] = {}

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    def execute(self, statement: Any, parameters: Any = None) -> Any:
        plan = self.local.get(BATCH_PLAN) if self.local else None
        if plan is not None:  # a set-based sale batch watches its sales' own writes
            plan.saw(statement)
        return self.conn.execute(statement, parameters)

    def call_after(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` once after this transaction commits (not if it rolls back)."""
        self._after_commit.append((fn, args))

    def before_commit(self, fn: Callable[[Txn], None]) -> None:
        """Run ``fn(txn)`` as this transaction's last work, right before its COMMIT (an
        exception still rolls everything back). Used to touch hot rows as late as possible
        (vending.ledger's deferred credits) so that their locks are held only briefly."""
        self._before_commit.append(fn)

    def run_before_commit(self) -> None:
        while self._before_commit:
            self._before_commit.pop(0)(self)


@dataclass
class TxnStats:
    """Per transaction name: how often it ran, retried and failed, and its total time."""

    count: int = 0
    retries: int = 0
    failures: int = 0
    seconds: float = 0.0


@dataclass
class _Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    by_name: dict[str, TxnStats] = field(default_factory=dict)

    def record(self, desc: str, *, retries: int, failed: bool, seconds: float) -> None:
        with self.lock:
            stats = self.by_name.setdefault(desc, TxnStats())
            stats.count += 1
            stats.retries += retries
            stats.failures += int(failed)
            stats.seconds += seconds


def is_retryable(exc: BaseException) -> bool:
    """True when running the whole transaction again may succeed."""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    sqlstate = getattr(exc.orig, "pgcode", None) or getattr(exc.orig, "sqlstate", None)
    if sqlstate in RETRYABLE_SQLSTATES:
        return True
    # SQLite: the busy timeout ran out while another connection held the write lock.
    message = str(exc.orig).lower()
    return "database is locked" in message or "database is busy" in message


class Database:
    """An engine plus the dedicated thread pool its transaction functions run on."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 8,
        max_attempts: int = 5,
        sqlite_synchronous: str = "FULL",
        sqlite_busy_timeout: float = 10.0,
        echo: bool = False,
    ) -> None:
        self.url = url
        self.max_attempts = max_attempts
        self.pool_size = pool_size
        self.engine = _create_engine(
            url,
            pool_size=pool_size,
            sqlite_synchronous=sqlite_synchronous,
            sqlite_busy_timeout=sqlite_busy_timeout,
            echo=echo,
        )
        self.dialect: str = self.engine.dialect.name
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()
        self.stats = _Stats()

    @classmethod
    def from_config(cls, config: Config) -> Database:
        url = config.database.url
        if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
            # A relative SQLite path is relative to the project, not the current directory.
            relative = url[len("sqlite:///") :]
            if relative and relative != ":memory:":
                url = "sqlite:///" + str(config.path(relative).resolve())
        return cls(
            url,
            pool_size=config.database.pool_size,
            max_attempts=config.database.max_attempts,
            sqlite_synchronous=config.database.sqlite_synchronous,
            sqlite_busy_timeout=config.database.sqlite_busy_timeout,
            echo=config.database.echo,
        )

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    # --- running transactions -----------------------------------------------------------

    def run_txn(
        self,
        desc: str,
        fn: Callable[Concatenate[Txn, P], T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run ``fn(txn, *args, **kwargs)`` in one transaction, retrying transient failures.

        Blocking: call it from a worker thread or the CLI, never from the reactor thread
        (use :meth:`submit` there).
        """
        started = time.perf_counter()
        attempt = 0
        while True:
            attempt += 1
            try:
                with self.engine.connect() as conn:
                    txn = Txn(conn, desc)
                    with conn.begin():
                        result = fn(txn, *args, **kwargs)
                        txn.run_before_commit()
                    callbacks = txn._after_commit
                break
            except Exception as exc:
                if attempt < self.max_attempts and is_retryable(exc):
                    delay = random.uniform(0, 0.005 * 2**attempt)
                    log.info("txn %s attempt %d retried after %s", desc, attempt, exc.__class__)
                    time.sleep(delay)
                    continue
                self.stats.record(
                    desc,
                    retries=attempt - 1,
                    failed=True,
                    seconds=time.perf_counter() - started,
                )
                raise
        self.stats.record(
            desc, retries=attempt - 1, failed=False, seconds=time.perf_counter() - started
        )
        for callback, callback_args in callbacks:
            try:
                callback(*callback_args)
            except Exception:  # an after-commit hook must never undo a committed result
                log.exception("after-commit callback of txn %s failed", desc)
        return result

    def submit(
        self,
        desc: str,
        fn: Callable[Concatenate[Txn, P], T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> Future[T]:
        """Run a transaction function on the dedicated database thread pool."""
        return self.executor.submit(self.run_txn, desc, fn, *args, **kwargs)

    @property
    def executor(self) -> ThreadPoolExecutor:
        # One thread per pooled connection: more threads would only queue on the pool.
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self.pool_size, thread_name_prefix="evd-db"
                )
            return self._executor

    def close(self) -> None:
        with self._executor_lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None
        self.engine.dispose()


def normalize_url(url: str) -> str:
    """``postgresql://`` means psycopg2 here (SQLAlchemy 2.1 would pick psycopg 3)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg2")
    return parsed.render_as_string(hide_password=False)


def _create_engine(
    url: str,
    *,
    pool_size: int,
    sqlite_synchronous: str,
    sqlite_busy_timeout: float,
    echo: bool,
) -> Engine:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _create_sqlite_engine(
            url,
            pool_size=pool_size,
            synchronous=sqlite_synchronous,
            busy_timeout=sqlite_busy_timeout,
            echo=echo,
        )
    if backend == "postgresql":
        return create_engine(
            normalize_url(url),
            pool_size=pool_size,
            max_overflow=0,
            # No ping before each transaction (a round trip each): a connection found dead
            # by the transaction's first statement is invalidated, and run_txn retries the
            # whole transaction on a fresh one (is_retryable).
            pool_pre_ping=False,
            pool_timeout=30,
            isolation_level="READ COMMITTED",
            echo=echo,
        )
    raise ValueError(f"unsupported database URL {url!r}")


SQLITE_FILE_MODE = 0o600


def _owner_only(path: Path) -> None:
    """Create the SQLite database file readable and writable by its owner only (it holds
    password hashes, encrypted PINs, the ledger), whatever the umask; tighten an existing
    one and its -wal/-shm. SQLite creates -wal and -shm with the database file's mode."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, SQLITE_FILE_MODE)
    except OSError:
        return  # SQLite itself will report what is wrong with the path
    try:
        if os.fstat(fd).st_mode & 0o777 != SQLITE_FILE_MODE:
            os.fchmod(fd, SQLITE_FILE_MODE)
    except OSError as exc:  # not our file: leave it, but say so
        log.warning("cannot make %s private (mode 0600): %s", path, exc)
    finally:
        os.close(fd)
    for suffix in ("-wal", "-shm"):
        companion = Path(f"{path}{suffix}")
        try:
            if companion.stat().st_mode & 0o777 != SQLITE_FILE_MODE:
                os.chmod(companion, SQLITE_FILE_MODE)
        except OSError:
            pass


def _create_sqlite_engine(
    url: str, *, pool_size: int, synchronous: str, busy_timeout: float, echo: bool
) -> Engine:
    database = make_url(url).database
    in_memory = not database or database == ":memory:"
    if not in_memory:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        _owner_only(Path(database))
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": busy_timeout},
        pool_size=pool_size,
        max_overflow=0,
        echo=echo,
        **({"poolclass": NullPool} if in_memory else {}),
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN out of the driver's hands so that we can issue BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Every transaction takes the write lock up front: a deferred transaction that
        # reads and then writes fails with SQLITE_BUSY instead of waiting for the lock.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
