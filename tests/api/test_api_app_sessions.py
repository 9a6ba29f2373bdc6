"""Sign-in for apps (the phone web app at /app, or any other): a merchant's operator gets a
short-lived session token from its XMLVend credentials, throttled like every operator
login; it sells from the vendor's float, ends on sign-out, expiry or a password change, is
never an API key (no webhooks, not listed); GET /sessions/current says who it is; an app
lists what it can buy and confirms a meter before paying."""

from __future__ import annotations

from api_support import ApiWorld, idem
from fixed_clock import NOW
from server_support import CAFE, CAFE_OPERATOR, NORMAL_METER, VOUCHER_PRODUCT
from sqlalchemy import select

from vending.api_keys import list_api_keys
from vending.api_tables import api_keys
from vending.passwords import hash_password
from vending.vendors import get_operator, set_operator_password, set_vendor_blocked

OPERATOR, PASSWORD = CAFE_OPERATOR
MERCHANT = {"client_id": CAFE, "operator": OPERATOR, "password": PASSWORD}


def _sign_in(api: ApiWorld, **changes: str) -> object:
    return api.client.post("/sessions", {**MERCHANT, **changes})


def _token(api: ApiWorld) -> str:
    response = _sign_in(api)
    assert response.status == 201, response.body
    document = response.json()
    assert document["kind"] == "merchant" and document["token"].startswith("evd_app_")
    api.sentinel.register(document["token"])
    return document["token"]


def test_a_merchant_signs_in_sells_from_the_float_and_signs_out(api: ApiWorld) -> None:
    token = _token(api)
    me = api.client.get("/sessions/current", key=token)
    assert me.status == 200
    assert me.json() == {
        "kind": "merchant",
        "name": "Corner Cafe",
        "msisdn": None,
        "client_id": CAFE,
        "operator": OPERATOR,
        "currency": "ZAR",
        "expires_at": "2026-11-22T11:00:00Z",
    }
    before = api.balance()
    sale = api.sell({"product": VOUCHER_PRODUCT, "amount": "10.00"}, token, idem=idem("app-1"))
    assert sale.status == 201, sale.body
    assert api.balance() < before
    # The operator's request keys are the vendor's: the same key from its API key replays.
    again = api.sell({"product": VOUCHER_PRODUCT, "amount": "10.00"}, idem=idem("app-1"))
    assert (again.status, again.body) == (sale.status, sale.body)
    assert api.sale_count() == 1
    assert api.client.request("DELETE", "/api/v1/sessions/current", key=token).status == 204
    gone = api.client.get("/account", key=token)
    assert gone.status == 401 and gone.problem_type == "unauthenticated"
    assert api.ledger_ok()


def test_wrong_credentials_are_refused_alike_and_throttled(api: ApiWorld) -> None:
    wrong = _sign_in(api, password="not-the-password")
    unknown_vendor = _sign_in(api, client_id="6004708999999")
    unknown_operator = _sign_in(api, operator="nobody")
    for response in (wrong, unknown_vendor, unknown_operator):
        assert response.status == 401 and response.problem_type == "unauthenticated"
    for attempt in range(12):
        _sign_in(api, password=f"guess-{attempt}")
    locked = _sign_in(api)  # the right password, but the operator is locked now
    assert locked.status == 429 and locked.problem_type == "locked"
    assert "retry after" in locked.json()["detail"]
    assert 0 < int(locked.headers["retry-after"]) <= 300
    api.advance(301)
    assert _sign_in(api).status == 201


def test_a_session_ends_when_it_expires_or_the_password_changes(api: ApiWorld) -> None:
    token = _token(api)
    assert api.client.get("/account", key=token).status == 200
    api.advance(3601)
    assert api.client.get("/account", key=token).status == 401
    fresh = _token(api)
    api.advance(1)

    def change(txn: object) -> None:
        operator = get_operator(txn, OPERATOR, CAFE)
        set_operator_password(
            txn,
            operator.id,
            hash_password("another-pass-9", log_n=10),
            actor="test",
            now=NOW.replace(hour=12),
        )

    api.database.run_txn("test_password", change)
    api.json_api.access.forget()
    assert api.client.get("/account", key=fresh).status == 401
    # A new sign-in clears the operator's ended sessions away (the expired first one).
    api.advance(3600)
    assert _sign_in(api, password="another-pass-9").status == 201
    rows = api.database.run_txn(
        "test_rows",
        lambda txn: txn.execute(
            select(api_keys.c.id).where(api_keys.c.label == "app session")
        ).all(),
    )
    assert len(rows) == 1


