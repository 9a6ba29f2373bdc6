"""The JSON API end to end, in process: every answer validated against the OpenAPI
document; every error a problem that changes nothing; replays byte-identical."""

from __future__ import annotations

import json

from api_support import ApiWorld, by_key_path, idem
from openapi_spec_validator import validate
from server_support import NORMAL_METER, PLATFORM, UNKNOWN_METER, VOUCHER_PRODUCT

from vending.api_keys import list_api_keys, revoke_api_key

ELEC = {"product": "ELEC-DEMO", "meter": NORMAL_METER, "amount": "100.00"}
VOUCHER = {"product": VOUCHER_PRODUCT, "amount": "10.00"}


def test_the_openapi_document_is_valid_and_served(api: ApiWorld) -> None:
    response = api.client.get("/openapi.json")
    assert response.status == 200
    document = response.json()
    validate(document)
    assert document["openapi"].startswith("3.1")
    assert "/sales" in document["paths"] and "/account/statement" in document["paths"]


def test_xmlvend_is_still_served_beside_the_api(api: ApiWorld) -> None:
    assert api.xml.get("/healthz").status == 200
    wsdl = api.xml.get("/xmlvend?wsdl")
    assert wsdl.status == 200 and b"definitions" in wsdl.body


def test_requests_without_a_valid_key_are_problems(api: ApiWorld) -> None:
    missing = api.client.get("/account")
    assert missing.status == 401 and missing.problem_type == "unauthenticated"
    assert missing.headers["www-authenticate"].startswith("Bearer")
    wrong = api.client.get("/account", key="evd_live_" + "x" * 43)
    assert wrong.status == 401
    key = api.new_key()
    assert api.client.get("/account", key=key).status == 200
    key_id = max(k.id for k in api.database.run_txn("ids", list_api_keys))
    api.database.run_txn("revoke", revoke_api_key, key_id, actor="test")
    # Still cached by the server: the sale's own transaction finds the change, the key is
    # verified afresh and refused; nothing is sold.
    count = api.sale_count()
    sold = api.sell(VOUCHER, key, idem=idem("revoked"))
    assert sold.status == 401 and sold.problem_type == "unauthenticated", sold.body
    assert key not in sold.body.decode() and api.sale_count() == count
    assert api.client.get("/account", key=key).status == 401
    # The operator's other keys work on (verified afresh once).
    response = api.sell(VOUCHER, idem=idem("after-revoke"))
    assert response.status == 201, response.body
    api.sentinel.register(response.json()["pin"])


def test_a_voucher_sale_and_its_byte_identical_replay(api: ApiWorld) -> None:
    before = api.balance()
    first = api.sell(VOUCHER, idem=idem("v1"))
    assert first.status == 201, first.body
    sale = first.json()
    api.sentinel.register(sale["pin"])
    assert sale["product"] == VOUCHER_PRODUCT and sale["amount"] == "10.00"
    assert sale["serial"] and sale["status"] == "completed"
    assert isinstance(sale["id"], int)
    after = api.balance()
    assert after < before
    again = api.sell(VOUCHER, idem=idem("v1"))
    assert (again.status, again.body) == (first.status, first.body)
    assert api.balance() == after and api.sale_count() == 1
    other = api.sell({**VOUCHER, "amount": "10.0"}, idem=idem("v1"))
    assert other.status == 422 and other.problem_type == "idempotency-key-reused"
    assert api.balance() == after and api.sale_count() == 1
    assert api.ledger_ok()


def test_an_electricity_sale_answers_its_tokens(api: ApiWorld) -> None:
    response = api.sell(ELEC, idem=idem("e1"))
    assert response.status == 201, response.body
    sale = response.json()
    tokens = sale["tokens"]
    assert tokens and all(len(t["token"]) == 20 and t["token"].isdigit() for t in tokens)
    assert tokens[-1]["kind"] == "credit" and float(tokens[-1]["units"]) > 0
    assert sale["receipt"]["meter"] == NORMAL_METER and sale["amount"] == "100.00"
    shown = api.client.get(f"/sales/{sale['id']}", key=api.key)
    assert shown.status == 200 and shown.body == response.body
    by_key = api.client.get(by_key_path(idem("e1")), key=api.key)
    assert by_key.status == 200 and by_key.body == response.body


