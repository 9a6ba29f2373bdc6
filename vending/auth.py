"""Who is asking: client id → vendor, operator name + password → operator.

scrypt costs tens of milliseconds by design, far too much for every vend, so a successful
verification is remembered in memory for ``security.auth_cache_seconds`` under a keyed hash
of the password (the password itself is never kept). A cached principal is re-checked inside
each operation's own transaction with :func:`revalidate` (one indexed read): a blocked vendor
or operator, or a changed password, takes effect on the very next request.

Failed logins are throttled per operator and per client address
(:mod:`vending.login_throttle`): a locked key is refused before its password is checked,
cached or not (else a lockout would turn into a free, fast guessing oracle). An unknown
operator costs a check against a dummy hash at the configured cost, so names cannot be
told from wrong passwords by timing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select

from vending.batch_plan import plan_of
from vending.clock import Clock
from vending.errors import (
    AuthenticationFailed,
    OperatorBlocked,
    UnknownVendor,
    VendorBlocked,
)
from vending.login_throttle import (
    Lock,
    LockoutFront,
    LoginThrottled,
    ThrottleKey,
    ThrottleSettings,
    active_lock,
    clear_failures,
    has_failures,
    keys_for,
    prune,
    record_failure,
)
from vending.passwords import PasswordPolicyError, hash_password, verify_password
from vending.storage.database import Database, Txn
from vending.storage.schema import accounts, operators, vendors
from vending.vendors import parse_privileges, set_operator_password


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a vendor, and the operator at its terminal when named."""

    vendor_id: int
    client_id: str
    vendor_name: str
    vendor_address: str
    account_id: int
    currency: str
    operator_id: int | None
    operator_name: str | None
    # The operator's credential version when the password was verified.
    credential_version: int = 0
    # What the vendor may do beyond selling (vending.vendors.PRIVILEGES).
    privileges: frozenset[str] = frozenset()
    # A consumer paying from its wallet (``account_id``): every sale checks the wallet's
    # daily spend limit at its debit, in the sale's transaction (vending.sales).
    consumer_id: int | None = None


@dataclass(frozen=True)
class _Identity:
    principal: Principal
    vendor_blocked: bool
    require_auth: bool | None
    password_hash: str | None
    operator_blocked: bool
    credential_version: int


def _load_identity(txn: Txn, client_id: str, operator_name: str | None) -> _Identity | None:
    query = (
        select(
            vendors.c.id,
            vendors.c.name,
            vendors.c.address,
            vendors.c.account_id,
            vendors.c.blocked,
            vendors.c.require_auth,
            vendors.c.privileges,
            accounts.c.currency,
            operators.c.id.label("operator_id"),
            operators.c.password_hash,
            operators.c.blocked.label("operator_blocked"),
            operators.c.credential_version,
        )
        .join(accounts, accounts.c.id == vendors.c.account_id)
        .outerjoin(
            operators,
            and_(operators.c.vendor_id == vendors.c.id, operators.c.name == (operator_name or "")),
        )
        .where(vendors.c.client_id == client_id)
    )
    row = txn.execute(query).first()
    if row is None:
        return None
    return _Identity(
        principal=Principal(
            vendor_id=row.id,
            client_id=client_id,
            vendor_name=row.name,
            vendor_address=row.address,
            account_id=row.account_id,
            currency=row.currency,
            operator_id=row.operator_id,
            operator_name=operator_name if row.operator_id is not None else None,
            credential_version=row.credential_version or 0,
            privileges=parse_privileges(row.privileges),
        ),
        vendor_blocked=bool(row.blocked),
        require_auth=row.require_auth,
        password_hash=row.password_hash,
        operator_blocked=bool(row.operator_blocked),
        credential_version=row.credential_version or 0,
    )


@dataclass(frozen=True)
class LoginAttempt:
    """A login whose password is still to be checked (see :meth:`Authenticator.begin`)."""

    client_id: str
    operator_name: str | None
    # Never in a repr: an attempt must not carry a password into a log or a traceback.
    password: str = field(repr=False)
    new_password: str | None = field(repr=False)
    keys: tuple[ThrottleKey, ...]
    identity: _Identity = field(repr=False)
    # The stored hash, or the dummy one at the configured cost for an unknown operator.
    check_hash: str = field(repr=False)
    # The operator has failures counted: a success clears them.
    had_failures: bool