def test_a_blocked_vendor_is_refused_on_its_session(api: ApiWorld) -> None:
    token = _token(api)
    api.database.run_txn("test_block", set_vendor_blocked, CAFE, True, actor="test", now=NOW)
    api.json_api.access.forget()
    refused = api.client.get("/account", key=token)
    assert refused.status == 403


def test_an_app_session_is_no_api_key(api: ApiWorld) -> None:
    token = _token(api)
    webhook = api.client.request(
        "PUT", "/api/v1/webhook", body={"callback_url": "https://example.com/x"}, key=token
    )
    assert webhook.status == 403
    keys = api.database.run_txn("test_keys", list_api_keys)
    assert all(key.label != "app session" for key in keys) and keys
    # An API key cannot be ended as a session.
    refused = api.client.request("DELETE", "/api/v1/sessions/current", key=api.key)
    assert refused.status == 400
    assert api.client.get("/account", key=api.key).status == 200


def test_a_consumer_session_says_who_it_is(api: ApiWorld) -> None:
    api.sentinel.register("4321")
    registered = api.client.post(
        "/consumers", {"msisdn": "27821234567", "name": "Thandi", "pin": "4321"}, key=api.key
    )
    assert registered.status == 201
    signed = api.client.post("/sessions", {"msisdn": "27821234567", "pin": "4321"})
    assert signed.status == 201 and signed.json()["kind"] == "consumer"
    token = signed.json()["token"]
    api.sentinel.register(token)
    me = api.client.get("/sessions/current", key=token).json()
    assert (me["kind"], me["name"], me["msisdn"], me["client_id"], me["expires_at"]) == (
        "consumer",
        "Thandi",
        "27821234567",
        None,
        "2026-11-22T11:00:00Z",
    )
    # The verification is cached, but not past the session's end.
    api.advance(3601)
    assert api.client.get("/account", key=token).status == 401


def test_an_app_lists_what_it_can_buy_and_confirms_a_meter(api: ApiWorld) -> None:
    token = _token(api)
    before = (api.balance(), api.sale_count())
    products = api.client.get("/products", key=token)
    assert products.status == 200
    items = {item["code"]: item for item in products.json()["items"]}
    assert items["ELEC-DEMO"]["category"] == "electricity"
    assert items["ELEC-DEMO"]["min_amount"] == "5.00"
    assert items[VOUCHER_PRODUCT]["category"] == "airtime"
    assert items[VOUCHER_PRODUCT]["price"] == "10.00"
    assert items["DATA-DEMO-1GB"]["category"] == "data"
    assert "BILL-DEMO" not in items  # not sold by POST /sales
    meter = api.client.get(f"/meters/{NORMAL_METER}", key=token)
    assert meter.status == 200, meter.body
    assert meter.json()["meter"] == NORMAL_METER and meter.json()["customer"]
    unknown = api.client.get("/meters/04100000043", key=token)
    assert (unknown.status, unknown.problem_type) == (422, "unknown-meter")
    blocked = api.client.get("/meters/04100000035", key=token)
    assert blocked.status == 200 and blocked.json()["can_vend"] is False
    assert api.client.get("/products").status == 401
    assert (api.balance(), api.sale_count()) == before  # looking changes nothing


def test_pin_guesses_from_one_address_lock_that_address(api: ApiWorld) -> None:
    api.sentinel.register("4321")
    registered = api.client.post(
        "/consumers", {"msisdn": "27821234567", "name": "Thandi", "pin": "4321"}, key=api.key
    )
    assert registered.status == 201
    # Twenty wrong PINs, each for another number (no one number's lock would stop it) ...
    for n in range(20):
        guess = api.client.post("/sessions", {"msisdn": f"278299{n:05d}", "pin": "1111"})
        assert guess.status in (401, 429)
    # ... lock the address: the right PIN, and an operator's password, are refused from it.
    right = api.client.post("/sessions", {"msisdn": "27821234567", "pin": "4321"})
    assert right.status == 429 and right.problem_type == "locked"
    assert "client address" in right.json()["detail"]
    assert _sign_in(api).status == 429
    api.advance(301)
    assert api.client.post("/sessions", {"msisdn": "27821234567", "pin": "4321"}).status == 201
