"""Bill payment in the phone web app, in a real Chromium with a phone viewport, against
``evd serve`` with the demo catalogue and the BBPS network simulator (``evd simulate-provider
bbps`` on a free port, added with ``evd provider add``): a merchant of an INR shop picks a
biller by category and search, fetches the bill, pays it and sees the receipt with the
network's approval reference; a customer number in the wrong format is refused before any
call, and a bill the network does not know shows the API's error; a payment the biller holds
shows "pending" with the order reference, then the final result once the network completes
it (the app polling the order's status URL)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from webapp_support import Live, inr_shop, merchant_sign_in, served_with_provider, watch_page

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "catalogue"))

from sim_processes import SimProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOP = ("6004708000779", "till", "bills1234")
BILLER = "BESCOM000KAR01"  # Electricity, fetch MANDATORY, amount EXACT, Customer ID \d{10}


@dataclass
class BillsWorld:
    live: Live
    bbps: SimProcess


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BillsWorld]:
    products = (("BBPS-ELECTRICITY", "*"), ("BBPS-POSTPAID", "*"), ("BBPS-GAS", "*"))
    with served_with_provider(
        tmp_path_factory.mktemp("evd-webapp-bills"), "bbps",
        lambda txn: inr_shop(txn, SHOP, "Sharma Bills Counter"), "bbpsnet", "bbps-xml", products,
    ) as (live, bbps):  # fmt: skip
        yield BillsWorld(live, bbps)


def _open_biller(page: Any) -> None:
    page.click("#tile-bills")
    page.wait_for_selector("#billers li a")
    page.select_option("#bill-category", "Electricity")
    page.fill("#biller-search", "besc")
    links = page.locator("#billers li a")
    assert links.count() == 1
    assert "BESCOM" in links.first.text_content()
    links.first.click()
    page.wait_for_selector("#param-0")


def _fetch(page: Any, customer_id: str) -> None:
    page.fill("#param-0", customer_id)
    page.fill("#bill-mobile", "9810012345")
    page.click("#fetch-bill")


def test_fetch_pay_and_receipt_with_the_approval_reference(
    phone_page: Any, world: BillsWorld
) -> None:
    problems = watch_page(phone_page)
    merchant_sign_in(phone_page, world.live, SHOP)
    assert "10000.00" in phone_page.text_content("#balance")
    _open_biller(phone_page)
    _fetch(phone_page, "4000000004")
    phone_page.wait_for_selector("#bill")
    bill = phone_page.text_content("#bill")
    # The simulator's bill: Rs 1,000 + Rs 10 per the number's last digit, due in 15 days.
    assert "R K Gupta" in bill and "INR 1040.00" in bill and "Due date" in bill
    # EXACT: the amount due, not editable.
    assert phone_page.get_attribute("#bill-amount", "readonly") is not None
    phone_page.click("#continue")
    phone_page.wait_for_selector("#confirm")
    # A double tap pays once (one Idempotency-Key for the attempt, the button disabled).
    phone_page.dblclick("#pay")
    phone_page.wait_for_selector("#receipt")
    assert phone_page.text_content("h1") == "Bill paid"
    assert phone_page.text_content("#status") == "success"
    assert phone_page.text_content("#approval-ref").startswith("AB")
    receipt = phone_page.text_content("#receipt")
    assert "INR 1040.00" in receipt and "R K Gupta" in receipt
    # The float left: Rs 10,000 less one payment of Rs 1,040 and the demo catalogue's
    # customer fee on it (Rs 2.40): debited once.
    assert "INR 8957.60" in receipt
    assert world.bbps.control("")["payments"] == 1
    assert problems == []


def test_a_bad_customer_number_and_an_unknown_bill_are_shown(
    phone_page: Any, world: BillsWorld
) -> None:
    merchant_sign_in(phone_page, world.live, SHOP)
    _open_biller(phone_page)
    before = world.bbps.control("")["requests"]
    # The biller's format (ten digits) is checked before any call.
    _fetch(phone_page, "12345")
    phone_page.wait_for_selector("#bill-error .alert")
    assert "not in the biller's format" in phone_page.text_content("#bill-error")
    assert phone_page.get_attribute("#param-0", "aria-invalid") == "true"
    assert world.bbps.control("")["requests"] == before
    # A well-formed number the network has no bill for: the API's problem, shown.
    _fetch(phone_page, "4000000009")
    phone_page.wait_for_function(
        # A function, not a bare expression: Playwright evaluates a bare expression with
        # eval() in the page, which the app's CSP (no 'unsafe-eval') refuses.
        "() => document.querySelector('#bill-error')?.textContent.includes('no provider answered')"
        " || document.querySelector('#bill-error')?.textContent.includes('not found')"
    )
    assert phone_page.locator("#bill").count() == 0


def test_a_pending_payment_shows_the_order_then_the_final_result(
    phone_page: Any, world: BillsWorld
) -> None:
    problems = watch_page(phone_page)
    merchant_sign_in(phone_page, world.live, SHOP)
    _open_biller(phone_page)
    _fetch(phone_page, "4000000002")  # the simulator holds payments of numbers ending 2
    phone_page.wait_for_selector("#bill")
    phone_page.click("#continue")
    phone_page.click("#pay")
    phone_page.wait_for_selector("#pending-state")
    order_id = phone_page.text_content("#order-ref")
    assert order_id.startswith("EV") and len(order_id) == 20
    assert phone_page.text_content("#status") == "pending"
    # The biller completes it; the platform's status poll closes the order and the app,
    # polling the order's status URL, shows the receipt.
    assert world.bbps.control("complete", order_id=order_id, status="SUCCESS")["status"] == (
        "SUCCESS"
    )
    phone_page.wait_for_selector("#receipt", timeout=45_000)
    assert phone_page.text_content("#status") == "success"
    assert phone_page.text_content("#approval-ref").startswith("AB")
    assert phone_page.text_content("#order-ref") == order_id
    assert problems == []
