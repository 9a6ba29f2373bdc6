"""Notifications outbox: events written in the transaction that makes them true, for later
delivery by the SMS/e-mail/web channels (and logged when written)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from vending.storage.database import Txn
from vending.storage.schema import notifications

log = logging.getLogger("evd.notifications")


@dataclass(frozen=True)
class Notification:
    id: int
    created_at: datetime
    kind: str
    subject: str
    payload: dict[str, Any]
    delivered_at: datetime | None


def notify(
    txn: Txn,
    *,
    kind: str,
    subject: str,
    payload: dict[str, Any],
    now: datetime,
) -> None:
    txn.execute(
        insert(notifications).values(
            created_at=now,
            kind=kind,
            subject=subject[:120],
            payload=payload,
            delivered_at=None,
        )
    )
    txn.call_after(log.warning, "notification %s: %s %s", kind, subject, payload)


def pending(txn: Txn, limit: int = 100) -> list[Notification]:
    rows = txn.execute(
        select(notifications)
        .where(notifications.c.delivered_at.is_(None))
        .order_by(notifications.c.id)
        .limit(limit)
    )
    return [Notification(**row._mapping) for row in rows]


def mark_delivered(txn: Txn, notification_id: int, *, now: datetime) -> None:
    txn.execute(
        update(notifications).where(notifications.c.id == notification_id).values(delivered_at=now)
    )
