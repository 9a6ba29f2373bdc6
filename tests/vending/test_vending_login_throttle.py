"""Failed-login throttling (vending.login_throttle) and the Authenticator using it, on both
databases, with a fake clock (expiry is the clock's decision, never a sleep)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from vending_support import VENDOR, run

from vending import auth
from vending.auth import Authenticator
from vending.errors import AuthenticationFailed, UnknownVendor
from vending.login_throttle import (
    Lock,
    LockoutFront,
    LoginThrottled,
    ThrottleKey,
    ThrottleSettings,
    active_lock,
    clear_failures,
    keys_for,
    prune,
    record_failure,
)
from vending.passwords import hash_password, verify_password
from vending.storage.database import Database, Txn
from vending.storage.schema import audit_log, login_failures
from vending.vendors import create_operator, create_vendor

PASSWORD = "s3cret-pw"
START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
SETTINGS = ThrottleSettings(
    max_failures_per_operator=3,
    max_failures_per_address=5,
    window_seconds=600,
    lockout_seconds=120,
)
OPERATOR = ThrottleKey("operator", f"{VENDOR} op1")
ADDRESS = ThrottleKey("address", "10.9.8.7")


@dataclass
class FakeClock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _setup(txn: Txn) -> None:
    create_vendor(txn, client_id=VENDOR, name="Cafe", currency="ZAR", address="1 Road")
    create_operator(
        txn, name="op1", password_hash=hash_password(PASSWORD, log_n=10), vendor_client_id=VENDOR
    )


@pytest.fixture
def db(database: Database) -> Database:
    run(database, _setup)
    return database


def _audit(db: Database) -> list[dict]:
    def load(txn: Txn) -> list[dict]:
        rows = txn.execute(select(audit_log).where(audit_log.c.action == "login_locked"))
        return [dict(row._mapping) for row in rows]

    return run(db, load)


def _fail(db: Database, keys: tuple[ThrottleKey, ...], now: datetime) -> Lock | None:
    return db.run_txn("t_fail", record_failure, keys, now, SETTINGS)


def _lock(db: Database, keys: tuple[ThrottleKey, ...], now: datetime) -> Lock | None:
    return db.run_txn("t_lock", active_lock, keys, now)


# --- storage ---------------------------------------------------------------------------------


def test_the_nth_failure_locks_the_key_audits_it_and_the_lock_expires(db: Database) -> None:
    now = START
    for _ in range(SETTINGS.max_failures_per_operator - 1):
        assert _fail(db, (OPERATOR,), now) is None
        now += timedelta(seconds=1)
    assert _lock(db, (OPERATOR,), now) is None
    lock = _fail(db, (OPERATOR,), now)
    assert lock == Lock(OPERATOR, now + timedelta(seconds=120))
    assert _lock(db, (OPERATOR, ADDRESS), now + timedelta(seconds=119)) == lock
    assert _lock(db, (ADDRESS,), now) is None  # only the key that failed
    assert _lock(db, (OPERATOR,), now + timedelta(seconds=120)) is None  # expired
    [entry] = _audit(db)
    assert entry["actor"] == "system:login-throttle"
    assert entry["subject"] == f"operator:{VENDOR} op1"
    assert entry["details"]["failures"] == 3
    assert PASSWORD not in str(entry)


def test_a_failure_during_a_lock_reports_that_lock(db: Database) -> None:
    """An attempt that was under way when another one set the lock learns of it (so that
    its process refuses the next ones without a database read); audited only once."""
    for _ in range(3):
        lock = _fail(db, (OPERATOR,), START)
    assert lock is not None
    assert _fail(db, (OPERATOR, ADDRESS), START + timedelta(seconds=5)) == lock
    assert len(_audit(db)) == 1


def test_after_a_lock_expires_counting_starts_again(db: Database) -> None:
    for _ in range(3):
        lock = _fail(db, (OPERATOR,), START)
    assert lock is not None
    later = lock.until + timedelta(seconds=1)
    assert _fail(db, (OPERATOR,), later) is None  # 1 of 3 again, not a fresh lock at once
    assert _fail(db, (OPERATOR,), later) is None
    assert _fail(db, (OPERATOR,), later) is not None


def test_failures_outside_the_window_are_forgotten(db: Database) -> None:
    _fail(db, (OPERATOR,), START)
    _fail(db, (OPERATOR,), START)
    after_window = START + timedelta(seconds=SETTINGS.window_seconds)
    assert _fail(db, (OPERATOR,), after_window) is None
    assert _fail(db, (OPERATOR,), after_window) is None


def test_operator_and_address_limits_differ(db: Database) -> None:
    locks = [_fail(db, (ADDRESS,), START) for _ in range(SETTINGS.max_failures_per_address)]
    assert locks[:-1] == [None] * 4
    assert locks[-1] == Lock(ADDRESS, START + timedelta(seconds=120))


def test_a_success_clears_and_prune_deletes_what_is_over(db: Database) -> None:
    _fail(db, (OPERATOR, ADDRESS), START)
    db.run_txn("t_clear", clear_failures, OPERATOR)

    def subjects(txn: Txn) -> set[str]:
        return set(txn.execute(select(login_failures.c.subject)).scalars())

    assert run(db, subjects) == {ADDRESS.subject}
    assert db.run_txn("t_prune", prune, START + timedelta(seconds=10), SETTINGS) == 0
    assert db.run_txn("t_prune", prune, START + timedelta(seconds=600), SETTINGS) == 1
    assert run(db, subjects) == set()


def test_concurrent_failures_are_all_counted(db: Database) -> None:
    """Workers share nothing but the database: no failure may be lost between them."""
    settings = ThrottleSettings(max_failures_per_operator=1000, max_failures_per_address=1000)
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        for _ in range(5):
            db.run_txn("t_fail", record_failure, (OPERATOR, ADDRESS), START, settings)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    def counts(txn: Txn) -> dict[str, int]:
        rows = txn.execute(select(login_failures.c.kind, login_failures.c.failures))
        return {row.kind: row.failures for row in rows}

    assert run(db, counts) == {"operator": 40, "address": 40}


def test_keys_and_the_front() -> None:
    assert keys_for(VENDOR, "op1", "10.9.8.7") == (OPERATOR, ADDRESS)
    assert keys_for(VENDOR, None, None) == ()
    front = LockoutFront(max_entries=2)
    front.remember(Lock(OPERATOR, START + timedelta(seconds=5)))
    assert front.locked((ADDRESS, OPERATOR), START) == Lock(OPERATOR, START + timedelta(seconds=5))
    assert front.locked((OPERATOR,), START + timedelta(seconds=5)) is None  # expired, dropped
    for index in range(5):  # bounded
        front.remember(Lock(ThrottleKey("address", str(index)), START + timedelta(seconds=index)))
    assert len(front._locks) <= 2


# --- the Authenticator ---------------------------------------------------------------------


@pytest.fixture
def scrypt_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The stored hashes the authenticator checked passwords against (real scrypt)."""
    calls: list[str] = []

    def recording(password: str, stored: str) -> bool:
        calls.append(stored)
        return verify_password(password, stored)

    monkeypatch.setattr(auth, "verify_password", recording)
    return calls


