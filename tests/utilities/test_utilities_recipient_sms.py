"""A sale's token to the consumer's phone is queued in the sale's own transaction, on every
path the utility side completes a sale: our embedded engine, and a utility's server settled
at once or by recovery after a restart (the number travels in the held sale's details)."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select
from upstream_support import METER, TIMEOUT, UpstreamLoop
from utilities_support import RecordingRenderer, build_world, make_context, result_of

from utilities.interface import MeterQuery, Purchase
from vending.channel_tables import sms_messages
from vending.keyring import Keyring
from vending.money import Money
from vending.recipient_sms import NOTIFY
from vending.storage.database import Database, Txn
from vending.storage.schema import sales

CONSUMER = "27831234567"
NORMAL_METER = "04100000019"


def _messages(database: Database) -> list[object]:
    return database.run_txn("t_sms", lambda txn: list(txn.execute(select(sms_messages)).all()))


def _notifying(world, request_id: str):  # type: ignore[no-untyped-def]
    ctx = make_context(world.cafe, request_id=request_id)
    return dataclasses.replace(ctx, details={**ctx.details, NOTIFY: CONSUMER})


def test_the_embedded_vend_queues_the_token_in_its_own_transaction(
    database: Database, keyring: Keyring
) -> None:
    world = build_world(database, keyring)
    ctx = _notifying(world, "notify-1")
    purchase = Purchase(MeterQuery(NORMAL_METER), amount=Money.parse("50.00", "ZAR"))
    seen: list[int] = []

    class Rollback(Exception):
        pass

    def vend_then_roll_back(txn: Txn) -> None:
        world.service.embedded.credit_vend(txn, ctx, purchase, RecordingRenderer(), world.clock())
        # Inside the sale's transaction, before its commit: the MT is already there.
        seen.append(len(txn.execute(select(sms_messages)).all()))
        raise Rollback

    with pytest.raises(Rollback):
        database.run_txn("t_vend", vend_then_roll_back)
    assert seen == [1]
    # Rolled back with the sale: no sale, no MT.
    assert _messages(database) == []
    assert database.run_txn("t_sales", lambda txn: txn.execute(select(sales)).all()) == []

    renderer = RecordingRenderer()
    processed = result_of(world.service.credit_vend(ctx, purchase, renderer))
    (row,) = _messages(database)
    entry = renderer.entry(processed.response)
    assert (row.msisdn, row.purpose, row.state) == (CONSUMER, "recipient", "pending")
    assert row.request_pk == entry.sale.request_pk and row.sender == ""
    assert entry.sale.details[NOTIFY] == CONSUMER
    # A replay queues nothing new.
    again = result_of(world.service.credit_vend(ctx, purchase, renderer))
    assert again.replayed and len(_messages(database)) == 1


def test_a_vend_without_a_number_sends_nothing(database: Database, keyring: Keyring) -> None:
    world = build_world(database, keyring)
    world.vend(NORMAL_METER, "20.00")
    assert _messages(database) == []


def _start(loop: UpstreamLoop, service, request_id: str):  # type: ignore[no-untyped-def]
    purchase = Purchase(MeterQuery(METER), amount=Money.parse("50.00", "ZAR"))
    return service.credit_vend(_notifying(loop.world, request_id), purchase, loop.world.renderer)


def test_a_vend_settled_by_the_utility_queues_the_token(loop: UpstreamLoop) -> None:
    processed = loop.run(_start(loop, loop.service(), "up-notify"))
    entry = loop.world.rendered(processed)
    (row,) = _messages(loop.world.database)
    assert row.msisdn == CONSUMER and row.request_pk == entry.sale.request_pk


def test_a_vend_settled_by_recovery_after_a_restart_queues_the_token(
    loop: UpstreamLoop,
) -> None:
    loop.utility.settings.latency = TIMEOUT * 2
    first = loop.service(recovery=False)
    first.upstreams["sim"]._schedule = lambda *args: None  # type: ignore[attr-defined]
    _start(loop, first, "up-notify-restart")  # the process dies before the answer
    loop.advance(TIMEOUT * 3)
    assert _messages(loop.world.database) == []

    loop.utility.settings.latency = 0.0
    second = loop.service(recovery=False)
    second.start(RecordingRenderer())
    loop.services.append(second)
    loop.advance(5)
    (row,) = loop.rows()
    assert row.state == "settled"
    (message,) = _messages(loop.world.database)
    assert message.msisdn == CONSUMER and message.request_pk == row.request_pk
