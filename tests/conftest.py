"""Shared fixtures: one storage suite on SQLite and PostgreSQL.

* ``database`` is parametrised over both engines. SQLite tests get a private copy of a
  migrated template file; PostgreSQL tests share a database created for this test process
  (one per pytest-xdist worker, dropped after it), emptied before each test.
* PostgreSQL is found at ``$EVD_TEST_POSTGRES_URL`` (default: the local trust-auth server).
  Outside CI an unreachable server skips the PostgreSQL half with the reason; with
  ``CI=true`` it is an error, and a run in which no PostgreSQL test passed fails.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# The real browser (marker browser), registered once: one Playwright per test session.
from browser_support import browser, desktop_page, phone_page  # noqa: F401
from fixed_clock import MutableClock
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from vending.keyring import Keyring, MasterKey
from vending.storage import migrate
from vending.storage.database import Database, normalize_url

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
POSTGRES_URL = normalize_url(
    os.environ.get("EVD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
)

# Markers whose tests must run under CI=true: a run in which some were selected but none
# passed fails (a fixture that skipped them all would otherwise leave the run green). Counted
# from the test reports; under pytest-xdist the controller receives every worker's reports and
# decides, the workers (each running a share) do not.
MANDATORY_IN_CI = {"postgres": "PostgreSQL tests", "providers": "provider simulator tests"}
_mandatory_reported: Counter[str] = Counter()
_mandatory_passed: Counter[str] = Counter()


def _postgres_unavailable() -> str | None:
    """None when the test server answers, else why not."""
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL at {POSTGRES_URL} is unreachable: {exc.__class__.__name__}: {exc}"
    return None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database created for this test process, migrated, and dropped at the end.

    Session-scoped, so each pytest-xdist worker has its own (named after the worker, the
    process and a random part: runs of other checkouts on the same server never meet it);
    the tests of one worker share it, emptied before each (``make_database``)."""
    reason = _postgres_unavailable()
    if reason is not None:
        if IN_CI:
            pytest.fail(f"CI=true requires PostgreSQL: {reason}", pytrace=False)
        pytest.skip(f"{reason} (set EVD_TEST_POSTGRES_URL; mandatory in CI)")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"evd_test_{worker}_{os.getpid()}_{secrets.token_hex(4)}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _truncate_all(url: str) -> None:
    """Empty every table a test wrote to and restart every sequence it advanced. Only the
    tables holding rows are truncated: TRUNCATE costs new files per table, and most tests
    touch a few of the schema's ~90 tables."""
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = [
            row[0]
            for row in conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'alembic_version'"
                )
            )
        ]
        written = (
            conn.execute(
                text(
                    " UNION ALL ".join(
                        f"SELECT '{t}' WHERE EXISTS (SELECT 1 FROM \"{t}\")" for t in tables
                    )
                )
            )
            .scalars()
            .all()
            if tables
            else []
        )
        if written:
            conn.execute(
                text(
                    "TRUNCATE " + ", ".join(f'"{t}"' for t in written) + " RESTART IDENTITY CASCADE"
                )
            )
        # Sequences advanced without a row kept (a rolled-back insert, a batch's ids).
        advanced = conn.execute(
            text(
                "SELECT quote_ident(sequencename) FROM pg_sequences "
                "WHERE schemaname = 'public' AND last_value IS NOT NULL"
            )
        ).scalars()
        for sequence in list(advanced):
            conn.execute(text(f"ALTER SEQUENCE {sequence} RESTART"))
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = create_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


