"""API keys of the JSON API: a vendor's machine credential, bound to one of its operators.

A key is ``evd_live_`` + 43 URL-safe characters (256 bits from ``secrets``). It is shown
once, when created; only its SHA-256 is stored. Looking a key up by its digest is safe: the
digest of a guess reveals nothing about stored keys, and the final comparison is
``hmac.compare_digest``. A key carries its vendor's and operator's rights: a blocked vendor
or operator, or a changed operator password, stops it (``vending.auth.revalidate``).

A key may register a ``callback_url``: the final results of its delayed sales are pushed
there, signed with a per-key webhook secret (``whsec_...``), shown once when the URL is
set and kept encrypted (we must sign with it, so a digest would not do).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import Row, and_, insert, select, update

from vending import audit
from vending.api_tables import api_keys
from vending.auth import Principal
from vending.errors import AuthenticationFailed, InvalidRequest, NotFound
from vending.keyring import Keyring
from vending.principals import PRINCIPAL_COLUMNS, principal_from_row
from vending.storage.database import Txn
from vending.storage.schema import accounts, operators, vendors
from vending.vendors import get_operator, get_vendor

KEY_PREFIX = "evd_live_"
# The label of vending.app_sessions' rows in this table (short-lived operator sign-ins):
# never accepted as an API key, never listed as one.
APP_SESSION_LABEL = "app session"
WEBHOOK_SECRET_PREFIX = "whsec_"
_HINT_CHARS = 6


class UnknownApiKey(NotFound):
    """No such API key."""

    code = "unknown_api_key"


class InvalidApiKey(AuthenticationFailed):
    """The API key is unknown or revoked."""

    code = "invalid_api_key"


@dataclass(frozen=True)
class ApiKey:
    id: int
    hint: str
    label: str
    vendor_client_id: str
    operator_name: str
    callback_url: str | None
    created_at: datetime
    revoked_at: datetime | None

    @property
    def display(self) -> str:
        """How listings name the key (never enough of it to use)."""
        return f"{KEY_PREFIX}{self.hint}…"


def key_digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def _select():  # type: ignore[no-untyped-def]
    return (
        select(
            api_keys,
            vendors.c.client_id.label("vendor_client_id"),
            operators.c.name.label("operator_name"),
        )
        .join(vendors, vendors.c.id == api_keys.c.vendor_id)
        .join(operators, operators.c.id == api_keys.c.operator_id)
    )


def _from_row(row: Row) -> ApiKey:
    return ApiKey(
        id=row.id,
        hint=row.hint,
        label=row.label,
        vendor_client_id=row.vendor_client_id,
        operator_name=row.operator_name,
        callback_url=row.callback_url,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


def create_api_key(
    txn: Txn,
    *,
    vendor_client_id: str,
    operator_name: str,
    label: str = "",
    actor: str,
    key: str | None = None,
    now: datetime,
) -> tuple[ApiKey, str]:
    """A new key for the vendor's operator: (its record, the key itself -- shown once).
    ``key`` lets the demo seed a known key; anything else gets a random one."""
    if len(label) > 80:
        raise InvalidRequest("a key label must be at most 80 characters")
    if label == APP_SESSION_LABEL:
        raise InvalidRequest(f"{APP_SESSION_LABEL!r} is reserved for app sessions")
    vendor = get_vendor(txn, vendor_client_id)
    operator = get_operator(txn, operator_name, vendor_client_id)
    key = key or new_key()
    if not key.startswith(KEY_PREFIX) or len(key) < len(KEY_PREFIX) + 32:
        raise InvalidRequest(f"an API key starts with {KEY_PREFIX} and has 32+ random characters")
    key_id = txn.execute(
        insert(api_keys)
        .values(
            key_hash=key_digest(key),
            hint=key[len(KEY_PREFIX) : len(KEY_PREFIX) + _HINT_CHARS],
            label=label,
            vendor_id=vendor.id,
            operator_id=operator.id,
            created_by=actor[:64],
            created_at=now,
        )
        .returning(api_keys.c.id)
    ).scalar_one()
    audit.record(
        txn,
        actor=actor,
        action="api_key.create",
        subject=f"{vendor_client_id}/{operator_name}",
        details={"api_key_id": key_id, "label": label},
        now=now,
    )
    return get_api_key(txn, key_id), key


def get_api_key(txn: Txn, key_id: int) -> ApiKey:
    row = txn.execute(_select().where(api_keys.c.id == key_id)).first()
    if row is None:
        raise UnknownApiKey(f"no API key {key_id}")
    return _from_row(row)


def list_api_keys(txn: Txn, vendor_client_id: str | None = None) -> list[ApiKey]:
    # App sessions (short-lived operator sign-ins) are not keys staff manage.
    query = _select().where(api_keys.c.label != APP_SESSION_LABEL).order_by(api_keys.c.id)
    if vendor_client_id is not None:
        query = query.where(vendors.c.client_id == vendor_client_id)
    return [_from_row(row) for row in txn.execute(query)]


def revoke_api_key(txn: Txn, key_id: int, *, actor: str, now: datetime) -> ApiKey:
    found = get_api_key(txn, key_id)
    if found.revoked_at is None:
        txn.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        # Servers may hold the key's verification in memory: bumping its operator's
        # credential version makes the next change anywhere fail its in-transaction
        # re-check (vending.auth.revalidate), and the server then verifies the key afresh.
        txn.execute(
            update(operators)
            .where(
                operators.c.id
                == select(api_keys.c.operator_id).where(api_keys.c.id == key_id).scalar_subquery()
            )
            .values(credential_version=operators.c.credential_version + 1)
        )
        audit.record(
            txn,
            actor=actor,
            action="api_key.revoke",
            subject=f"{found.vendor_client_id}/{found.operator_name}",
            details={"api_key_id": key_id},
            now=now,
        )
    return get_api_key(txn, key_id)


@dataclass(frozen=True)
class KeyPrincipal:
    """Who an API key speaks for: the vendor principal and the key's own id."""

    api_key_id: int
    principal: Principal


