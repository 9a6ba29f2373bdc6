"""PostgreSQL: one consumer's purchases racing each other cannot together pass the daily
spend limit of the wallet's KYC level. The limit is checked at the wallet's debit, in the
sale's own transaction, under the wallet's row lock (``vending.consumers.check_spend``), so
exactly as many sales succeed as the day's remaining allowance covers -- whatever the
product, through the channel-neutral sale services (the JSON API's own path)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from api_support import ApiWorld, build_api_world, idem, sale_context, wait
from server_support import CAFE, NORMAL_METER, VOUCHER_PRODUCT
from twisted.internet.defer import ensureDeferred
from twisted.python.failure import Failure

from jsonapi.renderer import JsonRenderer
from utilities.interface import MeterQuery, Purchase
from vending.consumers import WalletLimitExceeded
from vending.keyring import Keyring
from vending.money import Money
from vending.services.electricity_sales import ElectricitySaleRequest
from vending.services.voucher_sales import VoucherSaleRequest
from vending.storage.database import Database

MSISDN = "27821234567"
PIN = "4321"
BUYERS = 8


@pytest.fixture
def pg_api(pg_database: Database, keyring: Keyring, secrets_sentinel: object) -> ApiWorld:
    return build_api_world(pg_database, keyring, secrets_sentinel, vouchers=BUYERS + 2)


def _consumer_token(api: ApiWorld) -> str:
    """A level-0 consumer (500.00 a day) with 1000.00 in the wallet, signed in."""
    api.sentinel.register(PIN)
    body = {"msisdn": MSISDN, "name": "Thandi", "pin": PIN}
    assert api.client.post("/consumers", body, key=api.key).status == 201
    top_up = api.client.post(
        f"/consumers/{MSISDN}/topups", {"amount": "1000.00"}, key=api.key, idempotency_key="t1"
    )
    assert top_up.status == 201, top_up.body
    signed_in = api.client.post("/sessions", {"msisdn": MSISDN, "pin": PIN})
    assert signed_in.status == 201, signed_in.body
    token = signed_in.json()["token"]
    api.sentinel.register(token)
    return token


def _spend(api: ApiWorld, token: str, *amounts: str) -> None:
    for n, amount in enumerate(amounts):
        body = {"product": "ELEC-DEMO", "meter": NORMAL_METER, "amount": amount}
        response = api.sell(body, token, idem=idem(f"before-{n}"))
        assert response.status == 201, response.body


def _sell_once(api: ApiWorld, token: str, product: str, amount: str, n: int) -> Any:
    """One sale through the sale services with the consumer's principal; the Outcome or
    the Failure (the runner is immediate: everything happens on the calling thread)."""
    caller = wait(ensureDeferred(api.json_api.access.authenticate(token)))
    assert caller.principal.consumer_id is not None
    body = {"product": product, "amount": amount}
    ctx = sale_context(api, caller, body, request_id=f"race-{product}-{n}", terminal_id="wallet")
    money = Money.parse(amount, "ZAR")
    sales = api.xml.server.services
    renderer = JsonRenderer()
    if product == VOUCHER_PRODUCT:
        coroutine = sales.vouchers.sell(VoucherSaleRequest(ctx, product, amount=money), renderer)
    else:
        purchase = Purchase(meter=MeterQuery(msno=NORMAL_METER), amount=money, product_code=product)
        coroutine = sales.electricity.sell(ElectricitySaleRequest(ctx, purchase), renderer)
    return wait(ensureDeferred(coroutine))


@pytest.mark.parametrize(
    ("product", "price", "spent_before"),
    [
        ("ELEC-DEMO", "100.00", ("100.00", "100.00")),  # 300.00 left: three sales
        (VOUCHER_PRODUCT, "10.00", ("100.00", "100.00", "100.00", "100.00", "70.00")),
    ],
)
def test_racing_purchases_of_one_consumer_keep_the_daily_limit(
    pg_api: ApiWorld, product: str, price: str, spent_before: tuple[str, ...]
) -> None:
    api = pg_api
    token = _consumer_token(api)
    _spend(api, token, *spent_before)
    merchant_before = api.balance(CAFE)
    barrier = threading.Barrier(BUYERS)

    def buyer(n: int) -> Any:
        barrier.wait(timeout=30)
        return _sell_once(api, token, product, price, n)

    with ThreadPoolExecutor(max_workers=BUYERS) as pool:
        results = list(pool.map(buyer, range(BUYERS)))
    refused = [r for r in results if isinstance(r, Failure)]
    sold = [r for r in results if not isinstance(r, Failure)]
    assert len(sold) == 3, [r.value for r in refused]
    assert all(r.check(WalletLimitExceeded) for r in refused), [r.value for r in refused]
    assert len(refused) == BUYERS - 3
    account = api.client.get("/account", key=token).json()
    assert account["balance"] == "500.00"  # 1000.00 - the day's full 500.00, not a cent more
    assert api.balance(CAFE) == merchant_before  # the wallet's sales move no merchant money
    assert api.sale_count() == len(spent_before) + 3  # a refusal wrote no sale
    assert api.ledger_ok()
