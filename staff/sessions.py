"""Server-side sessions of the admin suite. The browser holds a random 256-bit id; the
table holds only its SHA-256 (a leaked table opens no session). A session ends when the
user logs out, is idle longer than ``idle``, or is older than ``absolute`` (both decided by
the injected clock); every stage change (password → second factor → active) gives it a new
id, so an id seen before the login was complete is worth nothing after."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, or_, select, update

from staff.tables import SESSION_STAGES, staff_sessions
from vending.storage.database import Txn


def digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("ascii", "replace")).hexdigest()


def new_id() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Session:
    id: int
    user_id: int
    stage: str
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime


def create(
    txn: Txn,
    *,
    user_id: int,
    stage: str,
    address: str,
    user_agent: str,
    absolute: timedelta,
    now: datetime,
) -> str:
    """A new session; its id (give it to the browser, never store or log it)."""
    assert stage in SESSION_STAGES
    session_id = new_id()
    txn.execute(
        insert(staff_sessions).values(
            id_hash=digest(session_id),
            user_id=user_id,
            stage=stage,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            expires_at=now + absolute,
            address=address[:64],
            user_agent=user_agent[:200],
        )
    )
    return session_id


def load(txn: Txn, session_id: str, *, idle: timedelta, now: datetime) -> Session | None:
    """The live session of that id, its idle timer restarted; None when there is none (or it
    timed out: then it is ended here)."""
    row = txn.execute(
        select(staff_sessions)
        .where(staff_sessions.c.id_hash == digest(session_id))
        .where(staff_sessions.c.ended_at.is_(None))
    ).first()
    if row is None:
        return None
    if row.expires_at <= now or row.last_seen_at + idle <= now:
        end(txn, session_id, now)
        return None
    txn.execute(
        update(staff_sessions).where(staff_sessions.c.id == row.id).values(last_seen_at=now)
    )
    return Session(
        int(row.id),
        int(row.user_id),
        row.stage,
        row.csrf_token,
        row.created_at,
        now,
        row.expires_at,
    )


def advance(txn: Txn, session_id: str, stage: str) -> str:
    """Move a session to ``stage`` under a new id (and a new CSRF token); the new id."""
    assert stage in SESSION_STAGES
    fresh = new_id()
    txn.execute(
        update(staff_sessions)
        .where(staff_sessions.c.id_hash == digest(session_id))
        .values(id_hash=digest(fresh), stage=stage, csrf_token=secrets.token_urlsafe(32))
    )
    return fresh


def end(txn: Txn, session_id: str, now: datetime) -> int | None:
    """End the session; its user id (None if there was none live)."""
    row = txn.execute(
        select(staff_sessions.c.id, staff_sessions.c.user_id)
        .where(staff_sessions.c.id_hash == digest(session_id))
        .where(staff_sessions.c.ended_at.is_(None))
    ).first()
    if row is None:
        return None
    txn.execute(update(staff_sessions).where(staff_sessions.c.id == row.id).values(ended_at=now))
    return int(row.user_id)


def prune(txn: Txn, *, keep: timedelta, now: datetime) -> int:
    """Delete sessions ended (or expired) more than ``keep`` ago; how many."""
    cutoff = now - keep
    result = txn.execute(
        delete(staff_sessions).where(
            or_(staff_sessions.c.ended_at < cutoff, staff_sessions.c.expires_at < cutoff)
        )
    )
    return result.rowcount or 0