def _authenticator(db: Database, clock: FakeClock) -> Authenticator:
    return Authenticator(db, cache_seconds=60, password_log_n=10, throttle=SETTINGS, clock=clock)


def test_locked_operator_is_refused_even_with_the_right_password_until_expiry(
    db: Database, scrypt_calls: list[str]
) -> None:
    clock = FakeClock()
    authenticator = _authenticator(db, clock)
    for _ in range(3):
        with pytest.raises(AuthenticationFailed, match="wrong password"):
            authenticator.authenticate(VENDOR, "op1", "wrong-pw", address="10.0.0.1")
    checks = len(scrypt_calls)
    with pytest.raises(LoginThrottled, match="retry after 120 seconds") as refused:
        authenticator.authenticate(VENDOR, "op1", PASSWORD, address="10.0.0.2")
    assert refused.value.retry_after == 120
    assert len(scrypt_calls) == checks  # refused without a hash
    clock.advance(60)
    with pytest.raises(LoginThrottled, match="retry after 60 seconds"):
        authenticator.authenticate(VENDOR, "op1", PASSWORD, address="10.0.0.2")
    clock.advance(60)
    principal = authenticator.authenticate(VENDOR, "op1", PASSWORD, address="10.0.0.2")
    assert principal.operator_name == "op1"


