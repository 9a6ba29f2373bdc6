"""The operational screens in Chromium (marker ``browser``) against ``evd serve``: a
transaction searched and reversed with four-eyes approval by a second user, a fund request
approved, a queued deposit assigned to a merchant, the dashboard updating by itself, and a
dealer kept out of what is not its own."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from ops_live import CAFE, KIOSK, SECOND, LiveAdmin, sell_voucher, sign_in, start

from staff.demo import DEMO_ADMIN, DEMO_DEALER

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveAdmin]:
    yield from start(tmp_path_factory.mktemp("admin-ops"))


def _signed_in(browser: Any, live: LiveAdmin, who: tuple[str, str, str]) -> Iterator[Any]:
    # One sign-in per user per module: a TOTP code (time step) is accepted once only.
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    sign_in(page, live, who)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(scope="module")
def admin(browser: Any, live: LiveAdmin) -> Iterator[Any]:
    yield from _signed_in(browser, live, DEMO_ADMIN)


@pytest.fixture(scope="module")
def finance(browser: Any, live: LiveAdmin) -> Iterator[Any]:
    yield from _signed_in(browser, live, SECOND)


@pytest.fixture(scope="module")
def dealer(browser: Any, live: LiveAdmin) -> Iterator[Any]:
    yield from _signed_in(browser, live, (DEMO_DEALER[0], DEMO_DEALER[1], DEMO_ADMIN[2]))


def test_search_and_reverse_with_four_eyes(live: LiveAdmin, admin: Any, finance: Any) -> None:
    printout = sell_voucher(live)
    pin = re.search(r"PIN  (\d{4} \d{4} \d{4} \d{4})", printout).group(1)
    page = admin
    page.goto(live.base + "/transactions")
    page.fill("#f-merchant", CAFE)
    page.select_option("#f-kind", "voucher")
    page.click("#search button[type=submit]")
    first = page.locator("#results tbody tr").first
    assert "AIR-DEMO-10" in first.inner_text()
    first.locator("a").click()
    page.wait_for_url(re.compile(r".*/transactions/\d+$"))
    sale_url = page.url
    # The administrator may reprint: the answer in clear (and the view is audited).
    assert pin.replace(" ", "") in page.locator("#answer").inner_text()
    assert page.locator("#legs tbody tr").count() >= 3
    page.fill("#f-reason", "customer never got the PIN")
    page.click("#reverse")
    message = page.locator(".msg").inner_text()
    number = re.search(r"approval (\d+)", message).group(1)
    assert "second user" in message
    # The requester cannot approve its own request: the page offers only to withdraw it (the
    # service refuses a forged decision too: tests/admin/test_admin_four_eyes.py).
    page.goto(f"{live.base}/approvals/{number}")
    assert "another user approves or rejects it" in page.content()
    assert page.locator("button[value=approve]").count() == 0
    # A second user approves: the sale is reversed.
    other = finance
    # Finance may not reprint: the stored answer is shown masked.
    other.goto(sale_url)
    answer = other.locator("#answer").inner_text()
    assert "pin=" in answer and "****" in answer
    assert pin not in answer and pin.replace(" ", "") not in answer
    other.goto(f"{live.base}/approvals/{number}")
    other.click("button[value=approve]")
    assert "approved" in other.locator("h1").inner_text()
    page.goto(f"{live.base}/transactions?merchant={CAFE}&state=reversed")
    assert "reversed" in page.locator("#results tbody tr").first.inner_text()


def test_approve_a_fund_request(live: LiveAdmin, admin: Any) -> None:
    page = admin
    page.goto(live.base + "/fund-requests")
    row = page.locator(f"#fund-request-{live.fund_request_id}")
    assert "SHOP-CAFE" in row.inner_text() and "750.00" in row.inner_text()
    row.locator("input[name=reason]").fill("weekly float")
    row.locator("button[value=approve]").click()
    assert f"Fund request {live.fund_request_id} approved" in page.locator(".msg").inner_text()
    assert page.locator(f"#fund-request-{live.fund_request_id}").count() == 0


def test_assign_a_queued_deposit(live: LiveAdmin, admin: Any) -> None:
    page = admin
    page.goto(live.base + "/deposits")
    row = page.locator(f"#deposit-{live.deposit_id}")
    assert "250.00" in row.inner_text()
    row.locator("form.assign input[name=merchant]").fill(CAFE)
    row.locator("form.assign input[name=reason]").fill("payer phoned with the trace number")
    row.locator("form.assign button").click()
    assert f"credited to {CAFE}" in page.locator(".msg").inner_text()
    assert page.locator(f"#deposit-{live.deposit_id}").count() == 0


def test_the_dashboard_updates_without_reload(live: LiveAdmin, admin: Any) -> None:
    page = admin
    page.goto(live.base + "/dashboard")
    first = page.locator("#dashboard").get_attribute("data-updated")
    page.wait_for_function(
        "prev => document.getElementById('dashboard').getAttribute('data-updated') !== prev"
        " && document.getElementById('dashboard').getAttribute('data-updated') !== null",
        arg=first,
    )
    sell_voucher(live)
    page.wait_for_function(
        "() => Number(document.querySelector('[data-field=sales_last_minute]').textContent) > 0"
    )


def test_a_dealer_cannot_open_another_dealers_transaction(live: LiveAdmin, dealer: Any) -> None:
    page = dealer
    page.goto(live.base + "/transactions")
    shown = page.locator("#results").inner_text()
    assert CAFE in shown and KIOSK not in shown
    # Guessing the other dealer's sale by its id: 403, like a sale that does not exist.
    response = page.goto(f"{live.base}/transactions/{live.kiosk_sale_id}")
    assert response.status == 403
    assert page.goto(f"{live.base}/transactions/999999").status == 403
    assert page.goto(live.base + "/deposits").status == 403
