"""Short-lived sessions of a vendor's operator signed in from an app (the phone web app at
``/app``, or any third-party app): a browser must never hold a long-lived API key.

The operator signs in with the vendor's client id, the operator name and the password it
uses on XMLVend (verified and throttled by ``vending.auth.Authenticator``, as every operator
login); the session is a bearer token ``evd_app_`` + 43 URL-safe characters (256 bits).

A session is a row of the API keys' table (the table already is "a credential of a vendor's
operator, stored as its SHA-256, revocable"), labelled :data:`APP_SESSION_LABEL` so that
listings of API keys leave it out and the API key path refuses it. What makes it short-lived
is enforced here, on every verification:

* it ends :data:`SESSION_SECONDS` after it was opened (``created_at``);
* sign-out revokes it (``revoked_at``);
* a password change after it was opened ends it (``operators.password_changed_at``), and a
  blocked vendor or operator is refused.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, insert, select, update

from vending.api_keys import APP_SESSION_LABEL, key_digest
from vending.api_tables import api_keys
from vending.auth import Principal
from vending.errors import AuthenticationFailed, OperatorBlocked, VendorBlocked
from vending.principals import PRINCIPAL_COLUMNS, principal_from_row
from vending.storage.database import Txn
from vending.storage.schema import accounts, operators, vendors

SESSION_PREFIX = "evd_app_"
SESSION_SECONDS = 3600


class InvalidAppSession(AuthenticationFailed):
    """Unknown, expired, signed out or ended by a password change: one error for all."""

    code = "invalid_app_session"


@dataclass(frozen=True)
class AppSession:
    token: str
    session_id: int
    expires_at: datetime


@dataclass(frozen=True)
class SessionPrincipal:
    session_id: int
    principal: Principal
    expires_at: datetime


def open_session(
    txn: Txn, principal: Principal, *, now: datetime, seconds: int = SESSION_SECONDS
) -> AppSession:
    """A new session for a verified operator (``principal`` from the authenticator)."""
    if principal.operator_id is None:
        raise AuthenticationFailed("an app session needs an operator")
    # The operator's ended sessions go as it opens a new one, so the table holds at most
    # the sessions of the last hour per operator (nothing refers to a session's row).
    txn.execute(
        delete(api_keys).where(
            api_keys.c.label == APP_SESSION_LABEL,
            api_keys.c.operator_id == principal.operator_id,
            api_keys.c.created_at <= now - timedelta(seconds=seconds),
        )
    )
    token = SESSION_PREFIX + secrets.token_urlsafe(32)
    session_id = txn.execute(
        insert(api_keys)
        .values(
            key_hash=key_digest(token),
            hint=token[len(SESSION_PREFIX) : len(SESSION_PREFIX) + 6],
            label=APP_SESSION_LABEL,
            vendor_id=principal.vendor_id,
            operator_id=principal.operator_id,
            created_by=f"app:{principal.client_id}/{principal.operator_name}"[:64],
            created_at=now,
        )
        .returning(api_keys.c.id)
    ).scalar_one()
    return AppSession(token, session_id, now + timedelta(seconds=seconds))


def principal_for_session(
    txn: Txn, token: str, now: datetime, *, seconds: int = SESSION_SECONDS
) -> SessionPrincipal:
    """The operator of a live session; InvalidAppSession otherwise."""
    digest = key_digest(token)
    row = txn.execute(
        select(
            api_keys.c.id.label("session_id"),
            api_keys.c.key_hash,
            api_keys.c.label,
            api_keys.c.created_at,
            api_keys.c.revoked_at,
            vendors.c.blocked,
            *PRINCIPAL_COLUMNS,
            operators.c.blocked.label("operator_blocked"),
            operators.c.password_changed_at,
        )
        .join(vendors, vendors.c.id == api_keys.c.vendor_id)
        .join(accounts, accounts.c.id == vendors.c.account_id)
        .join(
            operators,
            and_(operators.c.id == api_keys.c.operator_id, operators.c.vendor_id == vendors.c.id),
        )
        .where(api_keys.c.key_hash == digest)
    ).first()
    expires_at = None if row is None else row.created_at + timedelta(seconds=seconds)
    if (
        row is None
        or expires_at is None
        or not hmac.compare_digest(bytes(row.key_hash), digest)
        or row.label != APP_SESSION_LABEL
        or row.revoked_at is not None
        or expires_at <= now
        or row.password_changed_at > row.created_at
    ):
        raise InvalidAppSession("the session is unknown or has ended; sign in again")
    if row.blocked:
        raise VendorBlocked(f"client id {row.client_id} has been blocked")
    if row.operator_blocked:
        raise OperatorBlocked(f"operator {row.operator_name} is blocked")
    return SessionPrincipal(row.session_id, principal_from_row(row), expires_at)


def check_session_live(txn: Txn, session_id: int) -> None:
    """Inside a change's transaction: not signed out since it was verified (the expiry is
    checked by every verification, and a cached one is dropped when it passes)."""
    row = txn.execute(
        select(api_keys.c.revoked_at, api_keys.c.label).where(api_keys.c.id == session_id)
    ).first()
    if row is None or row.label != APP_SESSION_LABEL or row.revoked_at is not None:
        raise InvalidAppSession("the session is unknown or has ended; sign in again")


def end_session(txn: Txn, token: str, now: datetime) -> None:
    txn.execute(
        update(api_keys)
        .where(
            api_keys.c.key_hash == key_digest(token),
            api_keys.c.label == APP_SESSION_LABEL,
            api_keys.c.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
