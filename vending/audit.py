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
