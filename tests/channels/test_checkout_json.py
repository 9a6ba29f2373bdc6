"""The card checkout on the JSON API (``POST /api/v1/checkout``, public): every answer is
validated against the served OpenAPI document by the JSON API's test client."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))

from api_support import ApiWorld, Receiver
from server_support import NORMAL_METER, PLATFORM, build_world
from test_card_checkout import MemorySwitch
from twisted.internet.defer import ensureDeferred
from twisted.internet.task import deferLater

from cardpay.renderer import CardRenderer, render_checkout
from jsonapi.app import build_json_api
from vending.services.card_checkout import CardCheckout
from xmlvend.server.mounts import mount

CARD = {"number": "4111 1111 1111 1111", "expiry": "2912", "cvv": "123"}


@pytest.fixture
def api(database, keyring, secrets_sentinel) -> tuple[ApiWorld, MemorySwitch]:  # type: ignore[no-untyped-def]
    xml = build_world(database, keyring, secrets_sentinel)
    services = xml.server.services
    app = SimpleNamespace(
        config=xml.config, runner=services.runner, keyring=keyring, services=services
    )
    switch = MemorySwitch()
    app._evd_card_checkout = CardCheckout(
        services.runner,
        keyring,
        xml.clock,
        services,
        switch,
        renderer=CardRenderer(),
        render=render_checkout,
        sleep=lambda seconds: deferLater(xml.reactor, seconds, lambda: None),
        background=ensureDeferred,
        vendor_client_id=PLATFORM,
        operator_name="platform",
    )
    receiver = Receiver(xml.reactor)
    built = build_json_api(app, reactor=xml.reactor, post=receiver.post)
    mount(xml.server.site, built.segment, built.resource)
    secrets_sentinel.register("4111111111111111")
    return ApiWorld(xml, built, receiver, secrets_sentinel), switch


def _body(reference: str, amount: str = "50.00") -> dict:  # type: ignore[type-arg]
    return {
        "reference": reference,
        "product": "ELEC-DEMO",
        "target": NORMAL_METER,
        "amount": amount,
        "card": CARD,
    }


def test_a_public_card_checkout_sells_and_replays(api) -> None:  # type: ignore[no-untyped-def]
    world, _ = api
    paid = world.client.post("/checkout", _body("json-1"))
    assert paid.status == 201 and paid.json()["status"] == "sold"
    assert len(paid.json()["sale"]["token"]) == 20
    assert world.client.post("/checkout", _body("json-1")).body == paid.body
    assert world.sale_count() == 1


def test_declines_and_bad_cards_are_answered_as_documented(api) -> None:  # type: ignore[no-untyped-def]
    world, switch = api
    switch.answers = ["51"]
    declined = world.client.post("/checkout", _body("json-2"))
    assert declined.status == 402 and declined.json()["response_code"] == "51"
    bad = world.client.post("/checkout", {**_body("json-3"), "card": {**CARD, "cvv": "1"}})
    assert bad.status == 422 and bad.problem_type is not None
    assert world.sale_count() == 0


def test_a_json_sale_with_a_recipient_queues_the_pin_by_sms(api) -> None:  # type: ignore[no-untyped-def]
    from vending.channel_tables import sms_messages

    world, _ = api
    world.key = world.new_key()
    sold = world.sell(
        {"product": "AIR-DEMO-10", "amount": "10.00", "recipient": "+27831234567"}, idem="r-1"
    )
    assert sold.status == 201
    token = world.sell(
        {"product": "ELEC-DEMO", "amount": "20.00", "meter": NORMAL_METER,
         "recipient": "27831234567"}, idem="r-2",
    )  # fmt: skip
    assert token.status == 201
    rows = world.database.run_txn("t", lambda txn: txn.execute(sms_messages.select()).all())
    assert [(row.msisdn, row.purpose) for row in rows] == [("27831234567", "recipient")] * 2
    # The text is encrypted at rest: the PIN is not in the table.
    world.sentinel.assert_absent(b"".join(bytes(row.body) for row in rows), "sms_messages")

    # The vendor sees what was sent for each sale and its delivery state (never the text).
    sale_id = sold.json()["id"]
    messages = world.client.get(f"/sales/{sale_id}/messages", key=world.key)
    assert messages.status == 200
    (message,) = messages.json()["messages"]
    assert (message["to"], message["state"]) == ("27831234567", "pending")
