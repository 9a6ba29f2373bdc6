"""Failed-login throttling, per operator and per client address.

Guessing passwords costs the guesser nothing and the server a scrypt each, so failures are
counted: after ``max_failures`` failed logins of one operator (``<clientID> <opName>``,
whether or not that operator exists, so the counters tell nothing about who exists) or
from one client address within ``window``, that key is locked for ``lockout``; every login
of it is then refused with :class:`LoginThrottled` (its message says when to retry) without
a password check, and the lock is written to the audit trail. Locks and counters expire by
themselves (the injected clock decides); a successful login clears its operator's count.

The counters live in the database (``login_failures``) so that they hold across the
processes of ``evd serve --workers N``; :class:`LockoutFront` remembers the locks this
process has seen, so that a locked key is refused without a database hop.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from vending import audit
from vending.errors import AuthenticationFailed
from vending.storage.database import Txn
from vending.storage.schema import login_failures

SUBJECT_LENGTH = 200

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ThrottleSettings:
    """How many failures (per operator, per address) within ``window_seconds`` lock a key,
    and for how long."""

    max_failures_per_operator: int = 10
    max_failures_per_address: int = 20
    window_seconds: float = 900.0
    lockout_seconds: float = 300.0

    @classmethod
    def from_config(cls, security: Any) -> ThrottleSettings:
        """The settings of a config's ``[security]`` section."""
        return cls(
            max_failures_per_operator=security.login_max_failures_per_operator,
            max_failures_per_address=security.login_max_failures_per_address,
            window_seconds=security.login_failure_window_seconds,
            lockout_seconds=security.login_lockout_seconds,
        )

    def limit(self, kind: str) -> int:
        if kind == "operator":
            return self.max_failures_per_operator
        return self.max_failures_per_address


@dataclass(frozen=True, order=True)
class ThrottleKey:
    """What failures are counted against: ``("operator", "<clientID> <opName>")`` or
    ``("address", "<client address>")``."""

    kind: str
    subject: str

    def describe(self) -> str:
        return "this operator" if self.kind == "operator" else "this client address"


def keys_for(
    client_id: str, operator_name: str | None, address: str | None
) -> tuple[ThrottleKey, ...]:
    """The keys a login attempt counts against (the operator key only with a name)."""
    keys = []
    if operator_name:
        keys.append(ThrottleKey("operator", f"{client_id} {operator_name}"[:SUBJECT_LENGTH]))
    if address:
        keys.append(ThrottleKey("address", address[:SUBJECT_LENGTH]))
    return tuple(keys)


class LoginThrottled(AuthenticationFailed):
    """Too many failed logins: refused without checking the password until ``locked_until``."""

    code = "login_throttled"

    def __init__(self, key: ThrottleKey, locked_until: datetime, now: datetime) -> None:
        seconds = max(1, math.ceil((locked_until - now).total_seconds()))
        super().__init__(
            f"too many failed logins for {key.describe()}; retry after {seconds} seconds"
        )
        self.key = key
        self.locked_until = locked_until
        self.retry_after = seconds


@dataclass(frozen=True)
class Lock:
    key: ThrottleKey
    until: datetime


# --- storage (transaction functions) ---------------------------------------------------------


def _key_filter(keys: Iterable[ThrottleKey]) -> object:
    return or_(
        *(
            and_(login_failures.c.kind == key.kind, login_failures.c.subject == key.subject)
            for key in keys
        )
    )


def active_lock(txn: Txn, keys: tuple[ThrottleKey, ...], now: datetime) -> Lock | None:
    """The lock (the longest) holding one of ``keys`` at ``now``, else None."""
    if not keys:
        return None
    rows = txn.execute(
        select(login_failures.c.kind, login_failures.c.subject, login_failures.c.locked_until)
        .where(_key_filter(keys))
        .where(login_failures.c.locked_until > now)
    ).all()
    if not rows:
        return None
    row = max(rows, key=lambda r: r.locked_until)
    return Lock(ThrottleKey(row.kind, row.subject), row.locked_until)


def has_failures(txn: Txn, key: ThrottleKey) -> bool:
    found = txn.execute(
        select(login_failures.c.id).where(_key_filter([key])).where(login_failures.c.failures > 0)
    ).first()
    return found is not None


