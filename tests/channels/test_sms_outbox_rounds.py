"""The MT outbox's round statements (vending.sms_outbox): one claim for a round, one
record for its accepted messages; claimers in other processes never take the same
message (PostgreSQL: SKIP LOCKED, no waiting on each other); a delivery report that came
before the send's answer stands."""

from __future__ import annotations

import threading

from vending.keyring import Keyring
from vending.sms_outbox import claim_due, enqueue, record_attempts, record_dlr
from vending.storage.database import Database, Txn


def _queue(database: Database, keyring: Keyring, now, count: int) -> None:  # type: ignore[no-untyped-def]
    def queue(txn: Txn) -> None:
        for index in range(count):
            enqueue(
                txn, keyring, source=f"t:{index}", purpose="reply", msisdn="27831234567",
                sender="12345", parts=[(f"hello {index}", 0)], now=now,
            )  # fmt: skip

    database.run_txn("t_queue", queue)


def test_a_round_claims_once_and_records_in_order(
    database: Database, keyring: Keyring, clock
) -> None:  # type: ignore[no-untyped-def]
    now = clock()
    _queue(database, keyring, now, 3)
    claimed = database.run_txn("t_claim", lambda txn: claim_due(txn, keyring, now=now))
    assert [m.text for m in claimed] == ["hello 0", "hello 1", "hello 2"]
    assert {m.attempts for m in claimed} == {1}
    assert database.run_txn("t_again", lambda txn: claim_due(txn, keyring, now=now)) == []
    first, second, third = claimed
    # The delivery report of the first overtook sendsms's answer: it stands.
    assert database.run_txn(
        "t_dlr", lambda txn: record_dlr(txn, first.id, first.dlr_token, 1, now=now)
    )
    states = database.run_txn(
        "t_record",
        lambda txn: record_attempts(
            txn,
            [
                (third.id, "unreachable", "down"),
                (first.id, "accepted", None),
                (second.id, "accepted", None),
            ],
            now=now,
        ),
    )
    assert states == ["pending", "delivered", "submitted"]


def test_two_claimers_never_take_the_same_message(
    pg_database: Database, keyring: Keyring, clock
) -> None:  # type: ignore[no-untyped-def]
    now = clock()
    _queue(pg_database, keyring, now, 10)
    claimed_first, release = threading.Event(), threading.Event()
    got: dict[str, list] = {}  # type: ignore[type-arg]

    def first(txn: Txn) -> None:
        got["first"] = claim_due(txn, keyring, now=now, limit=4)
        claimed_first.set()
        release.wait(20)  # holds its rows locked, as a slow process would

    worker = threading.Thread(target=lambda: pg_database.run_txn("t_first", first))
    worker.start()
    try:
        assert claimed_first.wait(20)
        got["second"] = pg_database.run_txn(
            "t_second", lambda txn: claim_due(txn, keyring, now=now, limit=10)
        )
    finally:
        release.set()
        worker.join(20)
    first_ids = {m.id for m in got["first"]}
    second_ids = {m.id for m in got["second"]}
    assert len(first_ids) == 4 and len(second_ids) == 6
    assert not first_ids & second_ids
