"""The JSON API's distribution network and reward points (issue 13 §2-§4): fund requests
asked and decided through the API, sales refused by a node's limits with an RFC 9457
problem, commissions paid to the ancestors in the sale's own transfer, reward points
earned, redeemed into the account and taken back by a reversal. SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from api_support import ApiWorld, idem, wait
from fixed_clock import NOW
from network_support import Level, build_chain, points_rule, set_limits
from server_support import CAFE, PLATFORM, VOUCHER_PRODUCT
from twisted.internet.defer import ensureDeferred

from distribution import commissions, nodes, rewards
from vending.ledger import verify_ledger
from vending.money import Money
from vending.vendors import set_vendor_privileges


def zar(cents: int) -> Money:
    return Money(cents, "ZAR")


def network(api: ApiWorld, *, limits: dict[str, Any] | None = None) -> str:
    """OP → DL (the platform vendor, may approve) → CAFE (the retailer); the dealer's key."""

    def build(txn: Any) -> None:
        build_chain(
            txn,
            Level("DL", "Dealer", PLATFORM),
            Level("CAFE", "Cafe", CAFE),
            currency="ZAR",
            now=NOW,
        )
        set_vendor_privileges(txn, PLATFORM, grant=["network"], actor="t", now=NOW)
        if limits:
            set_limits(txn, "CAFE", now=NOW, **limits)

    api.database.run_txn("network", build)
    return api.new_key(PLATFORM, "platform")


def test_fund_request_asked_listed_approved_and_told(api: ApiWorld) -> None:
    dealer = network(api)
    before = api.balance(CAFE)
    asked = api.client.post(
        "/fund-requests", {"amount": "500.00", "reference": "REF1"}, key=api.key
    )
    assert asked.status == 201, asked.body
    request = asked.json()
    assert (request["state"], request["requester"], request["amount"]) == (
        "pending",
        "CAFE",
        "500.00",
    )
    again = api.client.post(
        "/fund-requests", {"amount": "500.00", "reference": "REF1"}, key=api.key
    )
    assert again.status == 422 and "exists already" in again.json()["detail"]
    # The retailer may not decide (no privilege, and it is its own request).
    own = api.client.post(f"/fund-requests/{request['id']}/approval", key=api.key)
    assert own.status == 403, own.body
    pending = api.client.get("/fund-requests/pending", key=dealer)
    assert [r["id"] for r in pending.json()["items"]] == [request["id"]]
    approved = api.client.post(f"/fund-requests/{request['id']}/approval", key=dealer)
    assert approved.status == 200, approved.body
    assert approved.json()["state"] == "approved" and approved.json()["transfer_id"]
    assert api.balance(CAFE) == before + zar(50000)
    mine = api.client.get("/fund-requests", key=api.key).json()["items"]
    assert [r["state"] for r in mine] == ["approved"]
    one = api.client.get(f"/fund-requests/{request['id']}", key=api.key)
    assert one.status == 200 and one.json() == approved.json()
    assert api.client.get(f"/fund-requests/{request['id']}", key=dealer).status == 200
    twice = api.client.post(f"/fund-requests/{request['id']}/approval", key=dealer)
    assert twice.status == 422
    assert api.balance(CAFE) == before + zar(50000)
    assert api.ledger_ok()


def test_rejection_needs_a_reason_and_moves_nothing(api: ApiWorld) -> None:
    dealer = network(api)
    before = api.balance(CAFE)
    request = api.client.post(
        "/fund-requests", {"amount": "20.00", "reference": "R2"}, key=api.key
    ).json()
    bare = api.client.post(f"/fund-requests/{request['id']}/rejection", {}, key=dealer)
    assert bare.status == 400
    rejected = api.client.post(
        f"/fund-requests/{request['id']}/rejection", {"reason": "pay first"}, key=dealer
    )
    assert rejected.status == 200 and rejected.json()["state"] == "rejected"
    assert rejected.json()["reason"] == "pay first"
    assert api.balance(CAFE) == before


def test_outside_the_subtree_is_not_found(api: ApiWorld) -> None:
    network(api)
    request = api.client.post(
        "/fund-requests", {"amount": "20.00", "reference": "R3"}, key=api.key
    ).json()
    # A vendor outside the network is refused outright.
    stranger = api.new_key("6004708000113", "lowcred")
    answer = api.client.post(f"/fund-requests/{request['id']}/approval", key=stranger)
    assert answer.status == 403, answer.body

    # A dealer of another branch, with the privilege, does not even see it.
    def other_branch(txn: Any) -> None:
        nodes.create_node(
            txn,
            actor_node="OP",
            parent="OP",
            code="DL2",
            name="Other dealer",
            vendor_client_id="6004708000113",
            actor="t",
            now=NOW,
        )
        set_vendor_privileges(txn, "6004708000113", grant=["network"], actor="t", now=NOW)

    api.database.run_txn("branch", other_branch)
    other = api.new_key("6004708000113", "lowcred")
    assert api.client.get("/fund-requests/pending", key=other).json()["items"] == []
    answer = api.client.post(f"/fund-requests/{request['id']}/approval", key=other)
    assert answer.status == 404 and answer.problem_type == "not-found", answer.body
    missing = api.client.post("/fund-requests/999999/approval", key=other)
    assert missing.status == 404, missing.body
    # Nor may it read the request.
    assert api.client.get(f"/fund-requests/{request['id']}", key=other).status == 404


