"""The MT outbox: every SMS we send, its attempts and its delivery state.

A message is queued in the transaction that makes it true (a sale's PIN or token for a
recipient) or right after the answer it carries was stored (the reply to an MO; the MO is
acknowledged only after that commit, so a gateway retry re-queues a lost one). ``source``
is unique: queuing the same thing twice is a no-op, so nothing is sent twice.

Delivery (the SMS adapter's deliverer) claims due messages (``pending`` -> ``sending``,
conditionally: one claimer wins), hands each to the gateway, and records the answer:
accepted -> ``submitted``; gateway unreachable (nothing was sent) -> ``pending`` again with
exponential backoff; an answer lost after the request went out -> ``unknown`` (the gateway
may have it: never sent again automatically). Delivery reports move a message to
``delivered`` or ``failed``. The text is encrypted at rest and never logged.
"""

from __future__ import annotations

import secrets
import struct
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from vending.backoff import exponential
from vending.channel_tables import sms_messages
from vending.keyring import Keyring
from vending.storage.database import Txn
from vending.storage.schema import sales

BACKOFF_SECONDS = 5.0
MAX_BACKOFF_SECONDS = 300.0
MAX_ATTEMPTS = 12
# Kannel's %d values.
DLR_STATES = {1: "delivered", 2: "failed", 4: "queued", 8: "submitted", 16: "rejected"}


@dataclass(frozen=True)
class OutgoingSms:
    """One part to send (``text`` in clear: in memory only, never logged)."""

    id: int
    msisdn: str
    sender: str
    text: str = field(repr=False)
    coding: int
    dlr_token: str
    attempts: int


@dataclass(frozen=True)
class SmsState:
    """What the merchant sees of a message: never its text."""

    id: int
    purpose: str
    msisdn: str
    state: str
    attempts: int
    dlr_status: int | None
    created_at: datetime
    sent_at: datetime | None
    dlr_at: datetime | None
    # The request (sale) it was sent for, if any.
    request_pk: int | None = None


def _aad(source: str) -> bytes:
    return b"evd-sms:" + source.encode()


def _seal(txn: Txn, keyring: Keyring, source: str, text: str) -> bytes:
    key_id, blob = keyring.encrypt(txn, text.encode("utf-8"), aad=_aad(source))
    return struct.pack(">I", key_id) + blob


def _open(txn: Txn, keyring: Keyring, source: str, sealed: bytes) -> str:
    (key_id,) = struct.unpack(">I", sealed[:4])
    return keyring.decrypt(txn, key_id, bytes(sealed[4:]), aad=_aad(source)).decode("utf-8")


def backoff(attempts: int) -> float:
    """Seconds before the next try after ``attempts`` failed ones."""
    return exponential(attempts, base=BACKOFF_SECONDS, cap=MAX_BACKOFF_SECONDS)


def enqueue(
    txn: Txn,
    keyring: Keyring,
    *,
    source: str,
    purpose: str,
    msisdn: str,
    sender: str,
    parts: list[tuple[str, int]],
    now: datetime,
    vendor_id: int | None = None,
    request_pk: int | None = None,
) -> list[int]:
    """Queue the ``parts`` ((text, coding) each) of one message to ``msisdn``; parts already
    queued under the same ``source`` are left alone. The ids of newly queued parts."""
    queued: list[int] = []
    insert_ = pg_insert if txn.is_postgres else sqlite_insert
    for index, (text, coding) in enumerate(parts, start=1):
        part_source = f"{source}:{index}"
        row = txn.execute(
            insert_(sms_messages)
            .values(
                source=part_source,
                purpose=purpose,
                msisdn=msisdn,
                sender=sender,
                body=_seal(txn, keyring, part_source, text),
                coding=coding,
                vendor_id=vendor_id,
                request_pk=request_pk,
                state="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
                dlr_token=secrets.token_hex(16),
            )
            .on_conflict_do_nothing(index_elements=["source"])
            .returning(sms_messages.c.id)
        ).first()
        if row is not None:
            queued.append(int(row.id))
    return queued


