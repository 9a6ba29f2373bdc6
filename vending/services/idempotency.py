"""THE idempotency path: every request of every channel goes through here.

claim the request key -> re-check the principal -> change -> store the answer, in one
transaction (:func:`run_once`). A request whose change cannot finish in one transaction
(a sale held while a utility's server is asked, a demo slow meter) claims first
(:func:`claim`, same order: claim, then re-check) and stores its answer later
(:func:`complete`). Read-only answers are kept under their key through the same path
(:func:`keep_answer`). Nothing else in the code base claims keys or stores answers; the SQL
primitives are :mod:`vending.requests`.

The rules, in one place:

* the first request to arrive claims the key (``INSERT ... ON CONFLICT DO NOTHING``:
  concurrent duplicates cannot both win); its answer is stored, encrypted, in the same
  transaction as the change it reports, before it is sent;
* the same key and fingerprint later get the stored bytes back unchanged (a replay is not
  re-checked: it changes nothing), while the request runs they get ``RequestInProgress``;
  the same key with another fingerprint is refused (``IdempotencyConflict``);
* a fresh claim re-checks the (possibly cached) principal before any change: a vendor
  blocked, or an operator whose password or privileges changed, a moment ago changes
  nothing;
* any error rolls the claim back too: a refused request leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from vending.auth import Principal, revalidate
from vending.errors import IdempotencyConflict, RequestInProgress
from vending.keyring import Keyring
from vending.requests import (
    Claim,
    Processed,
    RequestKey,
    RequestRecord,
    StoredResponse,
    claim_request,
    find_request,
    find_request_by_pk,
    keep_pending_body,
    kept_body,
    replace_response,
    store_response,
)
from vending.storage.database import Txn

Changed = TypeVar("Changed")


def claim(
    txn: Txn,
    keyring: Keyring,
    key: RequestKey,
    principal: Principal | None,
    *,
    now: datetime,
    keep_body: bytes | None = None,
) -> Claim | StoredResponse:
    """Claim ``key`` and re-check ``principal`` (when given), or return the stored answer of
    an identical earlier request. ``keep_body``: the credential-free request, kept
    (encrypted) until :func:`complete` so that recovery after a restart can answer it."""
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
    if isinstance(claimed, Claim):
        if principal is not None:
            revalidate(txn, principal)
        if keep_body is not None:
            keep_pending_body(txn, keyring, claimed, keep_body)
    return claimed


def run_once(
    txn: Txn,
    keyring: Keyring,
    key: RequestKey,
    principal: Principal | None,
    change: Callable[[Txn, Claim], Changed],
    render: Callable[[Changed], StoredResponse],
    *,
    now: datetime,
) -> Processed:
    """Claim ``key``, re-check ``principal``, make ``change(txn, claim)`` and store what
    ``render`` makes of its result: one transaction. An identical retry gets the stored
    answer instead (``replayed``). ``principal`` None: a system request (recovery)."""
    claimed = claim(txn, keyring, key, principal, now=now)
    if isinstance(claimed, StoredResponse):
        return Processed(claimed, replayed=True)
    response = render(change(txn, claimed))
    store_response(txn, keyring, claimed, response.body, http_status=response.http_status, now=now)
    return Processed(response, replayed=False)


def keep_answer(
    txn: Txn,
    keyring: Keyring,
    key: RequestKey,
    principal: Principal,
    response: StoredResponse,
    *,
    now: datetime,
) -> Processed:
    """Keep a read-only request's answer under its key (the first answer wins: an identical
    re-send gets that one back; the key reused for another request is refused)."""
    return run_once(
        txn, keyring, key, principal, lambda _txn, _claim: None, lambda _: response, now=now
    )


def complete(
    txn: Txn,
    keyring: Keyring,
    claimed: Claim,
    response: StoredResponse,
    *,
    now: datetime,
    provisional: bool = False,
) -> Processed:
    """Store the answer of a request claimed earlier (:func:`claim`), unless one is stored
    already (then that one wins and is returned, ``replayed``). ``provisional``: an answer
    that says the outcome is not known yet; the request's kept body stays, so that
    :func:`settle_provisional` can store the final answer rendered from it."""
    existing = find_request(
        txn, keyring, client_id=claimed.client_id, request_id=claimed.request_id
    )
    if existing is not None and existing.response is not None:
        return Processed(existing.response, replayed=True)
    store_response(
        txn,
        keyring,
        claimed,
        response.body,
        http_status=response.http_status,
        now=now,
        pending=True,
        keep_body=provisional,
    )
    return Processed(response, replayed=False)


def settle_provisional(
    txn: Txn,
    keyring: Keyring,
    request_pk: int,
    render: Callable[[str, bytes], StoredResponse | None],
    *,
    now: datetime,
) -> bool:
    """Replace a provisional answer (:func:`complete` with ``provisional``) by the final
    one, ``render(channel, kept request body)``; every later replay of the key and its
    last-response advice get it. False (nothing changed) when no body is kept (already
    settled) or ``render`` gives None."""
    kept = kept_body(txn, keyring, request_pk)
    if kept is None:
        return False
    response = render(*kept)
    if response is None:
        return False
    replace_response(txn, keyring, request_pk, response, now=now, final=True)
    return True


def store_if_unanswered(
    txn: Txn, keyring: Keyring, key: RequestKey, response: StoredResponse, *, now: datetime
) -> bool:
    """Store the fault of a request that failed after its client was told it is delayed,
    so that its last-response advice gets the definitive answer. Nothing is stored when an
    answer already is, or when the key belongs to another request. True if stored."""
    try:
        claimed = claim(txn, keyring, key, None, now=now)
    except (IdempotencyConflict, RequestInProgress):
        return False
    if isinstance(claimed, StoredResponse):
        return False
    store_response(txn, keyring, claimed, response.body, http_status=response.http_status, now=now)
    return True


def withdraw_answer(
    txn: Txn, keyring: Keyring, request_pk: int, response: StoredResponse, *, now: datetime
) -> None:
    """Replace the stored answer of a completed request (a reversed sale: its PIN or token
    must never be served again). Every later replay of the key, and its last-response
    advice, gets ``response``, byte for byte."""
    replace_response(txn, keyring, request_pk, response, now=now)


def lookup(txn: Txn, keyring: Keyring, client_id: str, request_id: str) -> RequestRecord | None:
    """The request stored under a key, with its answer when it has one."""
    return find_request(txn, keyring, client_id=client_id, request_id=request_id)


def lookup_by_pk(txn: Txn, keyring: Keyring, request_pk: int) -> RequestRecord | None:
    return find_request_by_pk(txn, keyring, request_pk)


__all__ = [
    "claim",
    "complete",
    "keep_answer",
    "lookup",
    "lookup_by_pk",
    "run_once",
    "settle_provisional",
    "store_if_unanswered",
    "withdraw_answer",
]
