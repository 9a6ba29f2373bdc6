"""Idempotency and replay of protocol requests.

Every request is keyed on (client id, request id). The first one to arrive claims the key
(INSERT ... ON CONFLICT DO NOTHING, so concurrent duplicates cannot both win); its response
is stored, encrypted, in the same transaction as the work it reports, before it is sent.
A retry with the same key and the same fingerprint gets the stored bytes back unchanged; the
same key with another fingerprint is refused.

These are the SQL primitives; the one path every request takes (claim, re-check the
principal, change, store) is :mod:`vending.services.idempotency`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row, bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from vending.batch_plan import plan_of
from vending.errors import IdempotencyConflict, RequestInProgress
from vending.keyring import Keyring
from vending.storage.database import Txn
from vending.storage.schema import requests, sales


@dataclass(frozen=True)
class StoredResponse:
    """A response stored for replay: the exact bytes and the HTTP status they went with."""

    body: bytes
    http_status: int


@dataclass(frozen=True)
class Claim:
    """A request key this transaction now owns."""

    request_pk: int
    client_id: str
    request_id: str
    # The channel the request came in on (json, sms, ussd, xmlvend ...): the sale path
    # checks it against a network node's allowed channels. Empty when rebuilt from a row
    # that did not say; the sale path then reads it from the request's row.
    channel: str = ""


@dataclass(frozen=True)
class RequestRecord:
    request_pk: int
    operation: str
    state: str
    fingerprint: bytes
    received_at: datetime
    response: StoredResponse | None
    channel: str = ""


def _aad(client_id: str, request_id: str) -> bytes:
    # Length-prefixed: ids may contain ':', and ("a:b", "c") must not bind like ("a", "b:c").
    client = client_id.encode()
    return b"evd-response:%d:%s:%s" % (len(client), client, request_id.encode())


# Prebuilt statements (parameters bound at execution): compiled once per process.
_CLAIM_PG = (
    pg_insert(requests)
    .on_conflict_do_nothing(index_elements=["client_id", "request_id"])
    .returning(requests.c.id)
)
_CLAIM_SQLITE = (
    sqlite_insert(requests)
    .on_conflict_do_nothing(index_elements=["client_id", "request_id"])
    .returning(requests.c.id)
)
_STORE = update(requests).where(requests.c.id == bindparam("p_request_pk"))
_FORGET_BODY = (
    update(requests)
    .where(requests.c.id == bindparam("p_request_pk"))
    .values(pending_key_id=None, pending_body=None)
)
_BY_KEY = select(requests).where(
    requests.c.client_id == bindparam("p_client_id"),
    requests.c.request_id == bindparam("p_request_id"),
)


def claim_request(
    txn: Txn,
    keyring: Keyring,
    *,
    channel: str,
    client_id: str,
    request_id: str,
    operation: str,
    fingerprint: bytes,
    now: datetime,
) -> Claim | StoredResponse:
    """Claim the key, or return the stored response of an identical earlier request.

    Raises IdempotencyConflict when the key was used for a different request and
    RequestInProgress when the earlier identical request has not finished yet.
    """
    plan = plan_of(txn)
    if plan is not None:  # claimed by the sale batch's one INSERT (vending.sale_batch)
        claimed = plan.claims.pop((client_id, request_id), None)
        if claimed is not None:
            return Claim(claimed, client_id, request_id)
    request_pk = txn.execute(
        _CLAIM_PG if txn.is_postgres else _CLAIM_SQLITE,
        {
            "client_id": client_id,
            "request_id": request_id,
            "channel": channel,
            "operation": operation,
            "fingerprint": fingerprint,
            "state": "pending",
            "received_at": now,
        },
    ).scalar()
    if request_pk is not None:
        return Claim(request_pk, client_id, request_id, channel)
    existing = find_request(txn, keyring, client_id=client_id, request_id=request_id)
    assert existing is not None  # the conflicting row is committed: we waited on its lock
    if existing.fingerprint != fingerprint or existing.operation != operation:
        raise IdempotencyConflict(
            f"request id {request_id} of {client_id} was already used for a different request"
        )
    if existing.response is None:
        raise RequestInProgress(f"request {request_id} of {client_id} is still being processed")
    return existing.response


def store_response(
    txn: Txn,
    keyring: Keyring,
    claim: Claim,
    body: bytes,
    *,
    http_status: int = 200,
    now: datetime,
    pending: bool = False,
    keep_body: bool = False,
) -> None:
    """Store the response to ``claim`` (encrypted), in the caller's transaction;
    ``pending``: the request kept its body while pending (dropped now, unless
    ``keep_body``: the answer is provisional and will be replaced, rendered again from the
    body -- :func:`kept_body`)."""
    key_id, blob = keyring.encrypt(txn, body, aad=_aad(claim.client_id, claim.request_id))
    plan = plan_of(txn)
    if plan is not None and not pending:  # written with the batch's one UPDATE
        plan.queue("responses", (claim.request_pk, http_status, key_id, blob, now))
        return
    txn.execute(
        _STORE,
        {
            "p_request_pk": claim.request_pk,
            "state": "completed",
            "http_status": http_status,
            "response_key_id": key_id,
            "response": blob,
            "completed_at": now,
        },
    )
    if pending and not keep_body:
        txn.execute(_FORGET_BODY, {"p_request_pk": claim.request_pk})


def _body_aad(request_pk: int) -> bytes:
    return b"evd-pending-request:%d" % request_pk


def keep_pending_body(txn: Txn, keyring: Keyring, claim: Claim, body: bytes) -> None:
    """Keep a claimed request's credential-free body (encrypted) until it is answered, so a
    restart can still render its answer (two-phase requests only)."""
    key_id, blob = keyring.encrypt(txn, body, aad=_body_aad(claim.request_pk))
    txn.execute(
        update(requests)
        .where(requests.c.id == claim.request_pk)
        .values(pending_key_id=key_id, pending_body=blob)
    )


@dataclass(frozen=True)
class PendingRequest:
    """A request claimed but never answered."""

    claim: Claim
    channel: str
    operation: str
    received_at: datetime
    # The credential-free request when it was kept, else None.
    body: bytes | None


def abandoned_requests(
    txn: Txn, keyring: Keyring, *, received_before: datetime, limit: int = 100
) -> list[PendingRequest]:
    """Requests still pending that arrived before ``received_before`` and made no sale (a
    pending sale belongs to its backend's own recovery: upstream vends)."""
    rows = txn.execute(
        select(requests)
        .where(
            requests.c.state == "pending",
            requests.c.received_at < received_before,
            ~select(sales.c.id).where(sales.c.request_pk == requests.c.id).exists(),
        )
        .order_by(requests.c.id)
        .limit(limit)
    ).all()
    found = []
    for row in rows:
        body = None
        if row.pending_body is not None:
            body = keyring.decrypt(txn, row.pending_key_id, row.pending_body, aad=_body_aad(row.id))
        found.append(
            PendingRequest(
                Claim(row.id, row.client_id, row.request_id),
                row.channel,
                row.operation,
                row.received_at,
                body,
            )
        )
    return found


def forget_claim(txn: Txn, claim: Claim) -> bool:
    """Drop a pending claim that made no change (nothing to answer it with): the request
    counts as never processed, so a retry is processed afresh. True if dropped."""
    result = txn.execute(
        delete(requests).where(requests.c.id == claim.request_pk, requests.c.state == "pending")
    )
    return result.rowcount == 1


def kept_body(txn: Txn, keyring: Keyring, request_pk: int) -> tuple[str, bytes] | None:
    """(channel, credential-free body) of a request whose body is still kept (claimed and
    unanswered, or answered provisionally), else None."""
    row = txn.execute(
        select(requests.c.channel, requests.c.pending_key_id, requests.c.pending_body).where(
            requests.c.id == request_pk
        )
    ).first()
    if row is None or row.pending_body is None:
        return None
    body = keyring.decrypt(txn, row.pending_key_id, row.pending_body, aad=_body_aad(request_pk))
    return row.channel, body


def replace_response(
    txn: Txn,
    keyring: Keyring,
    request_pk: int,
    response: StoredResponse,
    *,
    now: datetime,
    final: bool = False,
) -> None:
    """Replace the stored response of a completed request (a reversed sale's answer is
    withdrawn: see :func:`vending.services.idempotency.withdraw_answer`; ``final``: a
    provisional answer replaced by the final one, its kept body dropped)."""
    row = txn.execute(
        select(requests.c.client_id, requests.c.request_id).where(requests.c.id == request_pk)
    ).one()
    store_response(
        txn,
        keyring,
        Claim(request_pk, row.client_id, row.request_id),
        response.body,
        http_status=response.http_status,
        now=now,
        pending=final,
    )


def find_request(
    txn: Txn, keyring: Keyring, *, client_id: str, request_id: str
) -> RequestRecord | None:
    row = txn.execute(_BY_KEY, {"p_client_id": client_id, "p_request_id": request_id}).first()
    return None if row is None else _record(txn, keyring, row)


def find_request_by_pk(txn: Txn, keyring: Keyring, request_pk: int) -> RequestRecord | None:
    """The request a sale was made by (``sales.request_pk``), with its stored response."""
    row = txn.execute(select(requests).where(requests.c.id == request_pk)).first()
    return None if row is None else _record(txn, keyring, row)


def _record(txn: Txn, keyring: Keyring, row: Row) -> RequestRecord:
    response = None
    if row.state == "completed" and row.response is not None:
        body = keyring.decrypt(
            txn, row.response_key_id, row.response, aad=_aad(row.client_id, row.request_id)
        )
        response = StoredResponse(body, row.http_status)
    return RequestRecord(
        request_pk=row.id,
        operation=row.operation,
        state=row.state,
        fingerprint=bytes(row.fingerprint),
        received_at=row.received_at,
        response=response,
        channel=row.channel,
    )


@dataclass(frozen=True)
class RequestKey:
    """Everything that identifies one protocol request for idempotency."""

    channel: str
    client_id: str
    request_id: str
    operation: str
    fingerprint: bytes


@dataclass(frozen=True)
class Processed:
    response: StoredResponse
    # True when this is the stored answer to an earlier identical request.
    replayed: bool
