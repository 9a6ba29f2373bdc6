"""The phone web app in a real Chromium with a phone viewport, against ``evd serve`` with
the demo data: sign-in (consumer and merchant), airtime from the wallet with its PIN,
electricity with the meter confirmed first and its token, balance and history updating,
reprint, a pending sale updating by polling, a double tap and a dropped connection selling
once, the installable PWA (manifest, service worker caching the shell only), and a
script-like name shown as text."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from browser_support import PHONE_VIEWPORT, chromium_path
from live_support import evd
from webapp_support import Consumer, Live, merchant_sign_in, watch_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MERCHANT = ("6004708000090", "cashier1", "demo1234")
NORMAL_METER = "04100000019"
SLOW_METER = "04100000092"


def _consumer_sign_in(page: Any, live: Live, consumer: Consumer) -> None:
    page.goto(live.app)
    page.fill("#msisdn", consumer.msisdn)
    page.fill("#pin", consumer.pin)
    page.click("#sign-in")
    page.wait_for_selector("#balance:not(:text('…'))")


def _token(page: Any) -> str:
    return page.evaluate("JSON.parse(sessionStorage.getItem('evd.session')).token")


def _digits(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _home(page: Any) -> str:
    page.click("#done") if page.locator("#done").count() else page.goto(page.url.split("#")[0])
    page.wait_for_selector("#balance:not(:text('…'))")
    return page.text_content("#balance")


def test_a_consumer_buys_airtime_sees_the_pin_balance_history_and_reprints(
    phone_page: Any, live: Live, new_consumer: Any
) -> None:
    problems = watch_page(phone_page)
    consumer = new_consumer()
    _consumer_sign_in(phone_page, live, consumer)
    assert phone_page.text_content("#balance") == "ZAR 200.00"
    assert phone_page.text_content("#who") == consumer.name
    phone_page.click("#tile-airtime")
    phone_page.check("label[data-code='AIR-DEMO-10'] input")
    phone_page.click("#continue")
    assert "ZAR 10.00" in phone_page.text_content("#confirm")
    phone_page.click("#pay")
    pin = _digits(phone_page.text_content("#pin-value"))
    assert re.fullmatch(r"[0-9]{16}", pin)
    assert phone_page.text_content("#status") == "completed"
    # The PIN is the sale's, as the API has it.
    status, sales = live.call("GET", "/sales", token=_token(phone_page))
    assert status == 200 and len(sales["items"]) == 1
    sale_id = sales["items"][0]["id"]
    assert live.call("GET", f"/sales/{sale_id}", token=_token(phone_page))[1]["pin"] == pin

    assert _home(phone_page) == "ZAR 190.00"
    phone_page.click("#tile-history")
    phone_page.wait_for_selector(f"#history a[data-sale='{sale_id}']")
    assert phone_page.locator("#history li").count() == 1
    phone_page.click(f"#history a[data-sale='{sale_id}']")
    assert _digits(phone_page.text_content("#pin-value")) == pin
    phone_page.click("#reprint")
    phone_page.wait_for_selector("#reprint-note")
    assert _digits(phone_page.text_content("#pin-value")) == pin
    phone_page.goto(live.app + "#/statement")
    phone_page.wait_for_selector("#statement li")
    assert "190.00" in phone_page.text_content("#statement")
    assert problems == []


def test_a_merchant_buys_electricity_after_confirming_the_meter(
    phone_page: Any, live: Live
) -> None:
    problems = watch_page(phone_page)
    merchant_sign_in(phone_page, live, MERCHANT)
    assert phone_page.text_content("#who") == "Corner Cafe · cashier1"
    before = phone_page.text_content("#balance")
    phone_page.click("#tile-electricity")
    phone_page.fill("#meter", NORMAL_METER)
    phone_page.fill("#amount", "50.00")
    phone_page.click("#check-meter")
    phone_page.wait_for_selector("#confirm")
    _, meter = live.call("GET", f"/meters/{NORMAL_METER}")
    confirm = phone_page.text_content("#confirm")
    assert meter["customer"] and meter["customer"] in confirm
    assert NORMAL_METER in confirm and "ZAR 50.00" in confirm
    sales_before = len(live.call("GET", "/sales?limit=100")[1]["items"])
    phone_page.click("#pay")
    phone_page.wait_for_selector(".secret[data-kind='token']")
    token = _digits(phone_page.text_content(".secret[data-kind='token']"))
    assert re.fullmatch(r"[0-9]{20}", token)
    items = live.call("GET", "/sales?limit=100")[1]["items"]
    assert len(items) == sales_before + 1
    sold = live.call("GET", f"/sales/{items[0]['id']}")[1]
    assert sold["tokens"][0]["token"] == token and sold["receipt"]["meter"] == NORMAL_METER
    after = _home(phone_page)
    assert after != before
    assert after == "ZAR " + live.call("GET", "/account")[1]["available"]
    token = _token(phone_page)
    phone_page.click("#sign-out")
    phone_page.wait_for_selector("#sign-in-merchant", state="attached")
    assert phone_page.evaluate("sessionStorage.getItem('evd.session')") is None
    assert live.call("GET", "/account", token=token)[0] == 401  # ended on the server
    assert problems == []


def test_a_session_ended_elsewhere_returns_to_sign_in(
    phone_page: Any, live: Live, new_consumer: Any
) -> None:
    _consumer_sign_in(phone_page, live, new_consumer())
    assert live.call("DELETE", "/sessions/current", token=_token(phone_page))[0] == 204
    phone_page.click("#tile-history")
    phone_page.wait_for_selector("#sign-in")
    assert "session ended" in phone_page.text_content("main")


def test_a_pending_sale_shows_pending_then_its_token(phone_page: Any, live: Live) -> None:
    merchant_sign_in(phone_page, live, MERCHANT)
    phone_page.click("#tile-electricity")
    phone_page.fill("#meter", SLOW_METER)
    phone_page.fill("#amount", "20.00")
    phone_page.click("#check-meter")
    phone_page.wait_for_selector("#confirm")
    phone_page.click("#pay")
    phone_page.wait_for_selector("#pending-state")
    assert phone_page.text_content("#status") == "pending"
    # The app polls the sale's Location until the slow meter's answer is final.
    phone_page.wait_for_selector(".secret[data-kind='token']", timeout=20_000)
    assert phone_page.text_content("#status") == "completed"
    assert re.fullmatch(r"[0-9]{20}", _digits(phone_page.text_content(".secret")))


def test_a_double_tap_sells_once(phone_page: Any, live: Live, new_consumer: Any) -> None:
    consumer = new_consumer()
    _consumer_sign_in(phone_page, live, consumer)
    phone_page.click("#tile-airtime")
    phone_page.click("#continue")
    sent: list[str] = []
    phone_page.on(
        "request",
        lambda request: (
            sent.append(request.headers.get("idempotency-key", ""))
            if request.method == "POST" and request.url.endswith("/api/v1/sales")
            else None
        ),
    )
    # A real double tap (two clicks through the input pipeline, as fast as they come).
    phone_page.dblclick("#pay")
    phone_page.wait_for_selector("#pin-value")
    token = _token(phone_page)
    assert len(live.call("GET", "/sales", token=token)[1]["items"]) == 1
    assert live.call("GET", "/account", token=token)[1]["available"] == "190.00"
    assert len(set(sent)) == 1 and sent[0].startswith("app-")


def test_a_retry_after_a_dropped_answer_sells_once(
    phone_page: Any, live: Live, new_consumer: Any
) -> None:
    consumer = new_consumer()
    _consumer_sign_in(phone_page, live, consumer)
    phone_page.click("#tile-airtime")
    phone_page.click("#continue")
    keys: list[str] = []

    def drop_the_first_answer(route: Any) -> None:
        keys.append(route.request.headers["idempotency-key"])
        if len(keys) == 1:
            route.fetch()  # the server sells ...
            route.abort("connectionreset")  # ... and the phone never hears of it
        else:
            route.continue_()

    phone_page.route("**/api/v1/sales", drop_the_first_answer)
    phone_page.click("#pay")
    phone_page.wait_for_selector("#pay-error .alert")
    assert phone_page.text_content("#pay") == "Try again"
    token = _token(phone_page)
    assert len(live.call("GET", "/sales", token=token)[1]["items"]) == 1
    phone_page.click("#pay")
    pin = _digits(phone_page.text_content("#pin-value"))
    assert keys[0] == keys[1]
    sales = live.call("GET", "/sales", token=token)[1]["items"]
    assert len(sales) == 1
    assert live.call("GET", f"/sales/{sales[0]['id']}", token=token)[1]["pin"] == pin
    assert live.call("GET", "/account", token=token)[1]["available"] == "190.00"


def test_the_app_is_an_installable_pwa_whose_worker_caches_the_shell_only(
    phone_page: Any, live: Live, new_consumer: Any
) -> None:
    response = phone_page.goto(live.app)
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    registration = phone_page.evaluate(
        """async () => {
            const ready = await navigator.serviceWorker.ready;
            return {scope: ready.scope, script: ready.active && ready.active.scriptURL};
        }"""
    )
    assert registration == {"scope": live.app, "script": live.app + "sw.js"}
    manifest = phone_page.evaluate(
        """async () => {
            const link = document.querySelector("link[rel=manifest]");
            const answer = await fetch(link.href);
            return {type: answer.headers.get("content-type"), body: await answer.json()};
        }"""
    )
    assert manifest["type"] == "application/manifest+json"
    body = manifest["body"]
    assert body["start_url"] == "/app/" and body["scope"] == "/app/"
    assert body["display"] == "standalone" and body["name"] and body["short_name"]
    sizes = {icon["sizes"]: icon for icon in body["icons"]}
    for size in ("192x192", "512x512"):
        icon = sizes[size]
        assert icon["type"] == "image/png"
        width = phone_page.evaluate(
            """async (src) => {
                const image = new Image();
                image.src = src;
                await image.decode();
                return image.naturalWidth;
            }""",
            live.app + icon["src"],
        )
        assert f"{width}x{width}" == size

    # After signing in and buying, the caches hold the shell and no API answer.
    phone_page.reload()
    consumer = new_consumer()
    phone_page.fill("#msisdn", consumer.msisdn)
    phone_page.fill("#pin", consumer.pin)
    phone_page.click("#sign-in")
    phone_page.wait_for_selector("#balance:not(:text('…'))")
    phone_page.click("#tile-airtime")
    phone_page.click("#continue")
    phone_page.click("#pay")
    phone_page.wait_for_selector("#pin-value")
    assert phone_page.evaluate("navigator.serviceWorker.controller !== null")
    cached = phone_page.evaluate(
        """async () => {
            const urls = [];
            for (const name of await caches.keys()) {
                const cache = await caches.open(name);
                for (const request of await cache.keys()) urls.push(request.url);
            }
            return urls;
        }"""
    )
    assert live.app in cached and live.app + "js/main.js" in cached
    assert not [url for url in cached if "/api/" in url]


def test_a_script_like_name_is_rendered_as_text(
    phone_page: Any, live: Live, new_consumer: Any
) -> None:
    payload = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
    consumer = new_consumer(name=payload)
    _consumer_sign_in(phone_page, live, consumer)
    phone_page.wait_for_function("() => document.getElementById('who').textContent.length > 0")
    assert phone_page.text_content("#who") == payload
    assert phone_page.locator("#who img, #who script, img[src=x]").count() == 0
    assert phone_page.evaluate("window.__xss === undefined")


def test_a_consumer_redeems_reward_points_once(
    phone_page: Any, live: Live, new_consumer: Any
) -> None:
    problems = watch_page(phone_page)
    consumer = new_consumer()
    _consumer_sign_in(phone_page, live, consumer)
    phone_page.click("#tile-airtime")
    phone_page.check("label[data-code='AIR-DEMO-10'] input")
    phone_page.click("#continue")
    phone_page.click("#pay")
    phone_page.wait_for_selector("#pin-value")
    token = _token(phone_page)
    earned = live.call("GET", "/points", token=token)[1]
    assert earned["points"] > 0
    phone_page.goto(live.app + "#/points")
    phone_page.wait_for_selector("#points:not(:text('…'))")
    assert phone_page.text_content("#points") == f"{earned['points']} points"
    assert "earn" in phone_page.text_content("#points-statement")
    phone_page.fill("#redeem-points", str(earned["points"]))
    phone_page.dblclick("#redeem")  # a double tap redeems once
    phone_page.wait_for_selector("#redeemed")
    assert f"ZAR {earned['value']}" in phone_page.text_content("#redeemed")
    phone_page.wait_for_selector("#points:text('0 points')")
    kinds = [
        move["kind"] for move in live.call("GET", "/points/statement", token=token)[1]["items"]
    ]
    assert kinds.count("redeem") == 1
    wallet = live.call("GET", "/account", token=token)[1]["available"]
    assert Decimal(wallet) == Decimal("190.00") + Decimal(earned["value"])
    assert problems == []


def test_a_merchant_asks_for_funds_and_sees_the_approval(phone_page: Any, live: Live) -> None:
    problems = watch_page(phone_page)
    merchant_sign_in(phone_page, live, MERCHANT)
    phone_page.click("#tile-funds")
    phone_page.fill("#fund-amount", "500.00")
    phone_page.fill("#fund-reference", "APP-TEST-1")
    phone_page.dblclick("#ask-funds")
    phone_page.wait_for_selector("#fund-requests li[data-request]")
    row = phone_page.locator("#fund-requests li[data-request]").first
    assert "APP-TEST-1" in row.text_content() and "pending" in row.text_content()
    mine = live.call("GET", "/fund-requests")[1]["items"]
    assert [r["reference"] for r in mine].count("APP-TEST-1") == 1
    request_id = row.get_attribute("data-request")
    before = live.call("GET", "/account")[1]["balance"]
    # The operator's staff approve it (the approval is the transfer down the tree).
    assert "approved" in evd(live.config, "fund", "approve", str(request_id))
    phone_page.reload()
    phone_page.wait_for_selector(f"#fund-requests li[data-request='{request_id}']")
    assert "approved" in phone_page.text_content(f"#fund-requests li[data-request='{request_id}']")
    assert Decimal(live.call("GET", "/account")[1]["balance"]) == Decimal(before) + 500
    assert problems == []


def test_a_consumer_sees_data_bundles_and_no_fund_requests(
    phone_page: Any, live: Live, new_consumer: Any
) -> None:
    _consumer_sign_in(phone_page, live, new_consumer())
    assert phone_page.locator("#tile-funds").count() == 0
    assert phone_page.locator("#tile-points").count() == 1
    phone_page.click("#tile-data")
    phone_page.wait_for_selector("label.choice")
    codes = phone_page.eval_on_selector_all("label.choice", "all => all.map(l => l.dataset.code)")
    assert codes == ["DATA-DEMO-1GB"]


def test_chromium_finds_nothing_that_stops_installing_the_app(
    browser: Any, live: Live, tmp_path: Path
) -> None:
    """Chromium's own installability check, in a profile on disk (a test context is
    incognito-like, where nothing is installable)."""
    context = browser.browser_type.launch_persistent_context(
        str(tmp_path / "profile"),
        executable_path=chromium_path(),
        headless=True,
        args=["--no-sandbox", "--disable-dev-shm-usage"],
        viewport=PHONE_VIEWPORT,
        is_mobile=True,
        has_touch=True,
    )
    try:
        page = context.new_page()
        page.goto(live.app)
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        cdp = context.new_cdp_session(page)
        verdict = cdp.send("Page.getInstallabilityErrors")
        assert verdict["installabilityErrors"] == [], verdict
        manifest = cdp.send("Page.getAppManifest")
        assert manifest["url"] == live.app + "manifest.webmanifest"
        assert not manifest["errors"], manifest["errors"]
    finally:
        context.close()
