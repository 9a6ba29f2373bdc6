"""The JSON API stamps with the application's one clock too: after keys, a consumer's
registration, top-up, a wrong PIN, sign-in, wallet and slow sales, a pushed webhook and a
sign-out, every timestamp of every table (the API tables included) lies between the world's
set-up and the test clock's last reading; columns that schedule the future (session expiry,
next webhook attempt, lock ends) lie within a day of it. A real-time stamp falls outside
once the date is moved (``faketime``)."""

from __future__ import annotations

from datetime import timedelta

from api_support import ApiWorld, idem
from server_support import SEEDED_AT, SLOW_METER, VOUCHER_PRODUCT
from test_server_clock import _stamps

import vending.api_tables  # noqa: F401  (the API tables join the metadata)

MSISDN = "27821234567"
PIN = "4321"
# Columns that hold a moment ahead of the clock: checked against a day's horizon.
SCHEDULED = {
    "consumer_sessions.expires_at",
    "webhook_deliveries.next_attempt_at",
    "consumers.locked_until",
    "login_failures.locked_until",
}


def test_every_api_stamp_comes_from_the_injected_clock(api: ApiWorld) -> None:
    api.advance(60)
    api.sentinel.register(PIN)
    registered = api.client.post(
        "/consumers", {"msisdn": MSISDN, "name": "Thandi", "pin": PIN}, key=api.key
    )
    assert registered.status == 201, registered.body
    api.advance(60)
    topped = api.client.post(
        f"/consumers/{MSISDN}/topups", {"amount": "100.00"}, key=api.key, idempotency_key=idem("t")
    )
    assert topped.status == 201, topped.body
    api.advance(60)
    wrong = api.client.post("/sessions", {"msisdn": MSISDN, "pin": "9999"})
    assert wrong.status == 401, wrong.body
    api.advance(60)
    signed_in = api.client.post("/sessions", {"msisdn": MSISDN, "pin": PIN})
    assert signed_in.status == 201, signed_in.body
    token = signed_in.json()["token"]
    api.sentinel.register(token)
    api.advance(60)
    sale = api.sell({"product": VOUCHER_PRODUCT, "amount": "10.00"}, token, idem=idem("w"))
    assert sale.status == 201, sale.body
    api.sentinel.register(sale.json()["pin"])
    hooked = api.client.request(
        "PUT", "/api/v1/webhook", body={"callback_url": "https://merchant.example/evd"}, key=api.key
    )
    assert hooked.status == 200, hooked.body
    api.sentinel.register(hooked.json()["secret"])
    api.receiver.secret = hooked.json()["secret"].encode()
    slow = {"product": "ELEC-DEMO", "meter": SLOW_METER, "amount": "50.00"}
    transport, _ = api.client.open(
        "POST", "/api/v1/sales", body=slow, key=api.key, idempotency_key=idem("slow")
    )
    api.advance(10)  # past the deadline: 202, then the slow sale completes and is pushed
    assert api.client.answer("POST", "/api/v1/sales", transport).status == 202
    api.advance(10)
    assert len(api.receiver.received) == 1
    api.advance(60)
    assert api.client.request("DELETE", "/api/v1/sessions/current", key=token).status == 204

    stamps = _stamps(api.xml)
    for column in ("api_keys.created_at", "consumers.created_at", "consumer_sessions.created_at",
                   "consumer_sessions.revoked_at", "webhook_deliveries.created_at",
                   "webhook_deliveries.delivered_at", "webhook_attempts.attempted_at",
                   "transfers.created_at", "sales.created_at"):  # fmt: skip
        assert column in stamps, sorted(stamps)
    now = api.xml.clock.now
    outside = {
        column: (low.isoformat(), high.isoformat())
        for column, (low, high) in stamps.items()
        if low < SEEDED_AT or high > (now + timedelta(days=1) if column in SCHEDULED else now)
    }
    assert outside == {}, f"stamped outside [{SEEDED_AT}, {now}]: {outside}"