def claim_due(txn: Txn, keyring: Keyring, *, now: datetime, limit: int = 50) -> list[OutgoingSms]:
    """Claim up to ``limit`` due messages (``pending`` -> ``sending``) and open their text.

    Two statements for the whole round, not two per message: the due ids (on PostgreSQL
    locked with SKIP LOCKED, so claimers in other processes take other rows and never wait
    on each other), then one conditional UPDATE of those ids (``state = 'pending'``: a lost
    race claims nothing). The ids are read first rather than in a subquery of the UPDATE,
    whose LIMIT PostgreSQL may evaluate more than once."""
    due = (
        select(sms_messages.c.id)
        .where(sms_messages.c.state == "pending", sms_messages.c.next_attempt_at <= now)
        .order_by(sms_messages.c.next_attempt_at, sms_messages.c.id)
        .limit(limit)
    )
    if txn.is_postgres:
        due = due.with_for_update(skip_locked=True)
    ids = [int(row.id) for row in txn.execute(due)]
    if not ids:
        return []
    rows = txn.execute(
        update(sms_messages)
        .where(sms_messages.c.id.in_(ids), sms_messages.c.state == "pending")
        .values(state="sending", attempts=sms_messages.c.attempts + 1, sent_at=now)
        .returning(
            sms_messages.c.id,
            sms_messages.c.source,
            sms_messages.c.msisdn,
            sms_messages.c.sender,
            sms_messages.c.body,
            sms_messages.c.coding,
            sms_messages.c.dlr_token,
            sms_messages.c.attempts,
            sms_messages.c.next_attempt_at,
        )
    ).all()
    rows.sort(key=lambda row: (row.next_attempt_at, row.id))
    return [
        OutgoingSms(
            id=row.id,
            msisdn=row.msisdn,
            sender=row.sender,
            text=_open(txn, keyring, row.source, row.body),
            coding=row.coding,
            dlr_token=row.dlr_token,
            attempts=row.attempts,
        )
        for row in rows
    ]


def record_attempts(
    txn: Txn, outcomes: list[tuple[int, str, str | None]], *, now: datetime
) -> list[str]:
    """Several attempts' outcomes ((message id, outcome, error) each, see
    :func:`record_attempt`); the new states in the same order. The accepted ones -- nearly
    all -- are one UPDATE."""
    accepted = [message_id for message_id, outcome, _ in outcomes if outcome == "accepted"]
    taken: set[int] = set()
    if accepted:
        taken = {
            int(row.id)
            for row in txn.execute(
                update(sms_messages)
                .where(sms_messages.c.id.in_(accepted), sms_messages.c.state == "sending")
                .values(state="submitted", last_error=None)
                .returning(sms_messages.c.id)
            )
        }
    states: dict[int, str] = {}
    late = [message_id for message_id in accepted if message_id not in taken]
    if late:  # a delivery report came first: its state stands
        rows = txn.execute(
            select(sms_messages.c.id, sms_messages.c.state).where(sms_messages.c.id.in_(late))
        )
        states.update({int(row.id): str(row.state) for row in rows})
    for message_id, outcome, error in outcomes:
        if outcome == "accepted":
            states.setdefault(message_id, "submitted")
        else:
            states[message_id] = record_attempt(
                txn, message_id, outcome=outcome, error=error, now=now
            )
    return [states[message_id] for message_id, _, _ in outcomes]


def record_attempt(
    txn: Txn, message_id: int, *, outcome: str, error: str | None, now: datetime
) -> str:
    """``outcome``: "accepted", "unreachable" (nothing sent: retry later) or "lost" (the
    gateway may have it). The message's new state."""
    row = txn.execute(
        select(sms_messages.c.state, sms_messages.c.attempts).where(sms_messages.c.id == message_id)
    ).one()
    if row.state != "sending":  # a delivery report came first
        return str(row.state)
    values: dict[str, object] = {"last_error": None if error is None else error[:200]}
    if outcome == "accepted":
        values["state"] = "submitted"
    elif outcome == "unreachable" and row.attempts < MAX_ATTEMPTS:
        values["state"] = "pending"
        values["next_attempt_at"] = now + timedelta(seconds=backoff(row.attempts))
    elif outcome == "unreachable":
        values["state"] = "failed"
    else:
        values["state"] = "unknown"
    txn.execute(update(sms_messages).where(sms_messages.c.id == message_id).values(**values))
    return str(values["state"])