def principal_for_key(txn: Txn, key: str) -> KeyPrincipal:
    """The principal of a live key; InvalidApiKey for an unknown or revoked one (the same
    error for both, so a caller cannot probe which keys existed)."""
    digest = key_digest(key)
    row = txn.execute(
        select(
            api_keys.c.id.label("api_key_id"),
            api_keys.c.key_hash,
            api_keys.c.revoked_at,
            api_keys.c.label,
            vendors.c.blocked,
            *PRINCIPAL_COLUMNS,
        )
        .join(vendors, vendors.c.id == api_keys.c.vendor_id)
        .join(accounts, accounts.c.id == vendors.c.account_id)
        .join(
            operators,
            and_(operators.c.id == api_keys.c.operator_id, operators.c.vendor_id == vendors.c.id),
        )
        .where(api_keys.c.key_hash == digest)
    ).first()
    if (
        row is None
        or not hmac.compare_digest(bytes(row.key_hash), digest)
        or row.revoked_at is not None
        # An app session (vending.app_sessions) shares the table but is no API key: it
        # must never be accepted without its expiry checks.
        or row.label == APP_SESSION_LABEL
    ):
        raise InvalidApiKey("the API key is unknown or revoked")
    return KeyPrincipal(
        api_key_id=row.api_key_id,
        principal=principal_from_row(row),
    )


def check_key_live(txn: Txn, api_key_id: int) -> None:
    """Inside a change's transaction: the key was not revoked since it was authenticated."""
    revoked = txn.execute(select(api_keys.c.revoked_at).where(api_keys.c.id == api_key_id)).first()
    if revoked is None or revoked.revoked_at is not None:
        raise InvalidApiKey("the API key is unknown or revoked")


# --- webhooks ----------------------------------------------------------------------------------


def _secret_aad(key_id: int) -> bytes:
    return b"evd-webhook-secret:%d" % key_id


def check_callback_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname or len(url) > 500:
        raise InvalidRequest("callback_url must be an http(s) URL of at most 500 characters")
    if parts.username or parts.password:
        raise InvalidRequest("callback_url must not carry credentials")
    return url


def set_callback(
    txn: Txn,
    keyring: Keyring,
    key_id: int,
    url: str | None,
    *,
    actor: str,
    now: datetime,
) -> str | None:
    """Register (or with None, remove) the key's callback URL; a new signing secret is
    made each time one is registered and returned (shown once)."""
    found = get_api_key(txn, key_id)
    secret: str | None = None
    values: dict[str, object] = {
        "callback_url": None,
        "webhook_key_id": None,
        "webhook_secret": None,
    }
    if url is not None:
        check_callback_url(url)
        secret = WEBHOOK_SECRET_PREFIX + secrets.token_urlsafe(32)
        data_key, blob = keyring.encrypt(txn, secret.encode(), aad=_secret_aad(key_id))
        values = {"callback_url": url, "webhook_key_id": data_key, "webhook_secret": blob}
    txn.execute(update(api_keys).where(api_keys.c.id == key_id).values(**values))
    audit.record(
        txn,
        actor=actor,
        action="api_key.callback",
        subject=f"{found.vendor_client_id}/{found.operator_name}",
        details={"api_key_id": key_id, "callback_url": url},
        now=now,
    )
    return secret


@dataclass(frozen=True)
class Callback:
    url: str
    secret: bytes


def callback_of(txn: Txn, keyring: Keyring, key_id: int) -> Callback | None:
    """The key's callback URL and signing secret, if it registered one."""
    row = txn.execute(
        select(api_keys.c.callback_url, api_keys.c.webhook_key_id, api_keys.c.webhook_secret).where(
            api_keys.c.id == key_id
        )
    ).first()
    if row is None or row.callback_url is None or row.webhook_secret is None:
        return None
    secret = keyring.decrypt(
        txn, row.webhook_key_id, bytes(row.webhook_secret), aad=_secret_aad(key_id)
    )
    return Callback(row.callback_url, secret)
