"""Idempotency: one request key, one outcome; replays return the stored bytes, which are
encrypted at rest and bound to their row."""

from __future__ import annotations

from datetime import datetime

import pytest
from fixed_clock import NOW
from sqlalchemy import select, update
from vending_support import VENDOR, claim, order_for, run, snapshot

from vending.errors import IdempotencyConflict, InvalidRequest, RequestInProgress
from vending.keyring import Keyring, KeyringError
from vending.requests import (
    Claim,
    Processed,
    RequestKey,
    StoredResponse,
    claim_request,
    find_request,
    store_response,
)
from vending.sales import record_sale, sale_for_request
from vending.services.idempotency import run_once
from vending.storage.database import Database, Txn
from vending.storage.schema import requests

FINGERPRINT = bytes(range(32))
BODY = b"<creditVendResp>token 1234 5678 9012 3456 7890</creditVendResp>"


def _claim(txn: Txn, keyring: Keyring, request_id: str = "r1", **kw: object):  # type: ignore[no-untyped-def]
    args: dict[str, object] = {
        "channel": "xmlvend",
        "client_id": VENDOR,
        "request_id": request_id,
        "operation": "creditVend",
        "fingerprint": FINGERPRINT,
        "now": NOW,
    }
    args.update(kw)
    return claim_request(txn, keyring, **args)  # type: ignore[arg-type]


def _complete(db: Database, keyring: Keyring, request_id: str, body: bytes, status: int = 200):  # type: ignore[no-untyped-def]
    def work(txn: Txn) -> Claim:
        claimed = _claim(txn, keyring, request_id)
        assert isinstance(claimed, Claim)
        store_response(txn, keyring, claimed, body, http_status=status, now=NOW)
        return claimed

    return db.run_txn("complete", work)


def test_replay_returns_identical_bytes_and_status(database: Database, keyring: Keyring) -> None:
    """The second identical request gets exactly the stored bytes and HTTP status back."""
    first = _complete(database, keyring, "r1", BODY)
    assert first.client_id == VENDOR
    assert first.request_id == "r1"
    replay = run(database, _claim, keyring, "r1")
    assert replay == StoredResponse(BODY, 200)
    _complete(database, keyring, "r2", b"<fault/>", status=500)
    assert run(database, _claim, keyring, "r2") == StoredResponse(b"<fault/>", 500)
    record = run(database, find_request, keyring, client_id=VENDOR, request_id="r1")
    assert record.state == "completed"
    assert record.fingerprint == FINGERPRINT
    assert record.response == StoredResponse(BODY, 200)
    assert run(database, find_request, keyring, client_id=VENDOR, request_id="zz") is None


def test_replay_through_a_new_keyring_instance(database: Database, keyring: Keyring) -> None:
    """Another process (new Keyring, same master key, cold caches) replays the same bytes."""
    _complete(database, keyring, "r1", BODY)
    other = Keyring(keyring._master, clock=lambda: NOW)
    assert run(database, _claim, other, "r1") == StoredResponse(BODY, 200)


@pytest.mark.parametrize(
    "change",
    [{"fingerprint": b"\xff" * 32}, {"operation": "reprint"}],
)
def test_same_key_different_request_is_a_conflict(
    database: Database, keyring: Keyring, change: dict[str, object]
) -> None:
    """The same (client, request id) with another body or operation is refused clearly."""
    _complete(database, keyring, "r1", BODY)
    before = snapshot(database)
    with pytest.raises(IdempotencyConflict, match="r1"):
        run(database, _claim, keyring, "r1", **change)
    assert snapshot(database) == before


def test_pending_request_is_in_progress(database: Database, keyring: Keyring) -> None:
    """A committed claim without a response yet answers RequestInProgress; a different
    body is still a conflict."""
    assert isinstance(run(database, _claim, keyring, "r1"), Claim)
    with pytest.raises(RequestInProgress):
        run(database, _claim, keyring, "r1")
    with pytest.raises(IdempotencyConflict):
        run(database, _claim, keyring, "r1", fingerprint=b"\x00" * 32)


