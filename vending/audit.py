"""Audit trail: who did what, written in the same transaction as the change itself."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from vending.storage.database import Txn
from vending.storage.schema import audit_log


def record(
    txn: Txn,
    *,
    actor: str,
    action: str,
    subject: str,
    details: dict[str, Any] | None = None,
    now: datetime,
) -> None:
    txn.execute(
        insert(audit_log).values(
            at=now,
            actor=actor[:64],
            action=action[:48],
            subject=subject[:120],
            details=details or {},
        )
    )


def recent(txn: Txn, limit: int = 50) -> list[dict[str, Any]]:
    rows = txn.execute(select(audit_log).order_by(audit_log.c.id.desc()).limit(limit))
    return [dict(row._mapping) for row in rows]


def search(
    txn: Txn,
    *,
    actor: str = "",
    action: str = "",
    subject: str = "",
    before_id: int | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Newest first; ``actor``/``action``/``subject`` match a prefix, ``before_id`` pages."""
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if actor:
        query = query.where(audit_log.c.actor.startswith(actor, autoescape=True))
    if action:
        query = query.where(audit_log.c.action.startswith(action, autoescape=True))
    if subject:
        query = query.where(audit_log.c.subject.startswith(subject, autoescape=True))
    if before_id is not None:
        query = query.where(audit_log.c.id < before_id)
    return [dict(row._mapping) for row in txn.execute(query)]
