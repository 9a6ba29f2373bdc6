"""Fulfilment through providers on a task.Clock with the scripted providers: SUCCESS,
FAILED (refund), PENDING then status, UNKNOWN (timeout) held never refunded, failover when
a provider is down, every provider down, callbacks (applied once, duplicates, forged,
unknown, already final), idempotent replays, money balanced throughout."""

from __future__ import annotations

import json

import pytest
from catalogue_support import (
    SECRET,
    answer,
    context,
    inr,
    ledger_ok,
    principal,
    suspense_balance,
    vendor_balance,
)
from sqlalchemy import select
from twisted.internet.defer import ensureDeferred

from catalogue.adapters.recharge_json import encode_result
from catalogue.callbacks import sign
from catalogue.interface import Outcome, ProviderResult
from catalogue.orders import attempts_of, get_order
from catalogue.tables import provider_callbacks
from vending.services.recharge_sales import RechargeRequest

START = 1_000_000


def run(coro):  # type: ignore[no-untyped-def]
    """Drive a service coroutine whose awaitables have all fired (ImmediateDatabase,
    scripted providers)."""
    box: list = []
    ensureDeferred(coro).addBoth(box.append)
    assert box, "the coroutine waits on something that never fires"
    if hasattr(box[0], "raiseException"):
        box[0].raiseException()
    return box[0]


def sell(shop, number: str, amount: int = 19_900, request_id: str | None = None, **kw):  # type: ignore[no-untyped-def]
    who = principal(shop.db)
    ctx = context(who, request_id, body=f"{number}/{amount}")
    request = RechargeRequest(ctx, number, inr(amount), **kw)
    return run(shop.recharge.sell(request, shop.renderer))


def order(shop, order_id: str):  # type: ignore[no-untyped-def]
    return shop.db.run_txn("order", get_order, order_id)


def cost(amount: int = 19_900) -> int:
    """What the vendor pays for a recharge of ``amount`` (2% commission back)."""
    return amount - amount * 200 // 10_000


def test_success_settles_and_is_stored(shop) -> None:
    outcome = sell(shop, "9810000010", request_id="r-ok")
    body = answer(outcome)
    assert body["state"] == "success" and body["operator_ref"].startswith("OPALPHA")
    assert outcome.response.http_status == 200
    assert shop.providers["alpha"].executed[0].provider_code == "AAT"
    assert shop.providers["alpha"].executed[0].params["circle"] == "DL"
    assert vendor_balance(shop.db) == START - cost()
    assert suspense_balance(shop.db) == 0
    replay = sell(shop, "9810000010", request_id="r-ok")
    assert replay.replayed and replay.response.body == outcome.response.body
    assert len(shop.providers["alpha"].executed) == 1
    ledger_ok(shop.db)


def test_failed_refunds_at_once(shop) -> None:
    body = answer(sell(shop, "9810000011"))
    assert body["state"] == "failed" and "Invalid operator account" in body["message"]
    assert vendor_balance(shop.db) == START
    assert suspense_balance(shop.db) == 0
    ledger_ok(shop.db)


def test_pending_holds_then_status_poll_settles(shop) -> None:
    outcome = sell(shop, "9810000012", request_id="r-pend")
    body = answer(outcome)
    assert body["state"] == "pending" and outcome.response.http_status == 202
    assert vendor_balance(shop.db) == START - cost()
    assert suspense_balance(shop.db) == cost()
    # A retry while pending: the same pending answer with our reference, nothing sold again.
    again = answer(sell(shop, "9810000012", request_id="r-pend"))
    assert again["order_id"] == body["order_id"] and again["state"] == "pending"
    assert len(shop.providers["alpha"].executed) == 1
    shop.reactor.advance(2.0)  # first poll: still pending
    assert order(shop, body["order_id"]).state == "pending"
    shop.providers["alpha"].statuses[body["order_id"]] = ProviderResult(
        Outcome.SUCCESS, "ALPHA1", "OPREF77", "000", "Recharge done"
    )
    shop.reactor.advance(3.9)  # backoff: the next poll is 4 s after the first
    assert order(shop, body["order_id"]).state == "pending"
    shop.reactor.advance(0.1)
    done = order(shop, body["order_id"])
    assert done.state == "success" and done.operator_ref == "OPREF77"
    assert suspense_balance(shop.db) == 0
    final = sell(shop, "9810000012", request_id="r-pend")
    assert answer(final)["state"] == "success" and answer(final)["operator_ref"] == "OPREF77"
    actions = [(a["action"], a["outcome"]) for a in shop.db.run_txn("a", attempts_of, done.pk)]
    assert actions == [("execute", "PENDING"), ("status", "PENDING"), ("status", "SUCCESS")]
    ledger_ok(shop.db)


