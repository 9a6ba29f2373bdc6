"""The provider products over the JSON API (issue 14 §7): recharge (operators, number
lookup, plans, sale), the order status URL, bill fetch/pay/complaint, money transfer,
insurance, travel; Idempotency-Key replay and reuse; RFC 9457 problems; a pending order's
final result pushed to the key's webhook and shown at its status URL. Every answer is
validated against the served OpenAPI document (api_support). The providers are the
interface's scripted test implementations (the simulators over sockets are
tests/catalogue/test_catalogue_providers.py, marker providers)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from api_support import ApiWorld, by_key_path, idem
from twisted.internet.defer import succeed

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "catalogue"))

from catalogue_support import ScriptedProvider, attach_provider_sales, seed_shop

from catalogue.interface import InsuranceQuote, Outcome, ProviderResult, Trip, TripHold
from vending.money import Money
from vending.vendors import adjust_vendor_balance

SHOP = "6004708000777"
RIVAL = "6004708000778"


def inr(paise: int) -> Money:
    return Money(paise, "INR")


class Partner(ScriptedProvider):
    """The scripted provider, also an insurer and a bus partner."""

    complaints_down = False

    def complain(self, order_id: str, provider_ref: Any, kind: str, description: str) -> Any:
        from twisted.internet.defer import fail

        from catalogue.interface import ProviderUnavailable

        if self.complaints_down:
            return fail(ProviderUnavailable("network down"))
        self.complained = getattr(self, "complained", 0) + 1
        return super().complain(order_id, provider_ref, kind, description)

    def quote(self, plan: str, sum_insured: Money, age: int, term: int) -> Any:
        return succeed(InsuranceQuote("Q1", plan, inr(52_000), sum_insured, 30))

    def search(self, origin: str, destination: str, day: Any) -> Any:
        from datetime import UTC, datetime, time

        at = datetime.combine(day, time(6), tzinfo=UTC)
        return succeed([Trip("BUS1", "Demo Travels", "Sleeper", at, at, inr(65_000), ("1", "2"))])

    def hold(self, ref: str, trip_id: str, seats: list, passengers: list) -> Any:
        return succeed(TripHold("H1", inr(65_000 * len(seats)), 600))

    def book(self, ref: str, hold_id: str) -> Any:
        return succeed(ProviderResult(Outcome.SUCCESS, "T1", "PNR1", details={"ticket_no": "TK1"}))

    def cancel(self, pnr: str, at: Any) -> Any:
        from catalogue.adapters.travel_json import Cancelled

        return succeed(Cancelled(inr(58_500), inr(6_500), "10 % charge"))

    def release(self, hold_id: str) -> Any:
        return succeed(None)


@pytest.fixture
def shop(api: ApiWorld) -> tuple[ApiWorld, Partner, str]:
    world = api.xml
    now = world.clock()

    mappings = (("RCH-AIRTEL", "AT"), ("BBPS-ELECTRICITY", "*"), ("DMT-IMPS", "I"),
                ("INS-TERM", "TERM"), ("TRAVEL-BUS", "BUS"))  # fmt: skip
    world.database.run_txn("seed_catalogue_api", seed_shop, world.keyring, SHOP, mappings, now)
    world.database.run_txn(
        "shop_float", adjust_vendor_balance, SHOP, inr(900_000), reason="float", actor="t",
        now=now,
    )  # fmt: skip
    provider = Partner("alpha")
    attach_provider_sales(world.server.services, world.database, world.keyring, world.clock,
                          world.reactor, {"alpha": provider})  # fmt: skip
    return api, provider, api.new_key(SHOP, "till")


def test_recharge_lookup_plans_sale_replay_and_status(shop: Any) -> None:
    api, _provider, key = shop
    client = api.client
    operators = client.get("/recharge/operators", key=key).json()["items"]
    assert {
        "code": "AT",
        "name": "Airtel",
        "service": "mobile",
        "product": "RCH-AIRTEL",
    } in operators
    info = client.get("/recharge/numbers/9810012340", key=key).json()
    assert info["operator"] == "AT" and info["circle"] == "DL" and not info["ported"]
    plans = client.get("/recharge/plans?operator=AT&circle=DL", key=key).json()["items"]
    assert plans[0]["code"] == "P199" and plans[0]["amount"] == "199.00"
    body = {"number": "9810012340", "amount": "199.00"}
    sold = client.post("/recharges", body, key=key, idempotency_key=idem("r1"))
    assert sold.status == 201, sold.body
    order = sold.json()
    assert order["status"] == "success" and order["operator_ref"].startswith("OPALPHA")
    again = client.post("/recharges", body, key=key, idempotency_key=idem("r1"))
    assert (again.status, again.body) == (sold.status, sold.body)
    reused = client.post("/recharges", {**body, "amount": "10.00"}, key=key,
                         idempotency_key=idem("r1"))  # fmt: skip
    assert reused.status == 422 and reused.problem_type == "idempotency-key-reused"
    status = client.get(f"/orders/{order['order_id']}", key=key).json()
    assert status["status"] == "success" and status["order_id"] == order["order_id"]
    # The recharge is a sale too: GET /sales/{id} answers it as a Sale (the OpenAPI schema
    # is checked on every answer), the same view the list gives, not the order document.
    listed = client.get("/sales", key=key).json()["items"]
    (summary,) = [item for item in listed if item["receipt_number"] == order["receipt_number"]]
    one = client.get(f"/sales/{summary['id']}", key=key)
    assert one.status == 200 and one.json() == summary
    assert client.get("/orders/EV000000000000009999", key=key).problem_type == "not-found"
    refused = client.post("/recharges", {"number": "9810012341", "amount": "199.00"}, key=key,
                          idempotency_key=idem("r2"))  # fmt: skip
    assert refused.status == 422 and refused.json()["refunded"] is True
    bad = client.post("/recharges", {"number": "12", "amount": "199.00"}, key=key,
                      idempotency_key=idem("r3"))  # fmt: skip
    assert bad.status == 422 and bad.problem_type == "business-rule"
    assert api.ledger_ok()


def test_pending_recharge_is_202_then_pushed_to_the_webhook(shop: Any) -> None:
    api, provider, key = shop
    client = api.client
    hook = client.request("PUT", "/api/v1/webhook", body={"callback_url": "https://m.example/h"},
                          key=key)  # fmt: skip
    assert hook.status == 200
    pending = client.post("/recharges", {"number": "9810012342", "amount": "199.00"}, key=key,
                          idempotency_key=idem("p1"))  # fmt: skip
    assert pending.status == 202 and pending.json()["status"] == "pending"
    order_id = pending.json()["order_id"]
    provider.statuses[order_id] = ProviderResult(Outcome.SUCCESS, "X", "OPR9")
    api.advance(1.0)  # the status poll finds it final: closed, pushed
    assert client.get(f"/orders/{order_id}", key=key).json()["status"] == "success"
    # The key's own answer (the 202's order document) by the key, checked as an Order.
    keyed = client.get(by_key_path(idem("p1")), key=key)
    assert keyed.status == 200 and keyed.json()["order_id"] == order_id
    api.advance(5.0)  # the webhook deliverer's poll
    events = [b for _url, b, _h in api.receiver.received if order_id.encode() in b]
    assert events and b'"event":"order.completed"' in events[0]
    again = client.post("/recharges", {"number": "9810012342", "amount": "199.00"}, key=key,
                        idempotency_key=idem("p1"))  # fmt: skip
    assert again.status == 201 and again.json()["operator_ref"] == "OPR9"


def test_a_complaint_is_registered_once_per_idempotency_key(shop: Any) -> None:
    from sqlalchemy import func, select

    from catalogue.tables import bill_complaints

    api, provider, key = shop
    client = api.client
    fetch = {"biller_id": "BESCOM000KAR01", "mobile": "9810012340",
             "params": {"Customer ID": "1234567890"}}  # fmt: skip
    ref_id = client.post("/bills/fetch", fetch, key=key).json()["ref_id"]
    paid = client.post("/bills/payments", {"biller_id": "BESCOM000KAR01", "amount": "1540.00",
                                           "mobile": "9810012340", "ref_id": ref_id},
                       key=key, idempotency_key=idem("cb1"))  # fmt: skip
    assert paid.status == 201, paid.body
    body = {"order_id": paid.json()["order_id"], "type": "TRANSACTION", "description": "late"}

    def complaints() -> int:
        return api.xml.database.run_txn(
            "count", lambda txn: txn.execute(select(func.count()).select_from(bill_complaints))
            .scalar_one())  # fmt: skip

    missing = client.post("/bills/complaints", body, key=key)
    assert missing.status == 400 and missing.problem_type is not None
    provider.complaints_down = True  # the network did not take it: nothing kept
    down = client.post("/bills/complaints", body, key=key, idempotency_key=idem("k1"))
    assert down.status >= 500 or down.problem_type is not None
    assert complaints() == 0 and getattr(provider, "complained", 0) == 0
    provider.complaints_down = False
    first = client.post("/bills/complaints", body, key=key, idempotency_key=idem("k1"))
    assert first.status == 201 and first.json()["status"] == "ASSIGNED", first.body
    again = client.post("/bills/complaints", body, key=key, idempotency_key=idem("k1"))
    assert (again.status, again.body) == (first.status, first.body)
    assert provider.complained == 1 and complaints() == 1
    other = client.post("/bills/complaints", {**body, "description": "wrong amount"}, key=key,
                        idempotency_key=idem("k1"))  # fmt: skip
    assert other.status == 422 and other.problem_type == "idempotency-key-reused"
    assert other.headers.get("content-type") == "application/problem+json"
    assert provider.complained == 1 and complaints() == 1


def test_bills_transfers_insurance_travel(shop: Any) -> None:
    api, _provider, key = shop
    client = api.client
    billers = client.get("/billers?category=Electricity", key=key).json()["items"]
    assert any(b["biller_id"] == "BESCOM000KAR01" for b in billers)
    fetch = {"biller_id": "BESCOM000KAR01", "mobile": "9810012340",
             "params": {"Customer ID": "1234567890"}}  # fmt: skip
    bill = client.post("/bills/fetch", fetch, key=key)
    assert bill.status == 200 and bill.json()["amount"] == "1540.00"
    paid = client.post("/bills/payments", {"biller_id": "BESCOM000KAR01", "amount": "1540.00",
                                           "mobile": "9810012340", "ref_id": bill.json()["ref_id"]},
                       key=key, idempotency_key=idem("b1"))  # fmt: skip
    assert paid.status == 201 and paid.json()["service"] == "bill"
    # Answers show the customer's account masked to its last four (the order keeps it).
    assert paid.json()["target"] == "BESCOM000KAR01:****7890" and b"1234567890" not in paid.body
    complaint = client.post("/bills/complaints", {"order_id": paid.json()["order_id"],
                                                  "type": "TRANSACTION", "description": "late"},
                            key=key, idempotency_key=idem("cmp1"))  # fmt: skip
    assert complaint.status == 201 and complaint.json()["status"] == "ASSIGNED"
    cid = complaint.json()["complaint_id"]
    assert client.get(f"/bills/complaints/{cid}", key=key).json()["status"] == "RESOLVED"
    assert client.post("/remitters", {"mobile": "9876500001", "name": "Sunita Devi"},
                       key=key).status == 201  # fmt: skip
    beneficiary = client.post("/remitters/9876500001/beneficiaries",
                              {"name": "Rajesh Gupta", "account": "123456789010",
                               "ifsc": "SBIN0001234"}, key=key).json()  # fmt: skip
    assert beneficiary["verified_name"] == "RAJESH KUMAR GUPTA"
    assert beneficiary["account_last4"] == "9010" and "account" not in beneficiary
    sent = client.post("/transfers", {"sender": "9876500001", "amount": "2000.00",
                                      "beneficiary_id": beneficiary["id"]},
                       key=key, idempotency_key=idem("t1"))  # fmt: skip
    assert sent.status == 201 and sent.json()["service"] == "dmt"
    assert sent.json()["target"] == "SBIN0001234/****9010"
    status = client.get(sent.json()["location"].removeprefix("/api/v1"), key=key)
    assert status.json()["target"] == "SBIN0001234/****9010"
    for answer in (sent, status):
        assert b"123456789010" not in answer.body and b"9876500001" not in answer.body
    # The merchant's sale views mask it the same way.
    listed = client.get("/sales", key=key)
    (item,) = [i for i in listed.json()["items"] if i["kind"] == "money_transfer"]
    assert item["target"] == "SBIN0001234/****9010"
    assert b"123456789010" not in listed.body and b"9876500001" not in listed.body
    assert client.get("/remitters/9876500001", key=key).json()["used_this_month"] == "2000.00"
    asked = {"plan": "INS-TERM", "sum_insured": "500000.00", "dob": "1990-05-01",
             "term_years": 10}  # fmt: skip
    quote = client.post("/insurance/quotes", asked, key=key)
    assert quote.status == 201 and quote.json()["premium"] == "520.00"
    policy = client.post("/insurance/policies", {"plan": "INS-TERM", "quote_id": "Q1",
                                                 "premium": "520.00", "holder": "Sunita Devi",
                                                 "dob": "1990-05-01", "mobile": "9876500010"},
                         key=key, idempotency_key=idem("i1"))  # fmt: skip
    assert policy.status == 201 and policy.json()["service"] == "insurance"
    assert policy.json()["target"] == "****0010" and b"9876500010" not in policy.body
    trips = client.get("/travel/trips?from=Pune&to=Goa&date=2026-12-20", key=key).json()["items"]
    assert trips[0]["trip_id"] == "BUS1"
    hold = {"trip_id": "BUS1", "from": "Pune", "to": "Goa", "date": "2026-12-20",
            "seats": ["1"], "passengers": [{"name": "Asha Rao", "age": 30}],
            "contact": "9876500010"}  # fmt: skip
    held = client.post("/travel/bookings", hold, key=key, idempotency_key=idem("h1"))
    assert held.status == 200 and held.json()["status"] == "held", held.body
    ref = held.json()["booking_ref"]
    assert (
        client.post("/travel/bookings", hold, key=key, idempotency_key=idem("h1")).body == held.body
    )
    booked = client.post(f"/travel/bookings/{ref}/ticket", key=key, idempotency_key=idem("k1"))
    assert booked.json()["status"] == "booked" and booked.json()["pnr"] == "PNR1"
    cancelled = client.post(f"/travel/bookings/{ref}/cancellation", key=key,
                            idempotency_key=idem("c1"))  # fmt: skip
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["refund"] == "585.00"
    assert client.get(f"/travel/bookings/{ref}", key=key).json()["status"] == "cancelled"
    # The merchant's statement names each sale's target as its answers show it.
    statement = client.get("/account/statement?limit=100", key=key)
    described = [line["description"] for line in statement.json()["items"]]
    assert any("SBIN0001234/****9010" in text for text in described), described
    assert any("BESCOM000KAR01:****7890" in text for text in described), described
    for full in (b"1234567890", b"123456789010", b"9876500001", b"9876500010"):
        assert full not in statement.body, (full, described)
    assert api.ledger_ok()


def test_aeps_login_and_withdrawal_never_keep_the_pid(shop: Any) -> None:
    import base64

    from test_catalogue_aeps import PID, Bank, aadhaar

    from vending.services.aeps import AepsService
    from xmlvend.transport.asyncdb import ImmediateDatabase

    api, _provider, key = shop
    world = api.xml
    world.server.services.aeps = AepsService(
        ImmediateDatabase(world.database), world.keyring, world.clock, Bank()
    )
    api.sentinel.register(PID.decode(), aadhaar())
    client = api.client
    pid = base64.b64encode(PID).decode()
    body = {"kind": "CW", "aadhaar": aadhaar(), "iin": "607094", "amount": "2500.00", "pid": pid}
    early = client.post("/aeps/transactions", body, key=key, idempotency_key=idem("a0"))
    assert early.status == 422  # no biometric login today yet
    assert client.post("/aeps/login", {"pid": pid}, key=key).json() == {"logged_in": True}
    done = client.post("/aeps/transactions", body, key=key, idempotency_key=idem("a1"))
    assert done.status == 200 and done.json()["status"] == "success", done.body
    assert done.json()["commission"] == "6.00" and done.json()["aadhaar"].endswith(aadhaar()[-4:])
    again = client.post("/aeps/transactions", body, key=key, idempotency_key=idem("a1"))
    assert again.body == done.body
    declined = client.post("/aeps/transactions", {**body, "amount": "5100.00"}, key=key,
                           idempotency_key=idem("a2"))  # fmt: skip
    assert declined.json()["status"] == "declined" and declined.json()["response_code"] == "51"
    bad = client.post("/aeps/transactions", {**body, "pid": "%%%"}, key=key,
                      idempotency_key=idem("a3"))  # fmt: skip
    assert bad.status == 400 and bad.problem_type == "invalid-request"
    api.sentinel.assert_absent(done.body, "aeps answer")
    assert api.ledger_ok()


def test_a_senders_beneficiaries_are_listed_masked_for_its_merchant_only(shop: Any) -> None:
    api, _provider, key = shop
    client = api.client
    assert client.post("/remitters", {"mobile": "9876500002", "name": "Sunita Devi"},
                       key=key).status == 201  # fmt: skip
    empty = client.get("/remitters/9876500002/beneficiaries", key=key)
    assert empty.status == 200 and empty.json()["items"] == []
    assert empty.json()["remaining"] == "25000.00" and empty.json()["currency"] == "INR"
    added = client.post("/remitters/9876500002/beneficiaries",
                        {"name": "Rajesh Gupta", "account": "123456789010",
                         "ifsc": "SBIN0001234"}, key=key).json()  # fmt: skip
    sent = client.post("/transfers", {"sender": "9876500002", "amount": "2000.00",
                                      "beneficiary_id": added["id"]},
                       key=key, idempotency_key=idem("lb1"))  # fmt: skip
    assert sent.status == 201
    listed = client.get("/remitters/9876500002/beneficiaries", key=key)
    assert listed.status == 200, listed.body
    document = listed.json()
    # The month's limit less the amount sent (the fee is not counted against it).
    assert document["remaining"] == "23000.00"
    assert document["items"] == [{"id": added["id"], "account_last4": "9010",
                                  "ifsc": "SBIN0001234", "verified_name": "RAJESH KUMAR GUPTA",
                                  "name": "Rajesh Gupta"}]  # fmt: skip
    assert b"123456789010" not in listed.body
    # Another merchant may not see (or learn of) this merchant's sender.
    other = client.get("/remitters/9876500002/beneficiaries", key=api.new_key())
    assert other.status == 404 and other.problem_type == "not-found"
    assert b"Rajesh" not in other.body
    unknown = client.get("/remitters/9876500009/beneficiaries", key=key)
    assert unknown.status == 404 and unknown.problem_type == "not-found"
    # Bad input: a number that is no mobile number, no key.
    bad = client.get("/remitters/0123456789/beneficiaries", key=key)
    assert bad.status == 422 and bad.problem_type == "business-rule"
    assert "10 digits" in bad.json()["detail"]
    assert bad.headers.get("content-type") == "application/problem+json"
    assert client.get("/remitters/9876500002/beneficiaries").status == 401
    # A consumer's app session: money transfer is sent by a merchant.
    api.sentinel.register("4321")
    assert client.post("/consumers", {"msisdn": "27821234568", "name": "Thandi", "pin": "4321"},
                       key=api.key).status == 201  # fmt: skip
    session = client.post("/sessions", {"msisdn": "27821234568", "pin": "4321"}).json()["token"]
    api.sentinel.register(session)
    consumer = client.get("/remitters/9876500002/beneficiaries", key=session)
    assert consumer.status == 403 and consumer.problem_type == "forbidden"
    # The endpoints are in the served OpenAPI document (every answer above was checked
    # against it).
    paths = client.get("/openapi.json").json()["paths"]
    assert "get" in paths["/remitters/{mobile}/beneficiaries"] and "/transfers/fee" in paths


def _rival_shop_key(api: ApiWorld) -> str:
    """An API key of a second INR merchant (another shop in the same network)."""
    from vending.vendors import create_operator, create_vendor

    def seed(txn: Any) -> None:
        now = api.xml.clock()
        create_vendor(txn, client_id=RIVAL, name="Gupta Telecom", currency="INR", now=now)
        adjust_vendor_balance(txn, RIVAL, inr(900_000), reason="float", actor="t", now=now)
        create_operator(txn, name="till", password_hash="-", vendor_client_id=RIVAL, now=now)

    api.xml.database.run_txn("rival_shop", seed)
    return api.new_key(RIVAL, "till")


def test_another_merchants_sender_is_unknown_to_transfers_and_beneficiaries(shop: Any) -> None:
    """Only the merchant that registered a sender adds its beneficiaries, sends for it or
    sees it: to any other merchant it is answered exactly as a number never registered
    (the same problem document), and nothing moves: no penny drop, no sale, no order."""
    api, provider, key = shop
    client = api.client
    assert client.post("/remitters", {"mobile": "9876500003", "name": "Sunita Devi"},
                       key=key).status == 201  # fmt: skip
    added = client.post("/remitters/9876500003/beneficiaries",
                        {"name": "Rajesh Gupta", "account": "123456789010",
                         "ifsc": "SBIN0001234"}, key=key).json()  # fmt: skip
    rival = _rival_shop_key(api)
    sales_before, executed_before = api.sale_count(), len(provider.executed)
    rival_balance = api.balance(RIVAL)
    verified: list[str] = []
    penny_drop = provider.verify_account
    provider.verify_account = lambda account, ifsc: (  # type: ignore[method-assign]
        verified.append(account) or penny_drop(account, ifsc)
    )

    def as_unknown(path: str, mobile: str, body: dict[str, Any], **extra: Any) -> Any:
        answer = client.post(path.format(mobile=mobile), body, key=rival, **extra)
        assert answer.status == 404 and answer.problem_type == "not-found", answer.body
        assert answer.headers.get("content-type") == "application/problem+json"
        document = answer.json()
        return {k: str(v).replace(mobile, "<mobile>") for k, v in document.items()
                if k not in ("instance", "incident")}  # fmt: skip

    beneficiary = {"name": "Mallory", "account": "555566667777", "ifsc": "SBIN0001234"}
    path = "/remitters/{mobile}/beneficiaries"
    assert as_unknown(path, "9876500003", beneficiary) == as_unknown(
        path, "9876500004", beneficiary
    )
    sending = {"amount": "2000.00", "beneficiary_id": added["id"]}
    stolen = as_unknown("/transfers", "9876500003", {"sender": "9876500003", **sending},
                        idempotency_key=idem("rv1"))  # fmt: skip
    unknown = as_unknown("/transfers", "9876500004", {"sender": "9876500004", **sending},
                         idempotency_key=idem("rv2"))  # fmt: skip
    assert stolen == unknown
    viewed = client.get("/remitters/9876500003", key=rival)
    assert viewed.status == 404 and b"Sunita" not in viewed.body
    # Nothing was sold, held or sent to a bank; the sender's own merchant still lists only
    # its own beneficiary.
    assert api.sale_count() == sales_before and len(provider.executed) == executed_before
    assert verified == []
    assert api.balance(RIVAL) == rival_balance
    listed = client.get("/remitters/9876500003/beneficiaries", key=key).json()["items"]
    assert [item["id"] for item in listed] == [added["id"]]
    # The registering merchant still sends.
    sent = client.post("/transfers", {"sender": "9876500003", **sending}, key=key,
                       idempotency_key=idem("rv3"))  # fmt: skip
    assert sent.status == 201, sent.body


def test_the_transfer_fee_is_quoted_before_the_transfer(shop: Any) -> None:
    api, _provider, key = shop
    client = api.client
    small = client.get("/transfers/fee?amount=500.00", key=key).json()
    assert small == {"amount": "500.00", "fee": "10.00", "total": "510.00", "currency": "INR"}
    large = client.get("/transfers/fee?amount=2000.00", key=key).json()
    assert (large["fee"], large["total"]) == ("20.00", "2020.00")
    for bad in ("", "-5.00", "1.234", "abc"):
        refused = client.get(f"/transfers/fee?amount={bad}", key=key)
        assert refused.status == 400 and refused.problem_type == "invalid-request", bad