def test_a_node_limit_refuses_the_sale_with_a_problem(api: ApiWorld) -> None:
    network(api, limits={"allowed_products": ["ELEC-DEMO"]})
    before = api.balance(CAFE)
    refused = api.sell({"product": VOUCHER_PRODUCT, "amount": "10.00"}, idem=idem("n1"))
    assert refused.status == 422 and refused.problem_type == "network-limit", refused.body
    assert "may not sell" in refused.json()["detail"]
    assert api.balance(CAFE) == before


def test_daily_sale_limit_and_channel(api: ApiWorld) -> None:
    network(api, limits={"daily_sale_limit": zar(1500)})
    assert api.sell({"product": VOUCHER_PRODUCT, "amount": "10.00"}, idem=idem("d1")).status == 201
    over = api.sell({"product": VOUCHER_PRODUCT, "amount": "10.00"}, idem=idem("d2"))
    assert over.status == 422 and over.problem_type == "network-limit"
    assert "5.00 ZAR more today" in over.json()["detail"]
    # A new UTC day: the limit is the day's.
    api.advance(86400)
    assert api.sell({"product": VOUCHER_PRODUCT, "amount": "10.00"}, idem=idem("d3")).status == 201

    def only_sms(txn: Any) -> None:
        set_limits(txn, "CAFE", allowed_channels=["sms"], now=NOW)

    api.database.run_txn("limits", only_sms)
    by_json = api.sell({"product": VOUCHER_PRODUCT, "amount": "10.00"}, idem=idem("d4"))
    assert by_json.status == 422 and "by json" in by_json.json()["detail"]


def test_commissions_and_points_posted_in_the_sale_and_reversed(api: ApiWorld) -> None:
    network(api)

    def configure(txn: Any) -> None:
        commissions.set_slabs(
            txn, {VOUCHER_PRODUCT: {"1": [{"min": 0, "percent": "2"}]}}, actor="t", now=NOW
        )
        points_rule(txn, VOUCHER_PRODUCT, holder="merchant", per_amount=100, now=NOW)

    api.database.run_txn("configure", configure)
    dealer_before = api.balance(PLATFORM)
    sold = api.sell({"product": VOUCHER_PRODUCT, "amount": "10.00"}, idem=idem("c1"))
    assert sold.status == 201, sold.body
    # DL (level 1) earns 2 % of 10.00; CAFE earns one point per 1.00.
    assert api.balance(PLATFORM) == dealer_before + zar(20)
    points = api.client.get("/points", key=api.key).json()
    assert (points["points"], points["value"]) == (10, "0.10")
    statement = api.client.get("/points/statement", key=api.key).json()["items"]
    assert [(m["kind"], m["points"]) for m in statement] == [("earn", 10)]

    cafe_before = api.balance(CAFE)
    redeemed = api.client.post(
        "/points/redemptions", {"points": 4}, key=api.key, idempotency_key="red-1"
    )
    assert redeemed.status == 201, redeemed.body
    assert api.balance(CAFE) == cafe_before + zar(4)
    replay = api.client.post(
        "/points/redemptions", {"points": 4}, key=api.key, idempotency_key="red-1"
    )
    assert replay.status == 200 and replay.json()["replayed"] is True
    too_many = api.client.post(
        "/points/redemptions", {"points": 7}, key=api.key, idempotency_key="red-2"
    )
    assert too_many.status == 422 and too_many.problem_type == "not-enough-points"

    sale_id = sold.json()["id"]
    reversed_ = api.client.post(
        f"/sales/{sale_id}/reversal", key=api.key, idempotency_key=idem("rev1")
    )
    assert reversed_.status == 200, reversed_.body
    assert api.balance(PLATFORM) == dealer_before
    assert api.client.get("/points", key=api.key).json()["points"] == 0
    kinds = [m["kind"] for m in api.client.get("/points/statement", key=api.key).json()["items"]]
    assert kinds == ["clawback", "reverse", "redeem", "earn"]
    report = api.database.run_txn("verify", verify_ledger)
    assert report.ok, report.problems()
    liability = api.database.run_txn("liability", lambda txn: rewards.outstanding_value(txn, "ZAR"))
    assert liability == 0