def release_stale(txn: Txn, *, older_than: datetime) -> int:
    """Messages left ``sending`` by a process that stopped: the gateway may have them, so
    they become ``unknown`` (never resent automatically). How many."""
    return int(
        txn.execute(
            update(sms_messages)
            .where(sms_messages.c.state == "sending", sms_messages.c.sent_at < older_than)
            .values(state="unknown", last_error="interrupted while sending")
        ).rowcount
    )


def record_dlr(txn: Txn, message_id: int, token: str, status: int, *, now: datetime) -> bool:
    """A delivery report for ``message_id`` (its URL's token must match). True if taken."""
    row = txn.execute(
        select(sms_messages.c.dlr_token, sms_messages.c.state).where(
            sms_messages.c.id == message_id
        )
    ).first()
    if row is None or not secrets.compare_digest(row.dlr_token, token):
        return False
    values: dict[str, object] = {"dlr_status": status, "dlr_at": now}
    if status == 1:
        values["state"] = "delivered"
    elif status in (2, 16):
        values["state"] = "failed"
    elif row.state in ("sending", "unknown", "pending"):
        values["state"] = "submitted"  # 4/8: the gateway has it
    if row.state == "delivered":  # final; a late "submitted" report changes nothing
        values.pop("state", None)
    txn.execute(update(sms_messages).where(sms_messages.c.id == message_id).values(**values))
    return True


def _state(row) -> SmsState:  # type: ignore[no-untyped-def]
    return SmsState(**{name: getattr(row, name) for name in SmsState.__dataclass_fields__})


_STATE_COLUMNS = [sms_messages.c[name] for name in SmsState.__dataclass_fields__]


def states_for_vendor(txn: Txn, vendor_id: int, limit: int = 5) -> list[SmsState]:
    rows = txn.execute(
        select(*_STATE_COLUMNS)
        .where(sms_messages.c.vendor_id == vendor_id, sms_messages.c.purpose == "recipient")
        .order_by(sms_messages.c.id.desc())
        .limit(limit)
    ).all()
    return [_state(row) for row in rows]


def states_for_request(txn: Txn, request_pk: int) -> list[SmsState]:
    rows = txn.execute(
        select(*_STATE_COLUMNS)
        .where(sms_messages.c.request_pk == request_pk)
        .order_by(sms_messages.c.id)
    ).all()
    return [_state(row) for row in rows]


def recipient_messages(
    txn: Txn, *, vendor_id: int | None = None, state: str | None = None, limit: int = 50
) -> list[SmsState]:
    """The newest PINs and tokens sent to consumers, optionally of one vendor and/or in
    one state (``failed``, ``unknown``: what staff follow up). Never their text."""
    query = select(*_STATE_COLUMNS).where(sms_messages.c.purpose == "recipient")
    if vendor_id is not None:
        query = query.where(sms_messages.c.vendor_id == vendor_id)
    if state is not None:
        query = query.where(sms_messages.c.state == state)
    rows = txn.execute(query.order_by(sms_messages.c.id.desc()).limit(limit)).all()
    return [_state(row) for row in rows]


def states_for_sale(txn: Txn, sale_id: int) -> list[SmsState]:
    """The messages sent for one sale (its request's), oldest first."""
    request_pk = txn.execute(
        select(sales.c.request_pk).where(sales.c.id == sale_id)
    ).scalar_one_or_none()
    return [] if request_pk is None else states_for_request(txn, int(request_pk))


def count_by_state(txn: Txn) -> dict[str, int]:
    from sqlalchemy import func

    rows = txn.execute(
        select(sms_messages.c.state, func.count()).group_by(sms_messages.c.state)
    ).all()
    return {row[0]: int(row[1]) for row in rows}


__all__ = [
    "DLR_STATES",
    "OutgoingSms",
    "SmsState",
    "backoff",
    "claim_due",
    "count_by_state",
    "enqueue",
    "recipient_messages",
    "record_attempt",
    "record_attempts",
    "record_dlr",
    "release_stale",
    "states_for_request",
    "states_for_sale",
    "states_for_vendor",
]
