"""The webhook outbox and its delivery log (tables in ``vending.api_tables``).

A delivery is written when a delayed result becomes final, for the API key that made the
request, if the key registered a callback URL -- or, for an event that answers no request
(:func:`push_event`: a fund request decided, a deposit credited), for every key of the
merchant it concerns that registered one; the deliverer (the JSON adapter's, on the
reactor) drains due deliveries, signs and posts each, and records every attempt here. A
failed attempt is retried with exponential backoff (:data:`BACKOFF_SECONDS` doubling up to
:data:`MAX_BACKOFF_SECONDS`) until the receiver acknowledges with a 2xx, or it is given up
after :data:`MAX_ATTEMPTS`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update

from vending.api_tables import api_keys, webhook_attempts, webhook_deliveries
from vending.backoff import exponential
from vending.storage.database import Txn

BACKOFF_SECONDS = 5.0
MAX_BACKOFF_SECONDS = 3600.0
MAX_ATTEMPTS = 15


@dataclass(frozen=True)
class Delivery:
    id: int
    api_key_id: int
    request_pk: int | None
    event_key: str | None
    event: str
    url: str
    payload: str
    state: str
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True)
class Attempt:
    attempted_at: datetime
    http_status: int | None
    error: str | None


def _delivery(row: object) -> Delivery:
    return Delivery(**{name: getattr(row, name) for name in Delivery.__dataclass_fields__})


def enqueue(
    txn: Txn,
    *,
    api_key_id: int,
    request_pk: int,
    event: str,
    url: str,
    payload: str,
    now: datetime,
) -> int | None:
    """Queue one delivery per (key, request); a second call for the same pair is a no-op.
    The delivery's id, or None when it was queued before."""
    return _queue(
        txn,
        api_key_id=api_key_id,
        key_column=webhook_deliveries.c.request_pk,
        values={"request_pk": request_pk},
        event=event,
        url=url,
        payload=payload,
        now=now,
    )


def _queue(
    txn: Txn,
    *,
    api_key_id: int,
    key_column: Any,
    values: dict[str, Any],
    event: str,
    url: str,
    payload: str,
    now: datetime,
) -> int | None:
    """One delivery, unless the key has one for the same request or event already
    (``key_column``: request_pk or event_key, whose value is in ``values``)."""
    existing = txn.execute(
        select(webhook_deliveries.c.id).where(
            webhook_deliveries.c.api_key_id == api_key_id,
            key_column == values[key_column.name],
        )
    ).first()
    if existing is not None:
        return None
    return txn.execute(
        insert(webhook_deliveries)
        .values(
            api_key_id=api_key_id,
            event=event,
            url=url,
            payload=payload,
            state="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            **values,
        )
        .returning(webhook_deliveries.c.id)
    ).scalar_one()


def push_event(
    txn: Txn,
    *,
    vendor_id: int,
    event: str,
    subject: str,
    data: dict[str, Any],
    now: datetime,
) -> list[int]:
    """Queue ``event`` about ``subject`` (e.g. ``fund_request:42``) for every live API key
    of the merchant that registered a callback URL, in the caller's transaction: it is
    delivered only if that transaction commits, and once per key (a second call for the
    same event is a no-op). The payload, fixed here and resent byte for byte on every retry,
    carries the event's id ``<event>:<subject>``. The new deliveries' ids."""
    event_id = f"{event}:{subject}"
    keys = txn.execute(
        select(api_keys.c.id, api_keys.c.callback_url).where(
            api_keys.c.vendor_id == vendor_id,
            api_keys.c.callback_url.is_not(None),
            api_keys.c.webhook_secret.is_not(None),
            api_keys.c.revoked_at.is_(None),
        )
    ).all()
    if not keys:
        return []
    payload = json.dumps(
        {"id": event_id, "event": event, "created_at": _timestamp(now), "data": data},
        sort_keys=True,
        separators=(",", ":"),
    )
    queued = []
    for key in keys:
        delivery_id = _queue(
            txn,
            api_key_id=key.id,
            key_column=webhook_deliveries.c.event_key,
            values={"event_key": event_id},
            event=event,
            url=key.callback_url,
            payload=payload,
            now=now,
        )
        if delivery_id is not None:
            queued.append(delivery_id)
    return queued


def _timestamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def due(txn: Txn, now: datetime, limit: int = 50) -> list[Delivery]:
    rows = txn.execute(
        select(webhook_deliveries)
        .join(api_keys, api_keys.c.id == webhook_deliveries.c.api_key_id)
        .where(
            webhook_deliveries.c.state == "pending",
            webhook_deliveries.c.next_attempt_at <= now,
            api_keys.c.revoked_at.is_(None),
        )
        .order_by(webhook_deliveries.c.next_attempt_at, webhook_deliveries.c.id)
        .limit(limit)
    )
    return [_delivery(row) for row in rows]


def backoff(attempts: int) -> float:
    """Seconds before the next try after ``attempts`` failed ones."""
    return exponential(attempts, base=BACKOFF_SECONDS, cap=MAX_BACKOFF_SECONDS)


def record_attempt(
    txn: Txn,
    delivery_id: int,
    *,
    now: datetime,
    http_status: int | None,
    error: str | None,
) -> Delivery:
    """Log one attempt; a 2xx acknowledges the delivery, anything else schedules a retry
    (or gives up after MAX_ATTEMPTS)."""
    txn.execute(
        insert(webhook_attempts).values(
            delivery_id=delivery_id,
            attempted_at=now,
            http_status=http_status,
            error=None if error is None else error[:200],
        )
    )
    row = txn.execute(
        select(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id)
    ).one()
    attempts = row.attempts + 1
    values: dict[str, object] = {"attempts": attempts}
    if http_status is not None and 200 <= http_status < 300:
        values.update(state="delivered", delivered_at=now)
    elif attempts >= MAX_ATTEMPTS:
        values["state"] = "failed"
    else:
        values["next_attempt_at"] = now + timedelta(seconds=backoff(attempts))
    txn.execute(
        update(webhook_deliveries)
        .where(webhook_deliveries.c.id == delivery_id, webhook_deliveries.c.state == "pending")
        .values(**values)
    )
    return _delivery(
        txn.execute(select(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id)).one()
    )


def deliveries_of(
    txn: Txn, api_key_id: int, limit: int = 50
) -> list[tuple[Delivery, list[Attempt]]]:
    """The key's newest deliveries, each with its attempts (oldest first)."""
    rows = list(
        txn.execute(
            select(webhook_deliveries)
            .where(webhook_deliveries.c.api_key_id == api_key_id)
            .order_by(webhook_deliveries.c.id.desc())
            .limit(limit)
        )
    )
    out = []
    for row in rows:
        attempts = [
            Attempt(a.attempted_at, a.http_status, a.error)
            for a in txn.execute(
                select(webhook_attempts)
                .where(webhook_attempts.c.delivery_id == row.id)
                .order_by(webhook_attempts.c.id)
            )
        ]
        out.append((_delivery(row), attempts))
    return out
