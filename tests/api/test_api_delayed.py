"""The 10-second rule on the JSON API: a sale not final by the deadline answers 202 with the
Location to poll; its final answer is pushed to the key's callback URL, signed, and retried
with backoff until acknowledged -- all on the fake reactor, no sleeps."""

from __future__ import annotations

from typing import Any

from api_support import ApiWorld, build_api_world, by_key_path, idem
from server_support import NORMAL_METER, SLOW_METER
from twisted.internet.defer import Deferred

from utilities.errors import UpstreamUnavailable
from vending import webhooks

DEADLINE = 8.0
SLOW = {"product": "ELEC-DEMO", "meter": SLOW_METER, "amount": "50.00"}


def _register_callback(api: ApiWorld) -> None:
    response = api.client.request(
        "PUT",
        "/api/v1/webhook",
        body={"callback_url": "https://merchant.example/evd"},
        key=api.key,
    )
    assert response.status == 200, response.body
    secret = response.json()["secret"]
    api.sentinel.register(secret)
    api.receiver.secret = secret.encode()


def test_a_slow_sale_answers_202_then_is_pushed_signed(api: ApiWorld) -> None:
    _register_callback(api)
    key = idem("slow")
    transport, _ = api.client.open(
        "POST", "/api/v1/sales", body=SLOW, key=api.key, idempotency_key=key
    )
    api.advance(DEADLINE - 0.01)
    assert transport.value() == b""
    api.advance(0.01)
    pending = api.client.answer("POST", "/api/v1/sales", transport)
    assert pending.status == 202
    assert pending.headers["location"] == "/api/v1" + by_key_path(key)
    assert pending.json()["status"] == "pending"
    # Polling and retrying while it runs: still pending, no second sale.
    assert api.client.get(by_key_path(key), key=api.key).status == 202
    assert api.sell(SLOW, idem=key).status == 202
    assert api.receiver.received == []
    api.advance(5)  # the slow meter's sale completes; the deliverer is kicked
    final = api.client.get(by_key_path(key), key=api.key)
    assert final.status == 200 and final.json()["tokens"]
    assert len(api.receiver.received) == 1
    pushed = api.receiver.verified()
    assert pushed["event"] == "sale.completed" and pushed["idempotency_key"] == key
    assert pushed["result"] == final.json()
    retry = api.sell(SLOW, idem=key)
    assert retry.status == 201 and retry.body == final.body
    log = api.client.get("/webhook/deliveries", key=api.key).json()["items"]
    assert log[0]["state"] == "delivered" and log[0]["attempts"][0]["status"] == 204
    assert api.ledger_ok()


def test_a_failing_receiver_is_retried_with_backoff_until_it_acknowledges(
    api: ApiWorld,
) -> None:
    _register_callback(api)
    api.receiver.answers = [500, 0]  # a server error, then connection refused, then 204
    key = idem("slow-retry")
    transport, _ = api.client.open(
        "POST", "/api/v1/sales", body=SLOW, key=api.key, idempotency_key=key
    )
    api.advance(DEADLINE)
    assert api.client.answer("POST", "/api/v1/sales", transport).status == 202
    api.advance(5)
    assert len(api.receiver.received) == 1
    log = api.client.get("/webhook/deliveries", key=api.key).json()["items"]
    assert log[0]["state"] == "pending" and log[0]["attempts"][0]["status"] == 500
    api.advance(webhooks.BACKOFF_SECONDS)  # first retry after 5 s
    assert len(api.receiver.received) == 2
    api.advance(webhooks.BACKOFF_SECONDS)  # the second waits 10 s
    assert len(api.receiver.received) == 2
    api.advance(webhooks.BACKOFF_SECONDS)
    assert len(api.receiver.received) == 3
    body = [api.receiver.verified(i) for i in range(3)]
    assert body[0] == body[1] == body[2]
    log = api.client.get("/webhook/deliveries", key=api.key).json()["items"]
    assert log[0]["state"] == "delivered"
    assert [a["status"] for a in log[0]["attempts"]] == [500, None, 204]
    assert "ConnectionRefusedError" in log[0]["attempts"][1]["error"]


def test_without_a_callback_the_result_is_only_pulled(api: ApiWorld) -> None:
    key = idem("slow-pull")
    transport, _ = api.client.open(
        "POST", "/api/v1/sales", body=SLOW, key=api.key, idempotency_key=key
    )
    api.advance(DEADLINE)
    assert api.client.answer("POST", "/api/v1/sales", transport).status == 202
    api.advance(5)
    assert api.client.get(by_key_path(key), key=api.key).status == 200
    assert api.receiver.received == []
    assert api.client.get("/webhook/deliveries", key=api.key).json()["items"] == []


class HeldUtility:
    """The real utility side, except that the first ``credit_vend`` answers only when the
    test says (an upstream as slow as it likes); later calls go straight through."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.held: list[Deferred] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def credit_vend(self, ctx: Any, purchase: Any, renderer: Any) -> Any:
        if self.held:
            return self.inner.credit_vend(ctx, purchase, renderer)
        d: Deferred = Deferred()
        self.held.append(d)
        return d


def test_a_sale_failing_after_its_202_stores_and_pushes_the_problem(
    database: Any, keyring: Any, secrets_sentinel: Any
) -> None:
    held: list[HeldUtility] = []

    def wrap(inner: Any) -> HeldUtility:
        held.append(HeldUtility(inner))
        return held[0]

    api = build_api_world(database, keyring, secrets_sentinel, wrap_utility=wrap)
    _register_callback(api)
    balance, sales = api.balance(), api.sale_count()
    key = idem("fails-late")
    body = {"product": "ELEC-DEMO", "meter": NORMAL_METER, "amount": "50.00"}
    transport, _ = api.client.open(
        "POST", "/api/v1/sales", body=body, key=api.key, idempotency_key=key
    )
    api.advance(DEADLINE)
    assert api.client.answer("POST", "/api/v1/sales", transport).status == 202
    assert api.client.get(by_key_path(key), key=api.key).status == 202
    held[0].held[0].errback(UpstreamUnavailable("the utility's vending server is unavailable"))
    api.advance(0)
    final = api.client.get(by_key_path(key), key=api.key)
    assert final.status == 503 and final.problem_type == "system"
    pushed = api.receiver.verified()
    assert pushed["event"] == "sale.failed" and pushed["status"] == 503
    assert pushed["result"] == final.json()
    retry = api.sell(body, idem=key)  # the stored problem, not a second attempt
    assert (retry.status, retry.body) == (final.status, final.body)
    assert len(held[0].held) == 1
    assert api.balance() == balance and api.sale_count() == sales
