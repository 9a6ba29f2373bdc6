"""Consumers on the JSON API: registration by a vendor, cash-in (balanced, with the
merchant's commission), sign-in with throttling, purchases from the wallet, KYC limits."""

from __future__ import annotations

from api_support import ApiWorld, idem
from server_support import CAFE, NORMAL_METER, VOUCHER_PRODUCT

from vending import consumers
from vending.money import Money

MSISDN = "27821234567"
PIN = "4321"
VOUCHER = {"product": VOUCHER_PRODUCT, "amount": "10.00"}


def _register(api: ApiWorld, msisdn: str = MSISDN) -> None:
    api.sentinel.register(PIN)
    response = api.client.post(
        "/consumers", {"msisdn": msisdn, "name": "Thandi", "pin": PIN}, key=api.key
    )
    assert response.status == 201, response.body
    assert response.json()["balance"] == "0.00"
    assert response.headers["location"] == f"/api/v1/consumers/{msisdn}"


def _top_up(api: ApiWorld, amount: str, key: str = "") -> object:
    return api.client.post(
        f"/consumers/{MSISDN}/topups",
        {"amount": amount},
        key=api.key,
        idempotency_key=idem("topup" + amount + key),
    )


def _sign_in(api: ApiWorld, pin: str = PIN) -> object:
    return api.client.post("/sessions", {"msisdn": MSISDN, "pin": pin})


def _session(api: ApiWorld) -> str:
    response = _sign_in(api)
    assert response.status == 201, response.body
    token = response.json()["token"]
    api.sentinel.register(token)
    return token


def test_a_merchant_cash_in_is_one_balanced_transfer_with_commission(api: ApiWorld) -> None:
    _register(api)
    before = api.balance()
    response = _top_up(api, "200.00")
    assert response.status == 201, response.body
    document = response.json()
    assert document["wallet_balance"] == "200.00" and document["commission"] == "1.00"
    assert before - api.balance() == Money.parse("199.00", "ZAR")
    again = _top_up(api, "200.00")
    assert (again.status, again.body) == (response.status, response.body)
    assert api.client.get(f"/consumers/{MSISDN}", key=api.key).json() == {
        "msisdn": MSISDN,
        "name": "Thandi",
        "kyc_level": 0,
        "status": "active",
    }
    assert api.ledger_ok()


def test_top_up_errors_change_nothing(api: ApiWorld) -> None:
    _register(api)
    before = api.balance()
    over = _top_up(api, "1000.01")  # KYC level 0 holds at most 1000.00
    assert over.status == 422 and over.problem_type == "wallet-limit"
    unknown = api.client.post(
        "/consumers/27829999999/topups",
        {"amount": "5.00"},
        key=api.key,
        idempotency_key=idem("unknown"),
    )
    assert unknown.status == 404
    assert api.balance() == before


def test_a_consumer_signs_in_and_buys_from_the_wallet(api: ApiWorld) -> None:
    _register(api)
    _top_up(api, "100.00")
    token = _session(api)
    vendor_before = api.balance()
    sale = api.sell(VOUCHER, token, idem=idem("c1"))
    assert sale.status == 201, sale.body
    document = sale.json()
    api.sentinel.register(document["pin"])
    assert document["account"]["available"] == "90.00"
    assert api.balance() == vendor_before  # the merchant's float is not touched
    account = api.client.get("/account", key=token).json()
    assert account == {"balance": "90.00", "available": "90.00", "currency": "ZAR"}
    statement = api.client.get("/account/statement", key=token).json()
    assert [line["amount"] for line in statement["items"]] == ["-10.00", "100.00"]
    mine = api.client.get("/sales", key=token).json()["items"]
    assert [s["id"] for s in mine] == [document["id"]]
    # The same Idempotency-Key under the vendor's key is another request (its own scope).
    vendor_sale = api.sell(VOUCHER, idem=idem("c1"))
    assert vendor_sale.status == 201 and vendor_sale.json()["id"] != document["id"]
    api.sentinel.register(vendor_sale.json()["pin"])
    assert api.ledger_ok()
    signed_out = api.client.request("DELETE", "/api/v1/sessions/current", key=token)
    assert signed_out.status == 204
    api.json_api.access.forget()
    assert api.client.get("/account", key=token).status == 401


def test_the_wallet_floor_and_the_daily_limit(api: ApiWorld) -> None:
    _register(api)
    _top_up(api, "5.00")
    token = _session(api)
    poor = api.sell(VOUCHER, token, idem=idem("poor"))
    assert poor.status == 402 and poor.problem_type == "insufficient-funds"
    api.database.run_txn("kyc", consumers.set_consumer, MSISDN, actor="test", kyc_level=0)
    _top_up(api, "995.00")
    electricity = {"product": "ELEC-DEMO", "meter": NORMAL_METER, "amount": "100.00"}
    for n in range(5):  # 500.00 a day at level 0
        assert api.sell(electricity, token, idem=idem(f"d{n}")).status == 201
    response = api.sell(electricity, token, idem=idem("d5"))
    assert response.status == 422 and response.problem_type == "wallet-limit", response.body
    assert api.client.get("/account", key=token).json()["balance"] == "500.00"
    assert api.ledger_ok()


def test_wrong_pins_are_throttled_and_never_echoed(api: ApiWorld) -> None:
    _register(api)
    for _ in range(consumers.MAX_FAILED_LOGINS - 1):
        wrong = _sign_in(api, "0000")
        assert wrong.status == 401 and "0000" not in wrong.body.decode()
    assert _sign_in(api, "0000").status == 429  # the failure that earns the lock
    locked = _sign_in(api)
    assert locked.status == 429 and locked.problem_type == "locked"
    api.advance(consumers.LOCK_SECONDS + 1)
    assert _sign_in(api).status == 201


def test_a_blocked_consumer_cannot_buy(api: ApiWorld) -> None:
    _register(api)
    _top_up(api, "50.00")
    token = _session(api)
    api.database.run_txn("block", consumers.set_consumer, MSISDN, actor="test", status="blocked")
    api.json_api.access.forget()
    response = api.sell(VOUCHER, token, idem=idem("blocked"))
    assert response.status == 401  # the session ended with the status change
    assert api.client.get(f"/consumers/{MSISDN}", key=api.key).json()["status"] == "blocked"


def test_only_vendor_keys_register_and_top_up(api: ApiWorld) -> None:
    _register(api)
    _top_up(api, "50.00")
    token = _session(api)
    response = api.client.post(
        "/consumers", {"msisdn": "27820000099", "name": "X", "pin": "1111"}, key=token
    )
    assert response.status == 403 and response.problem_type == "forbidden"
    assert CAFE not in response.body.decode()
