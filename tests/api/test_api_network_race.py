"""PostgreSQL: one merchant's sales racing each other cannot together pass its node's daily
sale limit, and every one that passes pays its ancestors' commissions in its own transfer.
The limit is one conditional UPDATE of the node's row after the sale's debit (the
merchant's account row locked first, as every sale path and the sale batch lock it), in
the sale's own transaction (``distribution.selling``)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from api_support import ApiWorld, build_api_world, sale_context, wait
from fixed_clock import NOW
from server_support import CAFE, PLATFORM, VOUCHER_PRODUCT
from test_api_network import network
from twisted.internet.defer import ensureDeferred
from twisted.python.failure import Failure

from distribution import commissions
from jsonapi.renderer import JsonRenderer
from vending.errors import DailySaleLimitExceeded, InvalidRequest
from vending.keyring import Keyring
from vending.money import Money
from vending.services.voucher_sales import VoucherSaleRequest
from vending.storage.database import Database

SELLERS = 8


@pytest.fixture
def pg_api(pg_database: Database, keyring: Keyring, secrets_sentinel: object) -> ApiWorld:
    return build_api_world(pg_database, keyring, secrets_sentinel, vouchers=SELLERS + 2)


def _sell_once(api: ApiWorld, caller: Any, n: int) -> Any:
    body = {"product": VOUCHER_PRODUCT, "amount": "10.00"}
    ctx = sale_context(api, caller, body, request_id=f"race-{n}", terminal_id="race")
    request = VoucherSaleRequest(ctx, VOUCHER_PRODUCT, amount=Money.parse("10.00", "ZAR"))
    return wait(ensureDeferred(api.xml.server.services.vouchers.sell(request, JsonRenderer())))


def test_racing_sales_of_one_merchant_keep_the_daily_sale_limit(pg_api: ApiWorld) -> None:
    api = pg_api
    network(api, limits={"daily_sale_limit": Money(3000, "ZAR")})

    def slabs(txn: Any) -> None:
        commissions.set_slabs(
            txn, {VOUCHER_PRODUCT: {"1": [{"min": 0, "flat": 25}]}}, actor="t", now=NOW
        )

    api.database.run_txn("slabs", slabs)
    caller = wait(ensureDeferred(api.json_api.access.authenticate(api.key)))
    dealer_before, cafe_before = api.balance(PLATFORM), api.balance(CAFE)
    barrier = threading.Barrier(SELLERS)

    def seller(n: int) -> Any:
        barrier.wait(timeout=30)
        return _sell_once(api, caller, n)

    with ThreadPoolExecutor(max_workers=SELLERS) as pool:
        results = list(pool.map(seller, range(SELLERS)))
    refused = [r for r in results if isinstance(r, Failure)]
    assert len(refused) == SELLERS - 3, [r.value for r in refused]
    assert all(r.check(DailySaleLimitExceeded) for r in refused), [r.value for r in refused]
    assert api.sale_count() == 3
    # Three commissions of 0.25 to the dealer; the merchant paid three sales less its own
    # commission (the demo voucher pays 4 %) and nothing for the refused ones.
    assert api.balance(PLATFORM) == dealer_before + Money(75, "ZAR")
    assert api.balance(CAFE) == cafe_before - Money(3 * 960, "ZAR")
    assert api.ledger_ok()


def test_racing_approvals_of_one_fund_request_credit_once(pg_api: ApiWorld) -> None:
    api = pg_api
    dealer = network(api)
    asked = api.client.post(
        "/fund-requests", {"amount": "300.00", "reference": "RACE1"}, key=api.key
    ).json()
    approver = wait(ensureDeferred(api.json_api.access.authenticate(dealer)))
    service = api.xml.server.services.distribution
    before = api.balance(CAFE)
    barrier = threading.Barrier(4)

    def approve(_: int) -> Any:
        barrier.wait(timeout=30)
        return wait(
            ensureDeferred(
                service.decide_as(approver.principal, asked["id"], approve=True, reason="")
            )
        )

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(approve, range(4)))
    approved = [r for r in results if not isinstance(r, Failure)]
    assert len(approved) == 1, results
    assert all(r.check(InvalidRequest) for r in results if isinstance(r, Failure))
    assert api.balance(CAFE) == before + Money(30000, "ZAR")
    assert api.ledger_ok()