def test_keys_are_per_client(database: Database, keyring: Keyring) -> None:
    """Request ids are scoped by client id."""
    _complete(database, keyring, "r1", BODY)
    assert isinstance(run(database, _claim, keyring, "r1", client_id="OTHER"), Claim)


def test_rolled_back_claim_frees_the_key(database: Database, keyring: Keyring) -> None:
    """A request refused after claiming (its transaction rolled back) may be sent again."""

    def refused(txn: Txn) -> None:
        _claim(txn, keyring, "r1")
        raise InvalidRequest("bad meter")

    before = snapshot(database)
    with pytest.raises(InvalidRequest):
        database.run_txn("refused", refused)
    assert snapshot(database) == before
    assert isinstance(run(database, _claim, keyring, "r1"), Claim)


def test_sale_and_response_commit_together(world: Database, keyring: Keyring) -> None:
    """The sale and its response are one transaction: replay finds both, once."""

    def vend(txn: Txn) -> bytes:
        claimed = claim(txn, keyring, "r1", fingerprint=FINGERPRINT)
        result = record_sale(txn, claimed, order_for(txn, "AIR10"), created_by="t", now=NOW)
        body = b"receipt %d" % result.sale.id
        store_response(txn, keyring, claimed, body, now=NOW)
        return body

    body = world.run_txn("vend", vend)
    sale = run(world, sale_for_request, VENDOR, "r1")
    assert body == b"receipt %d" % sale.id
    assert run(world, _claim, keyring, "r1") == StoredResponse(body, 200)


def process_once(txn: Txn, keyring: Keyring, key: RequestKey, work, *, now: datetime):  # type: ignore[no-untyped-def]
    """The one idempotency path (vending.services.idempotency.run_once) for a system
    request (no principal to re-check), stamped at the caller's ``now``."""
    return run_once(
        txn, keyring, key, None, lambda _txn, claimed: work(claimed), lambda r: r, now=now
    )


def test_process_once(world: Database, keyring: Keyring) -> None:
    """run_once runs the work once and replays its stored response afterwards; work
    that raises leaves nothing behind."""
    key = RequestKey("xmlvend", VENDOR, "p1", "creditVend", FINGERPRINT)
    calls = []

    def work(claimed: Claim) -> StoredResponse:
        calls.append(claimed.request_pk)
        return StoredResponse(b"done", 201)

    first = run(world, process_once, keyring, key, work, now=NOW)
    second = run(world, process_once, keyring, key, work, now=NOW)
    assert first == Processed(StoredResponse(b"done", 201), replayed=False)
    assert second == Processed(StoredResponse(b"done", 201), replayed=True)
    assert len(calls) == 1

    def broken(claimed: Claim) -> StoredResponse:
        raise InvalidRequest("refused")

    before = snapshot(world)
    other = RequestKey("xmlvend", VENDOR, "p2", "creditVend", FINGERPRINT)
    with pytest.raises(InvalidRequest):
        run(world, process_once, keyring, other, broken, now=NOW)
    assert snapshot(world) == before


def _raw(db: Database, request_id: str, client_id: str = VENDOR):  # type: ignore[no-untyped-def]
    return db.run_txn(
        "raw",
        lambda txn: txn.execute(
            select(requests).where(
                requests.c.request_id == request_id, requests.c.client_id == client_id
            )
        ).one(),
    )


def test_responses_are_encrypted_at_rest(database: Database, keyring: Keyring) -> None:
    """The stored column holds ciphertext: no recognisable piece of the plaintext."""
    _complete(database, keyring, "r1", BODY)
    row = _raw(database, "r1")
    stored = bytes(row.response)
    assert row.response_key_id == 1
    assert len(stored) >= len(BODY) + 12 + 16  # nonce and tag
    for piece in (BODY, b"creditVendResp", b"1234 5678", BODY[:8], BODY[-8:]):
        assert piece not in stored
    # Two identical bodies never produce the same ciphertext (fresh nonces).
    _complete(database, keyring, "r2", BODY)
    assert bytes(_raw(database, "r2").response) != stored


