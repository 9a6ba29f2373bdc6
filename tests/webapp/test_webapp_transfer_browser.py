"""Money transfer in the phone web app, in a real Chromium with a phone viewport, against
``evd serve`` with the demo catalogue and the bank simulator (``evd simulate-provider dmt`` on
a free port, added with ``evd provider add``): a merchant of an INR shop finds its walk-in
sender, sees the beneficiaries (account numbers masked) and the month's limit left, adds one
through the bank's penny drop, enters an amount, sees the API's fee and the total, sends once
on a double tap and gets the receipt with the UTR; an amount over the limit is refused with
the API's message and nothing reaches the bank; a transfer the bank holds shows "pending"
with the order reference, then its final result."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fixed_clock import NOW
from webapp_support import Live, inr_shop, merchant_sign_in, served_with_provider, watch_page

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "catalogue"))

from sim_processes import SimProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOP = ("6004708000781", "till", "send1234")
SENDER = "9876500001"
# The simulator's bank: accounts ending 2 are held pending, any other (not 1, 3, 9) is paid.
PAID_ACCOUNT, HELD_ACCOUNT = "123456789010", "123456789012"


@dataclass
class TransferWorld:
    live: Live
    bank: SimProcess


def _shop_and_sender(txn: Any) -> None:
    """The INR shop; its walk-in sender with one beneficiary the bank already verified."""
    from catalogue import transfers

    vendor = inr_shop(txn, SHOP, "Sharma Money Counter")
    sender = transfers.register_sender(txn, mobile=SENDER, name="Sunita Devi", kyc="minimum",
                                       vendor_id=vendor.id, now=NOW)  # fmt: skip
    transfers.add_beneficiary(txn, sender=sender, name="Rajesh Gupta", account_no=PAID_ACCOUNT,
                              ifsc="SBIN0001234", verified_name="RAJESH KUMAR GUPTA",
                              now=NOW)  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TransferWorld]:
    with served_with_provider(
        tmp_path_factory.mktemp("evd-webapp-transfer"), "dmt", _shop_and_sender, "bank",
        "dmt-json", (("DMT-IMPS", "IMPS"),),
    ) as (live, bank):  # fmt: skip
        yield TransferWorld(live, bank)


def _signed_in_at_sender(page: Any, world: TransferWorld) -> list[str]:
    """The merchant signed in, the sender's beneficiaries shown: the page's problems."""
    problems = watch_page(page)
    merchant_sign_in(page, world.live, SHOP)
    _open_sender(page)
    return problems


def _open_sender(page: Any) -> None:
    page.click("#tile-transfer")
    page.fill("#sender-mobile", SENDER)
    page.click("#find-sender")
    page.wait_for_selector("#beneficiaries li")


def _pick(page: Any, last4: str) -> None:
    page.locator("#beneficiaries button", has_text=f"••••{last4}").click()
    page.wait_for_selector("#transfer-amount")


def _amount(page: Any, amount: str) -> None:
    page.fill("#transfer-amount", amount)
    page.click("#continue")
    page.wait_for_selector("#confirm")


def test_list_transfer_and_receipt_with_the_utr(phone_page: Any, world: TransferWorld) -> None:
    problems = _signed_in_at_sender(phone_page, world)
    assert "INR 25000.00" in phone_page.text_content("#limit")
    listed = phone_page.text_content("#beneficiaries")
    # Masked by the API: the last four digits only.
    assert "RAJESH KUMAR GUPTA" in listed and "••••9010" in listed and "SBIN0001234" in listed
    assert PAID_ACCOUNT not in phone_page.content()
    _pick(phone_page, "9010")
    _amount(phone_page, "2000")
    # The API's fee (1 %, at least Rs 10) and the total the customer pays.
    assert phone_page.text_content("#amount") == "INR 2000.00"
    assert phone_page.text_content("#fee") == "INR 20.00"
    assert phone_page.text_content("#total") == "INR 2020.00"
    before = world.bank.control("")["orders"]
    # A double tap sends once (one Idempotency-Key for the attempt, the button disabled).
    phone_page.dblclick("#pay")
    phone_page.wait_for_selector("#receipt")
    assert phone_page.text_content("h1") == "Money sent"
    assert phone_page.text_content("#status") == "success"
    utr = phone_page.text_content("#approval-ref")
    assert utr.isdigit() and len(utr) == 12
    assert "UTR" in phone_page.text_content("#receipt")
    assert world.bank.control("")["orders"] == before + 1
    # The float left: Rs 10,000 less the amount and the fee (Rs 2,020), debited once, plus
    # the merchant's commission, half the fee (Rs 10).
    receipt = phone_page.text_content("#receipt")
    assert "INR 2020.00" in receipt and "INR 7990.00" in receipt
    # The month's limit left, read again.
    phone_page.click("#done")
    _open_sender(phone_page)
    assert "INR 23000.00" in phone_page.text_content("#limit")
    assert problems == []


def test_an_amount_over_the_limit_is_refused_with_the_apis_message(
    phone_page: Any, world: TransferWorld
) -> None:
    problems = _signed_in_at_sender(phone_page, world)
    _pick(phone_page, "9010")
    _amount(phone_page, "6000.00")
    before = world.bank.control("")["requests"]
    phone_page.click("#pay")
    phone_page.wait_for_function(
        "() => document.querySelector('#pay-error .alert')?.textContent.length > 0"
    )
    # The API's refusal (one IMPS walk-in transfer is at most Rs 5,000), shown as it says.
    assert "at most Rs 5,000" in phone_page.text_content("#pay-error")
    assert phone_page.locator("#receipt").count() == 0
    assert world.bank.control("")["requests"] == before
    # The browser logs the refused request itself; nothing else (no script error, no CSP).
    assert [p for p in problems if "status of 422" not in p] == []


def test_a_beneficiary_added_by_penny_drop_then_a_held_transfer_completes(
    phone_page: Any, world: TransferWorld
) -> None:
    problems = _signed_in_at_sender(phone_page, world)
    phone_page.fill("#beneficiary-name", "Rajesh K Gupta")
    phone_page.fill("#beneficiary-account", HELD_ACCOUNT)
    phone_page.fill("#beneficiary-ifsc", "hdfc0000123")
    phone_page.click("#add-beneficiary")
    phone_page.wait_for_function(
        "() => document.querySelectorAll('#beneficiaries li button').length === 2"
    )
    _pick(phone_page, "9012")
    _amount(phone_page, "500.00")
    assert phone_page.text_content("#fee") == "INR 10.00"  # the fee's minimum
    phone_page.click("#pay")
    phone_page.wait_for_selector("#pending-state")
    order_id = phone_page.text_content("#order-ref")
    assert order_id.startswith("EV") and len(order_id) == 20
    assert world.bank.control("complete", order_id=order_id, status="SUCCESS")
    phone_page.wait_for_selector("#receipt", timeout=45_000)
    assert phone_page.text_content("#status") == "success"
    assert phone_page.text_content("#approval-ref").isdigit()
    assert phone_page.text_content("#order-ref") == order_id
    assert problems == []
