"""Idempotency and replay of protocol requests.

Every request is keyed on (client id, request id). The first one to arrive claims the key
(INSERT ... ON CONFLICT DO NOTHING, so concurrent duplicates cannot both win); its response
is stored, encrypted, in the same transaction as the work it reports, before it is sent.
A retry with the same key and the same fingerprint gets the stored bytes back unchanged; the
same key with another fingerprint is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Row, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from vending.auth import Principal, revalidate
from vending.errors import IdempotencyConflict, RequestInProgress
from vending.keyring import Keyring
from vending.storage.database import Txn
from vending.storage.schema import requests


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
        return Claim(request_pk, client_id, request_id)
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
) -> None:
    """Store the response to ``claim`` (encrypted), in the caller's transaction."""
    key_id, blob = keyring.encrypt(txn, body, aad=_aad(claim.client_id, claim.request_id))
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


def process_once(
    txn: Txn,
    keyring: Keyring,
    key: RequestKey,
    work: Callable[[Claim], StoredResponse],
    *,
    now: datetime,
) -> Processed:
    """Claim ``key`` and run ``work`` once, storing its response in the same transaction;
    an identical retry gets the stored response instead. ``work`` raising rolls back the
    claim too, so a refused request leaves nothing behind and may be sent again."""
    claimed = claim_request(
        txn,
        keyring,
        channel=key.channel,
        client_id=key.client_id,
        request_id=key.request_id,
        operation=key.operation,
        fingerprint=key.fingerprint,
        now=now,
    )
    if isinstance(claimed, StoredResponse):
        return Processed(claimed, replayed=True)
    response = work(claimed)
    store_response(txn, keyring, claimed, response.body, http_status=response.http_status, now=now)
    return Processed(response, replayed=False)


Changed = TypeVar("Changed")


def change_once(
    txn: Txn,
    keyring: Keyring,
    key: RequestKey,
    principal: Principal,
    change: Callable[[Txn, int], Changed],
    render: Callable[[Changed], StoredResponse],
    *,
    now: datetime,
) -> Processed:
    """:func:`process_once` for a principal's request that changes state: claim ``key``,
    re-check the principal (blocked, password or privileges changed since it was
    authenticated), make ``change(txn, request_pk)`` and store the answer ``render`` makes
    of its result, all in one transaction. Any error rolls back the claim too."""

    def work(claim: Claim) -> StoredResponse:
        revalidate(txn, principal)
        return render(change(txn, claim.request_pk))

    return process_once(txn, keyring, key, work, now=now)
