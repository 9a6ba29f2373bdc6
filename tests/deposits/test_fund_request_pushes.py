"""Fund request decisions and credited deposits pushed to the merchant's webhooks: queued in
the deciding transaction (one event per decision and key, none for a decision that rolled
back), delivered to a real loopback HTTP receiver, retried after a 500 with the same event
and body, signed with the key's secret."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from deposit_support import NOW, ImmediateRunner, run
from fixed_clock import MutableClock
from test_distribution_network import zar
from test_fund_requests import funded_tree
from twisted.internet.defer import ensureDeferred
from twisted.internet.threads import blockingCallFromThread

from deposits.posting import credit_merchant
from distribution import fund_requests
from jsonapi.webhooks import WebhookDeliverer, agent_poster, verify_signature
from vending import api_keys, webhooks
from vending.errors import InsufficientFunds
from vending.keyring import Keyring
from vending.services.distribution import Distribution
from vending.services.webhooks import Webhooks
from vending.vendors import create_operator, create_vendor, get_vendor

MERCHANT = "6004708000007"  # the vendor behind node R1 (child of DL1)
OTHER = "6004708000014"


def _hooked(database: Any, keyring: Keyring, client_id: str, url: str) -> tuple[int, str]:
    """An API key of the merchant with a callback URL: (its id, the signing secret)."""

    def seed(txn: Any) -> tuple[int, str]:
        create_operator(txn, name="till", password_hash="-", vendor_client_id=client_id, now=NOW)
        key, _ = api_keys.create_api_key(
            txn, vendor_client_id=client_id, operator_name="till", actor="t", now=NOW
        )
        secret = api_keys.set_callback(txn, keyring, key.id, url, actor="t", now=NOW)
        assert secret is not None
        return key.id, secret

    return database.run_txn("hook", seed)


@pytest.fixture
def world(database: Any, keyring: Keyring, secrets_sentinel: Any) -> dict[str, Any]:
    """The tree (R1 a merchant below DL1), DL1 funded, a hooked key for R1 and one for
    a merchant outside the tree."""
    funded_tree(database, "DL1")
    database.run_txn("other", create_vendor, client_id=OTHER, name="Other", currency="ZAR", now=NOW)
    key_id, secret = _hooked(database, keyring, MERCHANT, "https://merchant.example.test/evd")
    other_id, other_secret = _hooked(database, keyring, OTHER, "https://other.example.test/evd")
    secrets_sentinel.register(secret, other_secret)
    network = Distribution(ImmediateRunner(database), lambda: NOW, keyring)
    return {"db": database, "network": network, "key": key_id, "other": other_id}


def _deliveries(database: Any, key_id: int) -> list[webhooks.Delivery]:
    return [d for d, _ in database.run_txn("log", webhooks.deliveries_of, key_id)][::-1]


def test_a_decision_queues_exactly_one_event_for_the_requester(world: dict[str, Any]) -> None:
    db, network = world["db"], world["network"]
    asked = run(network.ask_funds("R1", zar(5000), "REF1"))
    assert _deliveries(db, world["key"]) == []  # asking pushes nothing to the requester
    approved = run(network.decide("DL1", asked.id, approve=True, reason="", actor="dl1:cy"))
    [pushed] = _deliveries(db, world["key"])
    assert (pushed.event, pushed.event_key) == (
        "fund_request.approved",
        f"fund_request.approved:{asked.id}",
    )
    document = json.loads(pushed.payload)
    assert document["id"] == pushed.event_key and document["event"] == "fund_request.approved"
    assert document["data"] == {
        "id": asked.id,
        "requester": "R1",
        "reference": "REF1",
        "amount": "50.00",
        "currency": "ZAR",
        "state": "approved",
        "reason": "",
        "transfer_id": approved.transfer_id,
    }
    rejected = run(network.ask_funds("R1", zar(7000), "REF2"))
    run(network.decide("DL1", rejected.id, approve=False, reason="pay first", actor="dl1:cy"))
    events = [(d.event, json.loads(d.payload)["data"]["id"]) for d in _deliveries(db, world["key"])]
    assert events == [("fund_request.approved", asked.id), ("fund_request.rejected", rejected.id)]
    assert _deliveries(db, world["other"]) == []  # nobody else hears of it
    # Queuing the same event again (a retried transaction) adds nothing.
    vendor_id = db.run_txn("v", get_vendor, MERCHANT).id
    again = db.run_txn(
        "again",
        webhooks.push_event,
        vendor_id=vendor_id,
        event="fund_request.approved",
        subject=str(asked.id),
        data={},
        now=NOW,
    )
    assert again == [] and len(_deliveries(db, world["key"])) == 2


def test_every_way_of_deciding_pushes(world: dict[str, Any]) -> None:
    """``fund_requests.decide`` itself pushes (the admin queue calls it); the sweep expires."""
    db, network = world["db"], world["network"]
    staff = run(network.ask_funds("R1", zar(1000), "STAFF"))
    db.run_txn(
        "admin_decide", fund_requests.decide, actor_node="OP", request_id=staff.id,
        approve=True, reason="", actor="staff:ann", now=NOW, notices=network.notices,
    )  # fmt: skip
    late = run(network.ask_funds("R1", zar(1000), "LATE"))
    later = Distribution(ImmediateRunner(db), lambda: NOW + timedelta(days=2), None)
    assert [r.id for r in run(later.expire_fund_requests())] == [late.id]
    events = [(d.event, d.event_key) for d in _deliveries(db, world["key"])]
    assert events == [
        ("fund_request.approved", f"fund_request.approved:{staff.id}"),
        ("fund_request.expired", f"fund_request.expired:{late.id}"),
    ]


def test_a_decision_that_rolls_back_pushes_nothing(world: dict[str, Any]) -> None:
    db, network = world["db"], world["network"]
    asked = run(network.ask_funds("R1", zar(500000), "BIG"))  # more than DL1 holds
    with pytest.raises(InsufficientFunds):
        run(network.decide("DL1", asked.id, approve=True, reason="", actor="dl1:cy"))
    assert db.run_txn("r", fund_requests.get_request, asked.id).state == "pending"
    assert _deliveries(db, world["key"]) == []


def test_a_credited_deposit_is_pushed_once(world: dict[str, Any]) -> None:
    db = world["db"]

    def credit(txn: Any) -> int:
        vendor = get_vendor(txn, MERCHANT)
        return credit_merchant(
            txn,
            vendor=vendor,
            amount=zar(20000),
            fee=zar(500),
            reference="6004708000007",
            bank_ref="FNB123456",
            created_by="deposit:1",
            now=NOW,
        ).id

    transfer_id = db.run_txn("credit", credit)
    [pushed] = _deliveries(db, world["key"])
    document = json.loads(pushed.payload)
    assert document["id"] == f"deposit.credited:{transfer_id}"
    assert document["data"]["credited"] == "195.00" and document["data"]["bank_ref"] == "FNB123456"
    assert document["data"]["transfer_id"] == transfer_id


# --- delivery to a real receiver -------------------------------------------------------------


class _Receiver(BaseHTTPRequestHandler):
    answers: list[int]
    received: list[tuple[dict[str, str], bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(self.answers.pop(0) if self.answers else 204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    """A callback endpoint on a free loopback port: a 500 first, then 204s."""
    handler = type("Handler", (_Receiver,), {"answers": [500], "received": []})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hooks/evd", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_decision_reaches_a_real_receiver_retried_and_signed(
    database: Any,
    keyring: Keyring,
    secrets_sentinel: Any,
    live_reactor: Any,
    receiver: tuple[str, type[_Receiver]],
) -> None:
    url, handler = receiver
    funded_tree(database, "DL1")
    key_id, secret = _hooked(database, keyring, MERCHANT, url)
    secrets_sentinel.register(secret)
    clock = MutableClock(NOW)
    network = Distribution(ImmediateRunner(database), clock, keyring)
    asked = run(network.ask_funds("R1", zar(5000), "REF9"))
    run(network.decide("DL1", asked.id, approve=False, reason="not now", actor="dl1:cy"))

    deliverer = WebhookDeliverer(
        Webhooks(ImmediateRunner(database), keyring, clock),
        agent_poster(live_reactor, timeout_seconds=10),
        live_reactor,
        poll_seconds=3600,
    )

    def drain() -> int:
        return blockingCallFromThread(live_reactor, lambda: ensureDeferred(deliverer.drain()))

    assert drain() == 1  # answered 500
    [failed] = _deliveries(database, key_id)
    assert (failed.state, failed.attempts) == ("pending", 1)
    assert drain() == 0  # not due before its backoff
    clock.advance(webhooks.backoff(1))
    assert drain() == 1  # answered 204
    [done] = _deliveries(database, key_id)
    assert (done.state, done.attempts, done.delivered_at) == ("delivered", 2, clock())
    assert drain() == 0  # delivered: never again

    (first, first_body), (second, second_body) = handler.received
    assert first_body == second_body  # the same event, byte for byte
    assert first["evd-delivery"] == second["evd-delivery"] == str(done.id)
    assert first["evd-event"] == "fund_request.rejected"
    document = json.loads(second_body)
    assert document["id"] == f"fund_request.rejected:{asked.id}"
    assert document["data"]["reason"] == "not now"
    for headers, body in handler.received:
        assert verify_signature(
            secret.encode(), headers["evd-signature"], body, now=live_reactor.seconds()
        )
        assert not verify_signature(
            b"whsec_wrong", headers["evd-signature"], body, now=live_reactor.seconds()
        )
    assert clock() - NOW == timedelta(seconds=webhooks.backoff(1))