def test_points_for_a_vendor_outside_the_network(api: ApiWorld) -> None:
    api.database.run_txn(
        "rule",
        points_rule,
        VOUCHER_PRODUCT,
        holder="merchant",
        per_amount=500,
        point_value=2,
        valid_days=1,
        now=NOW,
    )
    assert api.sell({"product": VOUCHER_PRODUCT, "amount": "10.00"}, idem=idem("p1")).status == 201
    assert api.client.get("/points", key=api.key).json()["points"] == 2
    api.advance(2 * 86400)
    assert api.client.get("/points", key=api.key).json()["points"] == 0
    # The services' periodic sweep (Services.start schedules it on the reactor, which the
    # test's clock moved two days on) expired them already: a sweep now finds nothing.
    sweep = api.xml.server.services.network_sweep
    assert wait(ensureDeferred(sweep())) == (0, 0)
    kinds = [m["kind"] for m in api.client.get("/points/statement", key=api.key).json()["items"]]
    assert kinds == ["expire", "earn"]
    assert api.ledger_ok()


@pytest.mark.parametrize("path", ["/fund-requests", "/fund-requests/pending"])
def test_outside_the_network_is_forbidden(api: ApiWorld, path: str) -> None:
    assert api.client.get(path, key=api.key).status == 403


def test_a_consumer_earns_its_own_points_and_redeems_into_its_wallet(api: ApiWorld) -> None:
    api.database.run_txn(
        "rule",
        points_rule,
        VOUCHER_PRODUCT,
        holder="consumer",
        per_amount=100,
        point_value=5,
        now=NOW,
    )
    msisdn, pin = "27821234567", "4321"
    api.sentinel.register(pin)
    body = {"msisdn": msisdn, "name": "Thandi", "pin": pin}
    assert api.client.post("/consumers", body, key=api.key).status == 201
    top_up = api.client.post(
        f"/consumers/{msisdn}/topups", {"amount": "100.00"}, key=api.key, idempotency_key="t1"
    )
    assert top_up.status == 201, top_up.body
    token = api.client.post("/sessions", {"msisdn": msisdn, "pin": pin}).json()["token"]
    api.sentinel.register(token)
    sold = api.sell({"product": VOUCHER_PRODUCT, "amount": "10.00"}, token, idem=idem("w1"))
    assert sold.status == 201, sold.body
    assert api.client.get("/points", key=token).json()["points"] == 10
    # The merchant that registered the consumer earned nothing (no merchant rule).
    assert api.client.get("/points", key=api.key).json()["points"] == 0
    wallet = api.client.get("/account", key=token).json()["balance"]
    redeemed = api.client.post(
        "/points/redemptions", {"points": 10}, key=token, idempotency_key="w-red"
    )
    assert redeemed.status == 201 and redeemed.json()["value"] == "0.50", redeemed.body
    after = api.client.get("/account", key=token).json()["balance"]
    assert Money.parse(after, "ZAR") == Money.parse(wallet, "ZAR") + zar(50)
    assert api.ledger_ok()


def test_a_decision_through_the_api_is_pushed_to_the_requester_at_once(api: ApiWorld) -> None:
    """The retailer's key has a callback URL: the dealer's approval queues
    ``fund_request.approved`` in its transaction and kicks the deliverer (no poll wait)."""
    dealer = network(api)
    hooked = api.client.request(
        "PUT", "/api/v1/webhook", body={"callback_url": "https://cafe.example/evd"}, key=api.key
    )
    assert hooked.status == 200, hooked.body
    api.sentinel.register(hooked.json()["secret"])
    api.receiver.secret = hooked.json()["secret"].encode()
    asked = api.client.post(
        "/fund-requests", {"amount": "500.00", "reference": "HOOK1"}, key=api.key
    ).json()
    api.advance(0)
    assert api.receiver.received == []  # asking pushes nothing to the requester
    approved = api.client.post(f"/fund-requests/{asked['id']}/approval", key=dealer)
    assert approved.status == 200, approved.body
    api.advance(0)  # the kicked round runs; no poll interval passes
    [(_url, _body, headers)] = api.receiver.received
    pushed = api.receiver.verified()
    assert headers["EVD-Event"] == "fund_request.approved"
    assert pushed["id"] == f"fund_request.approved:{asked['id']}"
    assert pushed["data"]["transfer_id"] == approved.json()["transfer_id"]
    assert pushed["data"]["amount"] == "500.00" and pushed["data"]["requester"] == "CAFE"
    log = api.client.get("/webhook/deliveries", key=api.key).json()["items"]
    assert [(d["event"], d["state"]) for d in log] == [("fund_request.approved", "delivered")]