def test_attempts_waiting_for_the_hashing_pool_are_not_hashed_once_locked(
    db: Database, scrypt_calls: list[str]
) -> None:
    """48 clients at once all pass the first lock check; those still waiting for the
    hashing pool when the lock lands are refused there, unhashed and uncounted."""
    clock = FakeClock()
    authenticator = _authenticator(db, clock)
    waiting = authenticator.begin(VENDOR, "op1", "wrong-pw", address="10.0.0.1")
    assert not isinstance(waiting, auth.Principal)
    for _ in range(3):
        with pytest.raises(AuthenticationFailed):
            authenticator.authenticate(VENDOR, "op1", "wrong-pw", address="10.0.0.1")
    checks = len(scrypt_calls)
    verdict = authenticator.verify(waiting)
    assert len(scrypt_calls) == checks and verdict.locked is not None
    with pytest.raises(LoginThrottled):
        authenticator.finish(waiting, verdict)

    def failures(txn: Txn) -> int:
        return txn.execute(
            select(login_failures.c.failures).where(login_failures.c.kind == "operator")
        ).scalar_one()

    assert run(db, failures) == 3


def test_the_front_refuses_without_a_database_read(db: Database) -> None:
    clock = FakeClock()
    authenticator = _authenticator(db, clock)
    for _ in range(3):
        with pytest.raises(AuthenticationFailed):
            authenticator.authenticate(VENDOR, "op1", "wrong-pw")
    reads = db.stats.by_name["load_identity"].count
    with pytest.raises(LoginThrottled):
        authenticator.authenticate(VENDOR, "op1", PASSWORD)
    assert db.stats.by_name["load_identity"].count == reads


def test_another_worker_sees_the_lock_through_the_database(
    db: Database, scrypt_calls: list[str]
) -> None:
    clock = FakeClock()
    first, second = _authenticator(db, clock), _authenticator(db, clock)
    for _ in range(3):
        with pytest.raises(AuthenticationFailed):
            first.authenticate(VENDOR, "op1", "wrong-pw")
    checks = len(scrypt_calls)
    with pytest.raises(LoginThrottled):
        second.authenticate(VENDOR, "op1", PASSWORD)
    assert len(scrypt_calls) == checks
    with pytest.raises(LoginThrottled):  # now from its own front
        second.locked(VENDOR, "op1", None)


def test_an_address_is_locked_across_operators_and_unknown_vendors(db: Database) -> None:
    clock = FakeClock()
    authenticator = _authenticator(db, clock)
    for name in ("a1", "a2", "a3", "a4"):
        with pytest.raises(AuthenticationFailed):
            authenticator.authenticate(VENDOR, name, "wrong-pw", address="10.9.8.7")
    with pytest.raises(UnknownVendor):  # an unknown client id counts too
        authenticator.authenticate("NO-SUCH-VENDOR", "x", "wrong-pw", address="10.9.8.7")
    with pytest.raises(LoginThrottled, match="this client address"):
        authenticator.authenticate(VENDOR, "op1", PASSWORD, address="10.9.8.7")
    # The operator itself is not locked: from elsewhere it still logs in.
    assert authenticator.authenticate(VENDOR, "op1", PASSWORD, address="10.1.1.1").operator_id


def test_a_success_clears_the_operators_failures(db: Database) -> None:
    clock = FakeClock()
    authenticator = _authenticator(db, clock)
    for _ in range(2):
        with pytest.raises(AuthenticationFailed):
            authenticator.authenticate(VENDOR, "op1", "wrong-pw")
    authenticator.authenticate(VENDOR, "op1", PASSWORD)
    authenticator.forget()
    for _ in range(2):  # two more do not lock: the count started again
        with pytest.raises(AuthenticationFailed, match="wrong password"):
            authenticator.authenticate(VENDOR, "op1", "wrong-pw")


def test_an_unknown_operator_costs_a_hash_at_the_configured_cost(
    db: Database, scrypt_calls: list[str]
) -> None:
    """No enumeration by timing: the dummy hash has the cost real hashes have (before the
    fix it was fixed at 2**14 whatever the configuration)."""
    for log_n in (10, 11):
        scrypt_calls.clear()
        authenticator = Authenticator(db, password_log_n=log_n, clock=FakeClock())
        with pytest.raises(AuthenticationFailed, match="unknown operator or wrong password"):
            authenticator.authenticate(VENDOR, "nobody", "some-password")
        [stored] = scrypt_calls
        assert stored.startswith(f"scrypt${log_n}$8$1$")


def test_an_attempt_never_shows_its_password(db: Database) -> None:
    authenticator = _authenticator(db, FakeClock())
    attempt = authenticator.begin(VENDOR, "op1", "secret-guess", "new-secret1")
    assert "secret-guess" not in repr(attempt) and "new-secret1" not in repr(attempt)
    verdict = authenticator.verify(authenticator.begin(VENDOR, "op1", PASSWORD, "new-secret1"))
    assert verdict.new_hash is not None and verdict.new_hash not in repr(verdict)