@dataclass(frozen=True)
class Verdict:
    """The outcome of the password check (CPU only: scrypt, no database)."""

    ok: bool
    # With a new password: it is already the operator's (a retry of a done change).
    already_changed: bool = False
    new_hash: str | None = field(default=None, repr=False)
    refused_new_password: str | None = None
    # Locked while the attempt waited for the hashing pool: not checked, not counted.
    locked: Lock | None = None


def dummy_hash(log_n: int) -> str:
    """A well-formed hash no password matches, at the configured cost: checking against it
    takes as long as checking a real operator's password."""
    zeros = "A" * 43 + "="
    return f"scrypt${log_n}$8$1$AAAAAAAAAAAAAAAAAAAAAA==${zeros}"


class Authenticator:
    """Thread-safe. :meth:`authenticate` does everything on the calling thread; a server
    splits it so that scrypt never occupies a database thread: :meth:`locked` and
    :meth:`cached` (never block), :meth:`begin` and :meth:`finish` (database),
    :meth:`verify` (scrypt only). Failed logins are throttled per operator and per client
    address (:mod:`vending.login_throttle`); ``clock`` decides when locks expire."""

    def __init__(
        self,
        database: Database,
        *,
        clock: Clock,
        require_auth: bool = True,
        cache_seconds: float = 30.0,
        password_log_n: int = 14,
        throttle: ThrottleSettings | None = None,
    ) -> None:
        self._database = database
        self._require_auth = require_auth
        self._password_log_n = password_log_n
        self._dummy_hash = dummy_hash(password_log_n)
        self._cache_seconds = cache_seconds
        self._cache_key = secrets.token_bytes(32)
        self._cache: dict[tuple[str, str, bytes], tuple[float, Principal]] = {}
        self._lock = threading.Lock()
        self._throttle = throttle or ThrottleSettings()
        # Stamps password changes and failed logins; decides when locks expire.
        self._clock = clock
        self.front = LockoutFront()
        self._failures_since_prune = 0

    def authenticate(
        self,
        client_id: str,
        operator_name: str | None,
        password: str | None,
        new_password: str | None = None,
        address: str | None = None,
    ) -> Principal:
        """Raise UnknownVendor, VendorBlocked, AuthenticationFailed (LoginThrottled) or
        OperatorBlocked.

        With ``new_password`` (XMLVend authCred/newPassword: "will replace the one specified
        in the password field") the operator's password is changed once ``password`` is
        verified; a retry of the same request, which now carries the old password, is
        recognised by its new password. ``address``: the client's network address, from
        the transport (never from the request).
        """
        self.locked(client_id, operator_name, address)
        if not new_password:
            found = self.cached(client_id, operator_name, password)
            if found is not None:
                return found
        attempt = self.begin(client_id, operator_name, password, new_password, address)
        if isinstance(attempt, Principal):
            return attempt
        return self.finish(attempt, self.verify(attempt))

    def locked(self, client_id: str, operator_name: str | None, address: str | None) -> None:
        """Raise LoginThrottled when this process knows a lock on the attempt's keys. Never
        blocks (no database, no scrypt)."""
        keys = keys_for(client_id, operator_name, address)
        if keys:
            now = self._clock()
            lock = self.front.locked(keys, now)
            if lock is not None:
                raise LoginThrottled(lock.key, lock.until, now)

    def cached(
        self, client_id: str, operator_name: str | None, password: str | None
    ) -> Principal | None:
        """The principal of a verification still in the cache, else None. Never blocks (no
        database, no scrypt): the reactor thread may call it and skip a thread-pool hop."""
        cache_key = self._key(client_id, operator_name, password)
        with self._lock:
            cached = self._cache.get(cache_key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        return None

    def begin(
        self,
        client_id: str,
        operator_name: str | None,
        password: str | None,
        new_password: str | None = None,
        address: str | None = None,
    ) -> LoginAttempt | Principal:
        """Database step: the vendor, the operator and the locks on the attempt's keys. A
        Principal when no password is needed; else the attempt to :meth:`verify`."""
        keys = keys_for(client_id, operator_name, address)
        now = self._clock()
        lock, identity, had_failures = self._database.run_txn(
            "load_identity", _load_attempt, client_id, operator_name, keys, now
        )
        if lock is not None:
            self.front.remember(lock)
            raise LoginThrottled(lock.key, lock.until, now)
        if identity is None:
            # Guessing client ids counts against the address.
            self._failed(tuple(k for k in keys if k.kind == "address"))
            raise UnknownVendor(f"client id {client_id!r} is not registered")
        if identity.vendor_blocked:
            raise VendorBlocked(f"client id {client_id} has been blocked")
        required = self._require_auth if identity.require_auth is None else identity.require_auth
        if operator_name is None and password is None and not required and not new_password:
            return dataclasses.replace(identity.principal, operator_id=None)
        if not operator_name or password is None:
            raise AuthenticationFailed("operator name and password are required")
        return LoginAttempt(
            client_id=client_id,
            operator_name=operator_name,
            password=password,
            new_password=new_password or None,
            keys=keys,
            identity=identity,
            check_hash=identity.password_hash or self._dummy_hash,
            had_failures=had_failures,
        )

    def verify(self, attempt: LoginAttempt) -> Verdict:
        """CPU step (scrypt; no database): check the password, hash a new one. An attempt
        whose key was locked while it waited (by the attempts ahead of it) is not checked."""
        lock = self.front.locked(attempt.keys, self._clock())
        if lock is not None:
            return Verdict(ok=False, locked=lock)
        if attempt.new_password:
            if attempt.identity.password_hash and verify_password(
                attempt.new_password, attempt.check_hash
            ):
                return Verdict(ok=True, already_changed=True)
            if not verify_password(attempt.password, attempt.check_hash):
                return Verdict(ok=False)
            if attempt.identity.password_hash is None:
                return Verdict(ok=False)
            try:
                new_hash = hash_password(attempt.new_password, log_n=self._password_log_n)
            except PasswordPolicyError as exc:
                return Verdict(ok=True, refused_new_password=str(exc))
            return Verdict(ok=True, new_hash=new_hash)
        ok = verify_password(attempt.password, attempt.check_hash)
        return Verdict(ok=ok and attempt.identity.password_hash is not None)

    def finish(self, attempt: LoginAttempt, verdict: Verdict) -> Principal:
        """Database step: count a failure (maybe locking the key), or clear the operator's
        failures and store a new password; the principal."""
        identity = attempt.identity
        if verdict.locked is not None:
            raise LoginThrottled(verdict.locked.key, verdict.locked.until, self._clock())
        if not verdict.ok:
            self._failed(attempt.keys)
            raise AuthenticationFailed("unknown operator or wrong password")
        if identity.operator_blocked:
            raise OperatorBlocked(f"operator {attempt.operator_name} is blocked")
        operator_key = tuple(k for k in attempt.keys if k.kind == "operator")
        if attempt.had_failures and operator_key:
            self._database.run_txn("login_succeeded", clear_failures, operator_key[0])
        if verdict.refused_new_password is not None:
            reason = verdict.refused_new_password
            raise AuthenticationFailed(f"the new password is refused: {reason}")
        if verdict.already_changed:
            return identity.principal
        if verdict.new_hash is not None:
            changed = self._database.run_txn(
                "change_password",
                _store_new_password,
                identity.principal,
                attempt.operator_name,
                verdict.new_hash,
                now=self._clock(),
            )
            self.forget(attempt.client_id)
            return changed
        principal = identity.principal
        if self._cache_seconds > 0:
            cache_key = self._key(attempt.client_id, attempt.operator_name, attempt.password)
            with self._lock:
                if len(self._cache) > 100_000:  # bound memory under credential stuffing
                    self._cache.clear()
                self._cache[cache_key] = (time.monotonic() + self._cache_seconds, principal)
        return principal

    def _failed(self, keys: tuple[ThrottleKey, ...]) -> Lock | None:
        if not keys:
            return None
        now = self._clock()
        lock = self._database.run_txn("login_failed", record_failure, keys, now, self._throttle)
        if lock is not None:
            self.front.remember(lock)
        with self._lock:
            self._failures_since_prune += 1
            due = self._failures_since_prune >= PRUNE_EVERY
            if due:
                self._failures_since_prune = 0
        if due:
            self._database.run_txn("login_failures_prune", prune, now, self._throttle)
        return lock

    def _key(
        self, client_id: str, operator_name: str | None, password: str | None
    ) -> tuple[str, str, bytes]:
        digest = hmac.new(
            self._cache_key, (password if password is not None else "\0").encode(), hashlib.sha256
        ).digest()
        return (client_id, operator_name or "", digest)

    def forget(self, client_id: str | None = None) -> None:
        with self._lock:
            if client_id is None:
                self._cache.clear()
            else:
                for key in [k for k in self._cache if k[0] == client_id]:
                    del self._cache[key]


# Expired throttle rows are deleted after this many failures (in this process).
PRUNE_EVERY = 200


def _load_attempt(
    txn: Txn,
    client_id: str,
    operator_name: str | None,
    keys: tuple[ThrottleKey, ...],
    now: datetime,
) -> tuple[Lock | None, _Identity | None, bool]:
    lock = active_lock(txn, keys, now)
    if lock is not None:
        return lock, None, False
    identity = _load_identity(txn, client_id, operator_name)
    operator_key = [k for k in keys if k.kind == "operator"]
    had_failures = bool(operator_key) and has_failures(txn, operator_key[0])
    return None, identity, had_failures


def _store_new_password(
    txn: Txn, principal: Principal, operator_name: str | None, new_hash: str, *, now: datetime
) -> Principal:
    """Set the new password (bumping the credential version); the principal again."""
    assert principal.operator_id is not None
    set_operator_password(
        txn,
        principal.operator_id,
        new_hash,
        actor=f"vendor:{principal.client_id}:{operator_name}",
        now=now,
    )
    identity = _load_identity(txn, principal.client_id, operator_name)
    assert identity is not None
    return identity.principal


class CredentialsChanged(AuthenticationFailed):
    """The operator's password, status or the vendor's privileges changed since they were
    verified; verify again."""

    code = "credentials_changed"


def revalidate(txn: Txn, principal: Principal) -> None:
    """Re-check a (possibly cached) principal inside the operation's transaction."""
    plan = plan_of(txn)
    key = (principal.vendor_id, principal.operator_id or -1)
    if plan is not None and key in plan.principals:  # read by the batch's one statement
        check_principal_row(principal, plan.principals[key])
        return
    row = txn.execute(
        select(
            vendors.c.blocked,
            vendors.c.privileges,
            operators.c.blocked.label("operator_blocked"),
            operators.c.credential_version,
        )
        .select_from(vendors)
        .outerjoin(
            operators,
            and_(
                operators.c.vendor_id == vendors.c.id,
                operators.c.id == (principal.operator_id or -1),
            ),
        )
        .where(vendors.c.id == principal.vendor_id)
    ).first()
    check_principal_row(principal, row)


def check_principal_row(principal: Principal, row: Any) -> None:
    """The re-check of ``principal`` against its vendor's (and operator's) current row
    (blocked, privileges, operator_blocked, credential_version), None: no such vendor."""
    if row is None:
        raise UnknownVendor(f"client id {principal.client_id!r} is not registered")
    if row.blocked:
        raise VendorBlocked(f"client id {principal.client_id} has been blocked")
    if parse_privileges(row.privileges) != principal.privileges:
        raise CredentialsChanged("the vendor's privileges changed; verify again")
    if principal.operator_id is not None:
        if row.operator_blocked:
            raise OperatorBlocked(f"operator {principal.operator_name} is blocked")
        if row.credential_version != principal.credential_version:
            raise CredentialsChanged("the operator's credentials changed; verify again")
