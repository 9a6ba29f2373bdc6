"""Who is asking: client id → vendor, operator name + password → operator.

scrypt costs tens of milliseconds by design, far too much for every vend, so a successful
verification is remembered in memory for ``security.auth_cache_seconds`` under a keyed hash
of the password (the password itself is never kept). A cached principal is re-checked inside
each operation's own transaction with :func:`revalidate` (one indexed read): a blocked vendor
or operator, or a changed password, takes effect on the very next request.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, select

from vending.clock import Clock
from vending.errors import (
    AuthenticationFailed,
    OperatorBlocked,
    UnknownVendor,
    VendorBlocked,
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


class Authenticator:
    """Thread-safe; call :meth:`authenticate` from a worker thread (it may run scrypt)."""

    def __init__(
        self,
        database: Database,
        *,
        clock: Clock,
        require_auth: bool = True,
        cache_seconds: float = 30.0,
        password_log_n: int = 14,
    ) -> None:
        self._database = database
        # Stamps password changes.
        self._clock = clock
        self._require_auth = require_auth
        self._password_log_n = password_log_n
        self._cache_seconds = cache_seconds
        self._cache_key = secrets.token_bytes(32)
        self._cache: dict[tuple[str, str, bytes], tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def authenticate(
        self,
        client_id: str,
        operator_name: str | None,
        password: str | None,
        new_password: str | None = None,
    ) -> Principal:
        """Raise UnknownVendor, VendorBlocked, AuthenticationFailed or OperatorBlocked.

        With ``new_password`` (XMLVend authCred/newPassword: "will replace the one specified
        in the password field") the operator's password is changed once ``password`` is
        verified; a retry of the same request, which now carries the old password, is
        recognised by its new password.
        """
        if new_password:
            return self._change_password(client_id, operator_name, password, new_password)
        found = self.cached(client_id, operator_name, password)
        if found is not None:
            return found
        cache_key = self._key(client_id, operator_name, password)
        now = time.monotonic()

        identity = self._database.run_txn("load_identity", _load_identity, client_id, operator_name)
        if identity is None:
            raise UnknownVendor(f"client id {client_id!r} is not registered")
        if identity.vendor_blocked:
            raise VendorBlocked(f"client id {client_id} has been blocked")
        required = self._require_auth if identity.require_auth is None else identity.require_auth
        if operator_name is None and password is None and not required:
            principal = dataclasses.replace(identity.principal, operator_id=None)
        else:
            principal = self._check_operator(identity, operator_name, password)
        if self._cache_seconds > 0:
            with self._lock:
                if len(self._cache) > 100_000:  # bound memory under credential stuffing
                    self._cache.clear()
                self._cache[cache_key] = (now + self._cache_seconds, principal)
        return principal

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

    def _change_password(
        self, client_id: str, operator_name: str | None, password: str | None, new_password: str
    ) -> Principal:
        identity = self._database.run_txn("load_identity", _load_identity, client_id, operator_name)
        if identity is None:
            raise UnknownVendor(f"client id {client_id!r} is not registered")
        if identity.vendor_blocked:
            raise VendorBlocked(f"client id {client_id} has been blocked")
        if identity.password_hash and verify_password(new_password, identity.password_hash):
            return self._check_operator(identity, operator_name, new_password)  # done already
        principal = self._check_operator(identity, operator_name, password)
        try:
            new_hash = hash_password(new_password, log_n=self._password_log_n)
        except PasswordPolicyError as exc:
            raise AuthenticationFailed(f"the new password is refused: {exc}") from exc
        assert principal.operator_id is not None
        changed = self._database.run_txn(
            "change_password",
            _store_new_password,
            principal,
            operator_name,
            new_hash,
            now=self._clock(),
        )
        self.forget(client_id)
        return changed

    def _check_operator(
        self, identity: _Identity, operator_name: str | None, password: str | None
    ) -> Principal:
        if not operator_name or password is None:
            raise AuthenticationFailed("operator name and password are required")
        if identity.password_hash is None:
            # Burn comparable time so unknown names cannot be told from wrong passwords.
            verify_password(password, _DUMMY_HASH)
            raise AuthenticationFailed("unknown operator or wrong password")
        if not verify_password(password, identity.password_hash):
            raise AuthenticationFailed("unknown operator or wrong password")
        if identity.operator_blocked:
            raise OperatorBlocked(f"operator {operator_name} is blocked")
        return identity.principal

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


_DUMMY_HASH = "scrypt$14$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