def test_bad_requests_are_problems_and_change_nothing(api: ApiWorld) -> None:
    balance, count = api.balance(), api.sale_count()
    cases = [
        ({"raw": b"{not json"}, 400, "invalid-request"),
        ({"body": {**VOUCHER, "amount": 10}}, 400, "invalid-request"),
        ({"body": {**VOUCHER, "amount": "10.001"}}, 400, "invalid-request"),
        ({"body": {**VOUCHER, "colour": "red"}}, 400, "invalid-request"),
        ({"body": {"product": "NOPE", "amount": "10.00"}}, 422, "business-rule"),
        ({"body": {**ELEC, "meter": UNKNOWN_METER}}, 422, "unknown-meter"),
        ({"body": {**ELEC, "amount": "90000.00"}}, 422, None),
    ]
    for n, (kwargs, status, kind) in enumerate(cases):
        response = api.client.post("/sales", key=api.key, idempotency_key=idem(f"bad{n}"), **kwargs)
        assert response.status == status, (kwargs, response.body)
        assert response.headers["content-type"] == "application/problem+json"
        if kind is not None:
            assert response.problem_type == kind, response.body
    no_key = api.client.post("/sales", VOUCHER, key=api.key)
    assert no_key.status == 400 and "Idempotency-Key" in no_key.json()["detail"]
    assert api.balance() == balance and api.sale_count() == count
    assert api.client.get("/nowhere", key=api.key).status == 404
    assert api.client.request("DELETE", "/api/v1/sales", key=api.key).status == 405


def test_a_sale_beyond_the_credit_is_402_and_changes_nothing(api: ApiWorld) -> None:
    key = api.new_key("6004708000113", "lowcred")  # the low-credit kiosk: 20.00
    before = api.balance("6004708000113")
    response = api.sell({**ELEC, "amount": "50.00"}, key, idem=idem("poor"))
    assert response.status == 402 and response.problem_type == "insufficient-funds"
    assert response.json()["fault_class"] == "VendorCreditEx"
    assert api.balance("6004708000113") == before


def test_sales_are_listed_newest_first_in_pages(api: ApiWorld) -> None:
    made = [api.sell(VOUCHER, idem=idem(f"p{n}")).json() for n in range(3)]
    for sale in made:
        api.sentinel.register(sale["pin"])
    page = api.client.get("/sales?limit=2", key=api.key)
    assert page.status == 200
    first = page.json()
    assert [s["id"] for s in first["items"]] == [made[2]["id"], made[1]["id"]]
    assert all("pin" not in s for s in first["items"])
    second = api.client.get(f"/sales?limit=2&cursor={first['next_cursor']}", key=api.key).json()
    assert [s["id"] for s in second["items"]] == [made[0]["id"]]
    assert second["next_cursor"] is None
    empty = api.client.get("/sales?from=2030-01-01", key=api.key).json()
    assert empty["items"] == []
    bad = api.client.get("/sales?from=yesterday", key=api.key)
    assert bad.status == 400
    # Another vendor's key does not see them.
    other = api.new_key(PLATFORM, "platform")
    assert api.client.get("/sales", key=other).json()["items"] == []
    hidden = api.client.get(f"/sales/{made[0]['id']}", key=other)
    assert hidden.status == 404


def test_reversal_follows_the_product_policy(api: ApiWorld) -> None:
    before = api.balance()
    voucher = api.sell(VOUCHER, idem=idem("rv")).json()
    api.sentinel.register(voucher["pin"])
    reversed_ = api.client.post(f"/sales/{voucher['id']}/reversal", key=api.key)
    assert reversed_.status == 200, reversed_.body
    assert reversed_.json()["status"] == "reversed"
    assert api.balance() == before  # refunded: the price back, the commission out
    shown = api.client.get(f"/sales/{voucher['id']}", key=api.key).json()
    assert shown["status"] == "reversed" and "pin" not in shown
    replay = api.sell(VOUCHER, idem=idem("rv"))  # the withdrawn answer, never the PIN
    assert replay.status == 201 and "pin" not in replay.json()
    electricity = api.sell(ELEC, idem=idem("re")).json()
    refused = api.client.post(f"/sales/{electricity['id']}/reversal", key=api.key)
    assert refused.status == 422 and refused.problem_type == "reversal-refused"
    assert api.ledger_ok()


def test_account_and_statement(api: ApiWorld) -> None:
    account = api.client.get("/account", key=api.key)
    assert account.status == 200
    document = account.json()
    assert document["currency"] == "ZAR"
    assert document["balance"] == api.balance().format()
    sale = api.sell(VOUCHER, idem=idem("st")).json()
    api.sentinel.register(sale["pin"])
    statement = api.client.get("/account/statement?limit=5", key=api.key).json()
    assert statement["items"][0]["kind"] == "sale"
    assert statement["items"][0]["balance_after"] == api.balance().format()
    assert json.dumps(statement).count("balance_after") <= 5