def _insert_missing(txn: Txn, key: ThrottleKey, now: datetime) -> None:
    """Create the key's row unless another transaction (or worker) did: no unique error."""
    dialect = postgresql if txn.is_postgres else sqlite
    statement = (
        dialect.insert(login_failures)
        .values(kind=key.kind, subject=key.subject, failures=0, window_started_at=now)
        .on_conflict_do_nothing(index_elements=["kind", "subject"])
    )
    txn.execute(statement)


def record_failure(
    txn: Txn, keys: tuple[ThrottleKey, ...], now: datetime, settings: ThrottleSettings
) -> Lock | None:
    """Count one failed login against each of ``keys``; the longest lock now in effect on
    them, if any (one this failure set is audited here, in the same transaction; one set
    meanwhile by another attempt is returned too, so that this process learns of it)."""
    found: Lock | None = None
    for key in sorted(keys):  # a fixed order: concurrent workers lock rows alike
        _insert_missing(txn, key, now)
        query = select(
            login_failures.c.id,
            login_failures.c.failures,
            login_failures.c.window_started_at,
            login_failures.c.locked_until,
        ).where(_key_filter([key]))
        if txn.is_postgres:
            query = query.with_for_update()
        row = txn.execute(query).one()
        failures, started, locked_until = row.failures, row.window_started_at, row.locked_until
        window_over = started + timedelta(seconds=settings.window_seconds) <= now
        lock_over = locked_until is not None and locked_until <= now
        if window_over or lock_over:
            failures, started, locked_until = 0, now, None
        failures += 1
        if locked_until is None and failures >= settings.limit(key.kind):
            locked_until = now + timedelta(seconds=settings.lockout_seconds)
            txn.call_after(
                log.warning,
                "login locked after %d failures: %s %s until %s",
                failures,
                key.kind,
                key.subject,
                locked_until.isoformat(),
            )
            audit.record(
                txn,
                actor="system:login-throttle",
                action="login_locked",
                subject=f"{key.kind}:{key.subject}",
                details={
                    "failures": failures,
                    "window_seconds": settings.window_seconds,
                    "locked_until": locked_until.isoformat(),
                },
                now=now,
            )
        txn.execute(
            update(login_failures)
            .where(login_failures.c.id == row.id)
            .values(failures=failures, window_started_at=started, locked_until=locked_until)
        )
        if locked_until is not None and (found is None or locked_until > found.until):
            found = Lock(key, locked_until)
    return found


def clear_failures(txn: Txn, key: ThrottleKey) -> None:
    """A successful login: the operator's failures are forgotten (not a lock still running:
    a correct password during a lockout is refused before it is checked)."""
    txn.execute(delete(login_failures).where(_key_filter([key])))


def prune(txn: Txn, now: datetime, settings: ThrottleSettings) -> int:
    """Delete the rows whose window and lock are both over; how many."""
    window_start = now - timedelta(seconds=settings.window_seconds)
    result = txn.execute(
        delete(login_failures).where(
            login_failures.c.window_started_at <= window_start,
            or_(login_failures.c.locked_until.is_(None), login_failures.c.locked_until <= now),
        )
    )
    return result.rowcount or 0


# --- the in-process front -------------------------------------------------------------------


class LockoutFront:
    """The locks this process knows of (thread-safe, never blocks): a locked key is refused
    here, before any database read or password hash. Bounded: when full, expired locks are
    dropped, then the oldest."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._locks: dict[ThrottleKey, datetime] = {}
        self._lock = threading.Lock()
        self._max = max_entries

    def remember(self, lock: Lock) -> None:
        with self._lock:
            if len(self._locks) >= self._max:
                newest = max(self._locks.values())
                self._locks = {k: v for k, v in self._locks.items() if v >= newest}
            self._locks[lock.key] = max(lock.until, self._locks.get(lock.key, lock.until))

    def locked(self, keys: tuple[ThrottleKey, ...], now: datetime) -> Lock | None:
        found: Lock | None = None
        with self._lock:
            for key in keys:
                until = self._locks.get(key)
                if until is None:
                    continue
                if until <= now:
                    del self._locks[key]
                elif found is None or until > found.until:
                    found = Lock(key, until)
        return found