def test_timeout_is_never_refunded_until_status_says_failed(shop) -> None:
    body = answer(sell(shop, "9810000013"))
    assert body["state"] == "pending"
    for _ in range(3):
        shop.reactor.advance(16.0)
    assert order(shop, body["order_id"]).state == "pending"
    assert vendor_balance(shop.db) == START - cost()
    shop.providers["alpha"].statuses[body["order_id"]] = ProviderResult(
        Outcome.FAILED, code="F02", message="Operator down"
    )
    shop.reactor.advance(16.0)
    assert order(shop, body["order_id"]).state == "failed"
    assert vendor_balance(shop.db) == START
    assert suspense_balance(shop.db) == 0
    ledger_ok(shop.db)


def test_unresolved_order_is_reported_and_stays_held(shop) -> None:
    body = answer(sell(shop, "9810000013"))
    for _ in range(10):
        shop.reactor.advance(16.0)
    assert order(shop, body["order_id"]).state == "pending"
    assert not shop.reactor.getDelayedCalls()  # gave up polling: people reconcile
    from vending import outbox

    kinds = shop.db.run_txn("o", lambda txn: [n.kind for n in outbox.pending(txn)])
    assert "catalogue.order_unresolved" in kinds
    assert suspense_balance(shop.db) == cost()


def test_provider_down_fails_over_to_the_next(shop) -> None:
    shop.providers["alpha"].down = True
    body = answer(sell(shop, "9810000010"))
    assert body["state"] == "success" and body["provider_ref"].startswith("BETA")
    assert shop.providers["beta"].executed[0].provider_code == "B-AT"
    got = order(shop, body["order_id"])
    assert got.provider == "beta"
    assert [(a["provider"], a["outcome"]) for a in shop.db.run_txn("a", attempts_of, got.pk)] == [
        ("alpha", "DOWN"),
        ("beta", "SUCCESS"),
    ]
    # alpha stays behind beta while it was seen down recently.
    shop.providers["alpha"].down = False
    body = answer(sell(shop, "9810000010"))
    assert body["provider_ref"].startswith("BETA")
    ledger_ok(shop.db)


def test_every_provider_down_refunds(shop) -> None:
    shop.providers["alpha"].down = shop.providers["beta"].down = True
    body = answer(sell(shop, "9810000010"))
    assert body["state"] == "failed" and body["message"] == "no provider available"
    assert vendor_balance(shop.db) == START
    ledger_ok(shop.db)


def test_low_success_rate_switches_to_the_other_provider(shop) -> None:
    for _ in range(5):
        sell(shop, "9810000011")  # alpha fails them all
    body = answer(sell(shop, "9810000010"))
    assert body["provider_ref"].startswith("BETA")


def _callback(shop, order_id: str, status: str, peer: str = "127.0.0.1", secret=None, **kw):  # type: ignore[no-untyped-def]
    raw = encode_result(status, order_id=order_id, txn_id="ALPHA9", **kw)
    signature = sign(secret or SECRET + b"alpha", raw)
    return run(shop.fulfilment.callback("alpha", peer, raw, signature))


def test_pending_then_callback_success_and_duplicates(shop) -> None:
    body = answer(sell(shop, "9810000012", request_id="r-cb"))
    status, result = _callback(shop, body["order_id"], "SUCCESS", operator_ref="OPCB1")
    assert (status, result) == (200, "applied")
    assert order(shop, body["order_id"]).state == "success"
    assert suspense_balance(shop.db) == 0
    # The same body again, and another SUCCESS: nothing changes.
    assert _callback(shop, body["order_id"], "SUCCESS", operator_ref="OPCB1") == (200, "duplicate")
    assert _callback(shop, body["order_id"], "FAILED") == (200, "already_final")
    assert vendor_balance(shop.db) == START - cost()
    assert answer(sell(shop, "9810000012", request_id="r-cb"))["operator_ref"] == "OPCB1"
    ledger_ok(shop.db)