def _copy_response(db: Database, source: str, target: str, target_client: str = VENDOR) -> None:
    row = _raw(db, source)
    db.run_txn(
        "copy",
        lambda txn: txn.execute(
            update(requests)
            .where(requests.c.request_id == target, requests.c.client_id == target_client)
            .values(
                state="completed",
                http_status=row.http_status,
                response_key_id=row.response_key_id,
                response=row.response,
            )
        ),
    )


def test_stored_response_is_bound_to_its_row(database: Database, keyring: Keyring) -> None:
    """A response blob copied into another request's row does not decrypt there."""
    _complete(database, keyring, "r1", BODY)
    run(database, _claim, keyring, "r2")
    _copy_response(database, "r1", "r2")
    with pytest.raises(KeyringError, match="failed authentication"):
        run(database, _claim, keyring, "r2")
    with pytest.raises(KeyringError):
        run(database, find_request, keyring, client_id=VENDOR, request_id="r2")


def test_binding_is_unambiguous_for_ids_containing_separators(
    database: Database, keyring: Keyring
) -> None:
    """Client ids and request ids may contain ':'; ("A:B", "C") and ("A", "B:C") are
    different rows, so a blob moved between them must not decrypt."""

    def complete(txn: Txn) -> None:
        claimed = _claim(txn, keyring, "C", client_id="A:B")
        assert isinstance(claimed, Claim)
        store_response(txn, keyring, claimed, BODY, now=NOW)
        _claim(txn, keyring, "B:C", client_id="A")

    database.run_txn("setup", complete)
    row = _raw(database, "C", client_id="A:B")
    database.run_txn(
        "copy",
        lambda txn: txn.execute(
            update(requests)
            .where(requests.c.request_id == "B:C", requests.c.client_id == "A")
            .values(
                state="completed",
                http_status=200,
                response_key_id=row.response_key_id,
                response=row.response,
            )
        ),
    )
    with pytest.raises(KeyringError):
        run(database, _claim, keyring, "B:C", client_id="A")


def test_an_interim_answer_is_replaced_once_by_the_final_one(
    database: Database, keyring: Keyring
) -> None:
    """complete(keep_body=True) keeps the request's body; replace_interim stores the final
    answer and drops the body, so the request is no longer interim (a second settling finds
    nothing to replace)."""
    from vending.requests import keep_pending_body
    from vending.services.idempotency import complete, interim, replace_interim

    def start(txn: Txn) -> Claim:
        claimed = _claim(txn, keyring, "p1")
        assert isinstance(claimed, Claim)
        keep_pending_body(txn, keyring, claimed, b"<bookingReq/>")
        complete(txn, keyring, claimed, StoredResponse(b"<delayed/>", 500), now=NOW,
                 keep_body=True)  # fmt: skip
        return claimed

    claimed = database.run_txn("start", start)
    assert run(database, _claim, keyring, "p1") == StoredResponse(b"<delayed/>", 500)
    kept = run(database, interim, keyring, claimed.request_pk)
    assert kept is not None and (kept.channel, kept.body) == ("xmlvend", b"<bookingReq/>")

    def settle(txn: Txn) -> bool:
        found = interim(txn, keyring, claimed.request_pk)
        if found is None:
            return False
        replace_interim(txn, keyring, found, StoredResponse(b"<bookingResp/>", 200), now=NOW)
        return True

    assert database.run_txn("settle", settle) is True
    assert run(database, _claim, keyring, "p1") == StoredResponse(b"<bookingResp/>", 200)
    assert run(database, interim, keyring, claimed.request_pk) is None
    assert database.run_txn("settle", settle) is False
