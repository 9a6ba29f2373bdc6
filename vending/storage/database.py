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
from vending.storage.prepared import PREPARED_NAMES

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

# SQLSTATEs after which the whole transaction may simply be run again.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})

# Txn.local key of a set-based sale batch's plan (vending.batch_plan).
BATCH_PLAN = "vending.batch_plan"


class Txn:
    """One running transaction, handed to transaction functions."""

    __slots__ = (
        "_after_commit",
        "_before_commit",
        "_final",
        "conn",
        "desc",
        "dialect",
        "local",
        "merges_commit",
    )

    def __init__(self, conn: Connection, desc: str, *, merges_commit: bool = False) -> None:
        self.conn = conn
        self.desc = desc
        self.dialect: str = conn.dialect.name
        # True when this transaction's COMMIT can carry its last statement (commit_with).
        self.merges_commit = merges_commit
        self._final: _Final | None = None
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

    def driver_run(self, statement: str, params: dict[str, Any], *, fetch: bool = False) -> Any:
        """Run ``statement`` (raw SQL, psycopg2 parameters) on a cursor of the DBAPI
        connection itself, and with ``fetch`` return its one row's one value.

        Why: a set-based sale batch sends two large statements per batch, whose result it
        reads itself; ``exec_driver_sql`` builds an execution context and a result object
        around each (~0.1 ms of the database thread's time per batch, holding the GIL).
        SQLAlchemy's cursor execution is still what runs the statement, so the engine's
        ``before_cursor_execute`` hooks (a merged transaction's BEGIN) apply, and a driver
        error is wrapped (``DBAPIError``) and a dead connection invalidated as for any
        statement."""
        conn = self.conn
        raw = conn.connection.dbapi_connection
        assert raw is not None
        cursor = raw.cursor()
        try:
            conn._cursor_execute(cursor, statement, params)
            if not fetch:
                return None
            rows = cursor.fetchmany(2)
        finally:
            cursor.close()
        if len(rows) != 1:
            raise RuntimeError(f"expected one row, the statement returned {len(rows)}")
        return rows[0][0]

    def call_after(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` once after this transaction commits (not if it rolls back)."""
        self._after_commit.append((fn, args))

    def before_commit(self, fn: Callable[[Txn], None]) -> None:
        """Run ``fn(txn)`` as this transaction's last work, right before its COMMIT (an
        exception still rolls everything back). Used to touch hot rows as late as possible
        (vending.ledger's deferred credits) so that their locks are held only briefly."""
        self._before_commit.append(fn)

    def cancel_before_commit(self, fn: Callable[[Txn], None]) -> None:
        """Take back a hook given to :meth:`before_commit` (its work is done otherwise)."""
        self._before_commit.remove(fn)

    def run_before_commit(self) -> None:
        while self._before_commit:
            self._before_commit.pop(0)(self)

    def commit_with(
        self, statement: str, params: dict[str, Any], *, refusal: Refusal | None = None
    ) -> None:
        """Send ``statement`` (raw SQL, psycopg2 parameters) to the server together with
        this transaction's COMMIT, in one round trip. Only where :attr:`merges_commit`
        (a PostgreSQL transaction run by :func:`commits_with_last_statement` functions).

        Why: the last statement of a sale batch locks the hot accounts (the utility's, the
        house's), which every batch of every worker credits; their locks are held until the
        COMMIT is durable. Sent apart, the COMMIT leaves only after the database thread got
        the GIL back from the reactor, and every other batch waits on those rows meanwhile.
        The statement must check its own outcome in SQL (raise, not return a count): an
        error stops the rest of the query string, so the COMMIT does not run.

        ``refusal``: what the caller's check refusing means in its own terms. Given the
        database's message of an exception the statement RAISEd (SQLSTATE P0001, e.g.
        ``evd_batch_expect``), it returns the domain error to raise instead (the database
        error as its cause), or None where the message is not its refusal: the statement's
        owner knows what its check means, the transaction's caller then sees that error as
        it would from a statement run apart. Any other failure stays the database's."""
        if not self.merges_commit:
            raise RuntimeError("commit_with needs a transaction that merges its COMMIT")
        if self._final is not None:  # only the very last statement rides with the COMMIT
            previous, self._final = self._final, None
            _run_final(self, previous, commit=False)
        self._final = _Final(statement, params, refusal)


# The caller's reading of its checked statement's refusal (Txn.commit_with).
Refusal = Callable[[str], Exception | None]
# SQLSTATE of an exception RAISEd by PL/pgSQL without its own code.
RAISED_BY_CHECK = "P0001"


@dataclass(frozen=True)
class _Final:
    """The statement that rides with a merged transaction's COMMIT."""

    statement: str
    params: dict[str, Any]
    refusal: Refusal | None


def _run_final(txn: Txn, final: _Final, *, commit: bool) -> None:
    """Run the statement handed to :meth:`Txn.commit_with` (with the COMMIT appended, or
    alone where a later one took its place), a refusal of its check in its owner's terms."""
    statement = final.statement + ";\nCOMMIT" if commit else final.statement
    try:
        txn.driver_run(statement, final.params)
    except DBAPIError as exc:
        refused = _refusal_of(exc, final.refusal)
        if refused is None:
            raise
        raise refused from exc


def _refusal_of(exc: DBAPIError, refusal: Refusal | None) -> Exception | None:
    if refusal is None or getattr(exc.orig, "pgcode", None) != RAISED_BY_CHECK:
        return None
    diag = getattr(exc.orig, "diag", None)
    message = getattr(diag, "message_primary", None) or str(exc.orig)
    return refusal(message)


MERGES_COMMIT = "_evd_merges_commit"


def commits_with_last_statement(fn: Callable[P, T]) -> Callable[P, T]:
    """Mark a transaction function whose PostgreSQL transaction sends its last statement
    (:meth:`Txn.commit_with`) and its COMMIT in one round trip (:func:`_run_merged`)."""
    setattr(fn, MERGES_COMMIT, True)
    return fn


def _run_merged(
    conn: Connection,
    txn: Txn,
    fn: Callable[..., T],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> T:
    """Run ``fn`` in a transaction whose BEGIN and COMMIT are ours, not psycopg2's: the
    driver is put in autocommit for the duration (so it sends neither), BEGIN goes first,
    and the COMMIT goes in the same query string as the statement handed to
    :meth:`Txn.commit_with`. A failure sends ROLLBACK (an error inside that query string
    stops it before its COMMIT). SQLAlchemy's own transaction on ``conn`` never reaches
    the server: its rollback at the end is a no-op in the driver, which never saw a BEGIN."""
    raw = conn.connection.dbapi_connection
    assert raw is not None
    raw.autocommit = True
    # BEGIN rides with the transaction's first statement (_begin_with_first_statement).
    conn.info[_BEGIN_PENDING] = True
    try:
        try:
            result = fn(txn, *args, **kwargs)
            txn.run_before_commit()
            final, txn._final = txn._final, None
            if final is not None:
                _run_final(txn, final, commit=True)
            elif not conn.info.pop(_BEGIN_PENDING, False):
                conn.exec_driver_sql("COMMIT")
            # (else: not one statement ran, so nothing was begun and nothing is to commit)
        except BaseException:
            _rollback_quietly(conn)
            raise
        return result
    finally:
        conn.info.pop(_BEGIN_PENDING, None)
        if not raw.closed:
            raw.autocommit = False


def _rollback_quietly(conn: Connection) -> None:
    """End a failed merged transaction; a dead connection needs nothing (the server rolled
    it back), and the original error is what the caller must see."""
    if conn.info.pop(_BEGIN_PENDING, False):
        return  # nothing reached the server
    try:
        if not conn.invalidated and not conn.connection.dbapi_connection.closed:  # type: ignore[union-attr]
            conn.exec_driver_sql("ROLLBACK")
    except Exception:
        log.debug("rollback after a failed transaction failed", exc_info=True)


_BEGIN_PENDING = "evd.begin_pending"


def _begin_with_first_statement(
    conn: Connection,
    cursor: Any,
    statement: str,
    parameters: Any,
    _context: Any,
    executemany: bool,
) -> tuple[str, Any]:
    """A merged transaction's BEGIN goes in the same query string as its first statement
    (one round trip less; psycopg2 returns the last statement's result). For an
    executemany, where the statement runs once per row, BEGIN goes alone first."""
    if conn.info and conn.info.pop(_BEGIN_PENDING, False):
        if executemany:
            cursor.execute("BEGIN")
        else:
            statement = "BEGIN;\n" + statement
    return statement, parameters


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
        prepare_statements: bool = True,
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
            prepare_statements=prepare_statements,
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
            prepare_statements=config.database.prepare_statements,
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
                    if self.is_postgres and getattr(fn, MERGES_COMMIT, False):
                        txn = Txn(conn, desc, merges_commit=True)
                        result = _run_merged(conn, txn, fn, args, kwargs)
                    else:
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
    prepare_statements: bool,
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
        engine = create_engine(
            normalize_url(url),
            pool_size=pool_size,
            max_overflow=0,
            # No ping before each transaction (a round trip each): a connection found dead
            # by the transaction's first statement is invalidated, and run_txn retries the
            # whole transaction on a fresh one (is_retryable).
            pool_pre_ping=False,
            pool_timeout=30,
            echo=echo,
        )

        event.listen(engine, "before_cursor_execute", _begin_with_first_statement, retval=True)

        @event.listens_for(engine, "connect")
        def _read_committed(dbapi_connection: Any, _record: Any) -> None:
            # READ COMMITTED whatever the server's default, set once per connection rather
            # than through the driver's isolation level: with one set, psycopg2 sends a SET
            # each time a merged transaction (_run_merged) turns its autocommit back off.
            cursor = dbapi_connection.cursor()
            cursor.execute(
                "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED"
            )
            cursor.close()
            dbapi_connection.commit()

        if prepare_statements:

            @event.listens_for(engine, "connect")
            def _prepares(_dbapi_connection: Any, record: Any) -> None:
                # The names this connection prepared (vending.storage.prepared); without
                # the set, statements go as text.
                record.info[PREPARED_NAMES] = set()

        return engine
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