def test_pending_then_callback_failed_refunds(shop) -> None:
    body = answer(sell(shop, "9810000012"))
    assert _callback(shop, body["order_id"], "FAILED", message="Recharge failed")[1] == "applied"
    assert order(shop, body["order_id"]).state == "failed"
    assert vendor_balance(shop.db) == START
    shop.reactor.advance(60)  # the scheduled poll finds it final: nothing more
    assert vendor_balance(shop.db) == START
    ledger_ok(shop.db)


@pytest.mark.parametrize(
    ("peer", "secret", "expected"),
    [
        ("10.1.2.3", None, (403, "forbidden_address")),
        ("127.0.0.1", b"x" * 32, (401, "bad_signature")),
    ],
)
def test_forged_callbacks_change_nothing(shop, peer, secret, expected) -> None:
    body = answer(sell(shop, "9810000012"))
    assert _callback(shop, body["order_id"], "FAILED", peer=peer, secret=secret) == expected
    assert order(shop, body["order_id"]).state == "pending"
    assert vendor_balance(shop.db) == START - cost()
    assert shop.db.run_txn("c", lambda txn: txn.execute(select(provider_callbacks)).all()) == []


def test_callback_for_unknown_order_is_logged_and_changes_nothing(shop, caplog) -> None:
    assert _callback(shop, "EV000000000000009999", "SUCCESS") == (200, "unknown_order")
    assert "unknown_order" in caplog.text
    raw = b"not json"
    assert (
        run(shop.fulfilment.callback("alpha", "127.0.0.1", raw, sign(SECRET + b"alpha", raw)))[0]
        == 400
    )


def test_callback_wins_over_a_late_execute_answer(shop) -> None:
    """A provider pushing its result before our execute call returned: the order closes once."""
    body = answer(sell(shop, "9810000012", request_id="r-race"))
    _callback(shop, body["order_id"], "SUCCESS", operator_ref="OPX")
    got = order(shop, body["order_id"])
    applied = shop.db.run_txn(
        "late",
        shop.fulfilment._apply,
        got.pk,
        None,
        "execute",
        ProviderResult(Outcome.PENDING),
        0,
        {"id": "r-race"},
        shop.renderer,
        shop.fulfilment._clock(),
    )
    assert json.loads(applied.response.body)["state"] == "success"
    ledger_ok(shop.db)


def test_invalid_numbers_change_nothing(shop) -> None:
    from catalogue.errors import InvalidNumber, UnknownRechargeOperator

    with pytest.raises(InvalidNumber):
        sell(shop, "5810000010")
    with pytest.raises(UnknownRechargeOperator):
        sell(shop, "9999000010")
    with pytest.raises(InvalidNumber):
        sell(shop, "2000000010", operator="TSKY")  # Tata Play ids start with 1
    assert vendor_balance(shop.db) == START
    assert shop.providers["alpha"].executed == []


def test_an_order_whose_answer_was_never_applied_is_found_by_the_sweep(shop) -> None:
    """The process stopped between the hold and the provider's answer: the sweep asks the
    candidate providers; the one that knows the order settles it (nothing refunded blind)."""
    who = principal(shop.db)
    ctx = context(who, "r-orphan", body="orphan")
    from catalogue.fulfilment import Prepared
    from catalogue.recharge import lookup_number
    from vending.products import get_product

    def prepare(txn, now):  # type: ignore[no-untyped-def]
        info = lookup_number(txn, "9810000010")
        return Prepared(
            get_product(txn, info.operator.product_code),
            "mobile",
            "9810000010",
            inr(19_900),
            {"operator": "AT", "circle": "DL"},
        )

    held = shop.db.run_txn("hold", shop.fulfilment._hold, ctx, prepare, shop.fulfilment._clock())
    order_id = held.order.order_id
    assert vendor_balance(shop.db) == START - cost() and suspense_balance(shop.db) == cost()
    shop.providers["beta"].statuses[order_id] = ProviderResult(
        Outcome.SUCCESS, "BETA9", "OPB9", "000", "done"
    )
    shop.providers["alpha"].down = True  # alpha cannot be asked; beta knows the order
    shop.fulfilment.start()
    shop.reactor.advance(299)
    assert order(shop, order_id).state == "pending"
    shop.reactor.advance(31)  # the first sweep after five minutes finds it
    got = order(shop, order_id)
    assert (got.state, got.provider, got.operator_ref) == ("success", "beta", "OPB9")
    assert suspense_balance(shop.db) == 0
    shop.fulfilment.stop()
    ledger_ok(shop.db)