def make_database(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    if kind == "sqlite":
        path = tmp_path / "evd.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return Database(f"sqlite:///{path}", pool_size=4)
    url = request.getfixturevalue("postgres_url")
    _truncate_all(url)
    return Database(url, pool_size=8)


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    db = make_database(request.param, request, tmp_path)
    try:
        yield db
    finally:
        db.close()


@pytest.fixture
def migrated_back(database: Database) -> Iterator[Database]:
    """``database`` for a test that migrates it down: brought back to head afterwards even
    when the test fails half-way, since the PostgreSQL database is shared by the later tests
    of the same worker (a schema left at base would fail them all)."""
    try:
        yield database
    finally:
        migrate.upgrade(database.engine)


@pytest.fixture
def pg_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """PostgreSQL only, for concurrency tests SQLite cannot express."""
    db = make_database("postgresql", request, tmp_path)
    try:
        yield db
    finally:
        db.close()


# EVD_TEST_BATCHING=1: every voucher and embedded electricity sale, upstream hold and upstream
# settle or refund a test makes through the synchronous runner (ImmediateDatabase) on
# PostgreSQL goes through the sales batcher (settles: its settle lane) and its batch
# transaction (issue 16) -- a batch of one each, answered at once -- so the
# whole suite checks that the batched path keeps everything the single path does.
BATCHED_SALES = os.environ.get("EVD_TEST_BATCHING", "").lower() in ("1", "true", "yes")


@pytest.fixture(autouse=True)
def _batched_sales(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    if not BATCHED_SALES or request.node.get_closest_marker("unbatched"):
        return
    from twisted.internet.task import Clock

    from utilities.routed_sales import run_settle_batch
    from vending.services.sale_batching import sale_locks, settle_locks
    from xmlvend.transport.asyncdb import ImmediateDatabase
    from xmlvend.transport.batching import BatchingRunner

    single = ImmediateDatabase.run

    class _Inner:
        def __init__(self, outer: ImmediateDatabase) -> None:
            self.database = outer.database
            self._outer = outer

        def run(self, desc: str, fn: object, /, *args: object, **kwargs: object) -> object:
            return single(self._outer, desc, fn, *args, **kwargs)  # type: ignore[arg-type]

    def run(self: ImmediateDatabase, desc: str, fn: object, /, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        if self.database.is_postgres and sale_locks(desc, args, kwargs) is not None:
            batcher = BatchingRunner(_Inner(self), Clock(), sale_locks, max_wait=0)
            return batcher.run(desc, fn, *args, **kwargs)  # type: ignore[arg-type]
        if self.database.is_postgres and settle_locks(desc, args, kwargs) is not None:
            # An upstream route's settle or refund: through its lane's batch transaction.
            batcher = BatchingRunner(
                _Inner(self),
                Clock(),
                settle_locks,
                max_wait=0,
                batch=run_settle_batch,
                name="upstream_settle_batch",
            )
            return batcher.run(desc, fn, *args, **kwargs)  # type: ignore[arg-type]
        return single(self, desc, fn, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ImmediateDatabase, "run", run)


@pytest.fixture
def clock() -> MutableClock:
    """The test's one clock (see fixed_clock): starts at ``NOW``, moves when told."""
    return MutableClock()


@pytest.fixture
def keyring(clock: MutableClock) -> Keyring:
    return Keyring(MasterKey.generate(), clock=clock)


# GnuPG puts a home's agent sockets in the home itself when there is no /run/user/<uid> (as
# on CI machines running as root), and a unix socket path is at most 107 bytes: a home under
# a test's tmp_path (.../pytest-<n>/popen-gw<k>/<test name>/gnupg-demo-supplier/
# S.gpg-agent.browser under pytest-xdist) can be longer, and then no agent starts. A test
# that makes GnuPG homes of its own puts them in this short private directory instead.
@pytest.fixture
def gnupg_dir() -> Iterator[Path]:
    """A short private directory (``/tmp/evd-gpg-*``) for the test's GnuPG homes; at the end
    every agent started in a home directly inside it is stopped and the directory removed."""
    root = Path(tempfile.mkdtemp(prefix="evd-gpg-", dir="/tmp" if Path("/tmp").is_dir() else None))
    try:
        yield root
    finally:
        for home in root.iterdir():
            if (home / "S.gpg-agent").exists():
                subprocess.run(
                    ["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"],
                    capture_output=True,
                    check=False,
                    timeout=30,
                )
        shutil.rmtree(root, ignore_errors=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "pg_database" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for marker in MANDATORY_IN_CI:
        if marker in report.keywords:
            _mandatory_reported[marker] += report.when == "setup"
            _mandatory_passed[marker] += report.when == "call" and report.passed


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _is_xdist_worker(session.config):
        # The controller ignores a worker's exit status: it hears of leaks through the
        # worker's output (pytest_testnodedown below) and fails the run itself.
        session.config.workeroutput["secret_leaks"] = SECRETS_SENTINEL.log_leaks()
        return
    _fail_on_secret_leaks(session, SECRETS_SENTINEL.log_leaks() + _worker_leaks)
    if not IN_CI or exitstatus != 0:
        return
    for marker, what in MANDATORY_IN_CI.items():
        if _mandatory_reported[marker] > 0 and _mandatory_passed[marker] == 0:
            session.exitstatus = 1
            print(f"\nCI=true: {what} were selected but none passed")


# Leaking log records reported by the pytest-xdist workers that have finished.
_worker_leaks: list[str] = []


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """(pytest-xdist, on the controller) A worker finished: keep its secret leaks."""
    output = getattr(node, "workeroutput", None) or {}
    _worker_leaks.extend(output.get("secret_leaks", ()))


# --- secrets sentinel: no PIN (or other registered secret) in any log record of the run ----
#
# Tests register every secret they create (voucher PINs, ...) with ``secrets_sentinel``.
# Every log record of the session, DEBUG included for the project's loggers and GnuPG's, is
# kept; at the end of the session a registered secret in any record fails the run. Tests can
# also scan any text themselves (an HTTP response, /metrics, a CLI's output, a table dump)
# with ``secrets_sentinel.find(text)`` or ``assert_absent(text, where)``.

# Loggers recorded at DEBUG; others at their own levels (SQLAlchemy would log every query).
SENTINEL_LOGGERS = ("vending", "evd", "xmlvend", "utilities", "tools", "gnupg")
# The project's own loggers (the others in SENTINEL_LOGGERS are third-party).
_OWN_LOGGERS = frozenset(SENTINEL_LOGGERS) - {"gnupg"}
_DIGIT_RUN = re.compile(r"\d{4,}")
# A digit run standing alone: not glued to a letter or a digit ("PIN 5678", not "demo5678").
_STANDALONE_DIGIT_RUN = re.compile(r"(?<![0-9A-Za-z])\d{4,}(?![0-9A-Za-z])")
# Digit secrets shorter than this match standalone digit runs only (see SecretsSentinel.find).
_SHORT_SECRET_DIGITS = 8


class SecretsSentinel:
    """A registry of secrets seen by tests, and the log records of the whole session."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._digits: dict[int, set[str]] = {}  # all-digit secrets (PINs) by length
        self._others: set[str] = set()
        self.records: list[str] = []

    def register(self, *secrets_: str) -> None:
        with self._lock:
            for secret in secrets_:
                if secret.isdigit():
                    self._digits.setdefault(len(secret), set()).add(secret)
                elif secret:
                    self._others.add(secret)

    def __len__(self) -> int:
        return sum(map(len, self._digits.values())) + len(self._others)

    def find(self, text: str | bytes, *, short: bool = True) -> set[str]:
        """The registered secrets that occur in ``text`` (bytes are read as Latin-1);
        ``short=False``: not the 4-7 digit ones (see :meth:`log_leaks`)."""
        if isinstance(text, bytes | bytearray | memoryview):
            text = bytes(text).decode("latin-1")
        found = {secret for secret in self._others if secret in text}
        # A 4-6 digit secret (an SMS PIN) inside a longer digit run or a word is chance (a
        # uuid in a file name, an amount, the demo password "demo5678"): only a standalone
        # run counts.
        if short:
            pins = {
                secret
                for length, known in self._digits.items()
                if length < _SHORT_SECRET_DIGITS
                for secret in known
            }
            found.update(run for run in _STANDALONE_DIGIT_RUN.findall(text) if run in pins)
        for run in _DIGIT_RUN.findall(text):
            for length, known in self._digits.items():
                if length < _SHORT_SECRET_DIGITS:
                    continue
                for start in range(len(run) - length + 1):
                    if run[start : start + length] in known:
                        found.add(run[start : start + length])
        return found

    def assert_absent(self, text: str | bytes, where: str) -> None:
        found = self.find(text)
        assert not found, f"{len(found)} registered secret(s) in clear in {where}"

    def log_leaks(self) -> list[str]:
        """Log records that contain a registered secret, masked (``*`` for each character
        of the secret) so that the report can be printed. Records of third-party loggers
        (GnuPG's) are not searched for 4-7 digit secrets: they never see an SMS or app PIN,
        and their standalone numbers (process ids, thread numbers, byte counts) would
        match one by chance."""
        with self._lock:
            records = list(self.records)
        leaks = []
        for record in records:
            ours = record.split(" ", 1)[0].split(".", 1)[0] in _OWN_LOGGERS
            found = self.find(record, short=ours)
            masked = record
            for secret in sorted(found, key=len, reverse=True):
                masked = masked.replace(secret, "*" * len(secret))
            if found:
                leaks.append(masked)
        return leaks


class _SentinelHandler(logging.Handler):
    def __init__(self, sentinel: SecretsSentinel) -> None:
        super().__init__(logging.DEBUG)
        self.sentinel = sentinel

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = f"{record.name} {record.levelname} {record.getMessage()}"
            if record.exc_info:
                text += "\n" + logging.Formatter().formatException(record.exc_info)
        except Exception:  # a record that cannot be formatted is kept raw
            text = f"{record.name} {record.msg!r} {record.args!r}"
        with self.sentinel._lock:
            self.sentinel.records.append(text)


SECRETS_SENTINEL = SecretsSentinel()


def pytest_configure(config: pytest.Config) -> None:
    logging.getLogger().addHandler(_SentinelHandler(SECRETS_SENTINEL))
    for name in SENTINEL_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level > logging.DEBUG:
            logger.setLevel(logging.DEBUG)


@pytest.fixture(scope="session")
def secrets_sentinel() -> SecretsSentinel:
    """Register secrets with it; scan any text for them (see the comment above)."""
    return SECRETS_SENTINEL


def _fail_on_secret_leaks(session: pytest.Session, leaks: list[str]) -> None:
    if leaks:
        session.exitstatus = 1
        print(
            f"\nsecrets sentinel: {len(leaks)} log record(s) contain a registered secret "
            f"(a PIN in clear); the first, masked: {leaks[0][:500]}"
        )


_live_threads: list[threading.Thread] = []


@pytest.fixture(scope="session")
def live_reactor() -> Any:
    """The global reactor running in a daemon thread (``blockingCallFromThread``)."""
    from twisted.internet import reactor

    if not _live_threads and not reactor.running:
        thread = threading.Thread(
            target=reactor.run, kwargs={"installSignalHandlers": False}, daemon=True
        )
        thread.start()
        _live_threads.append(thread)
    return reactor
