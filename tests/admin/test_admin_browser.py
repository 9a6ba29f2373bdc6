"""The admin suite in a real browser (marker ``browser``): ``evd db upgrade``, ``evd demo``
and ``evd serve`` in subprocesses (real clock: the TOTP code is computed with pyotp at the
moment of each login), the system Chromium through Playwright."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from live_support import ServerProcess, evd, write_config

from staff.demo import DEMO_ADMIN, DEMO_DEALER
from vending import audit
from vending.storage.database import Database

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path]]:
    directory = tmp_path_factory.mktemp("evd-live-admin")
    config = write_config(directory, '[vouchers]\ngnupg_home = "var/gnupg"\n')
    evd(config, "db", "upgrade")
    evd(config, "demo")
    server = ServerProcess.start(config)
    try:
        yield server, directory
    finally:
        server.kill()


def _base(live: tuple[ServerProcess, Path]) -> str:
    return live[0].url.rsplit("/xmlvend", 1)[0] + "/admin"


def _audit(live: tuple[ServerProcess, Path], action: str) -> list[dict[str, Any]]:
    database = Database(f"sqlite:///{live[1] / 'var' / 'evd.db'}", pool_size=1)
    try:
        return database.run_txn("test_audit", audit.search, action=action, limit=100)
    finally:
        database.close()


def sign_in(page: Any, base: str, username: str, password: str, secret: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#f-username", username)
    page.fill("#f-password", password)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/login/code")
    # The server runs on the real clock: the code of this very moment.
    page.fill("#f-code", pyotp.TOTP(secret).now())
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_sign_in_with_two_factor_escaping_and_csrf(
    live: tuple[ServerProcess, Path], desktop_page: Any
) -> None:
    base = _base(live)
    page = desktop_page
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text))
    sign_in(page, base, *DEMO_ADMIN)
    assert "Welcome, Demo Administrator" in page.content()
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["evd_admin"]
    assert session["httpOnly"] and session["secure"] and session["sameSite"] == "Strict"
    # An XSS payload typed into a text field comes back as text.
    payload = "<img src=x onerror=document.title=1><script>document.title=2</script>"
    page.goto(f"{base}/network/DEALER-A")
    page.fill("form[action$='/children'] #f-code", "XSS-B")
    page.fill("form[action$='/children'] #f-name", payload)
    page.click("form[action$='/children'] button[type=submit]")
    page.wait_for_selector("text=Node created.")
    page.goto(f"{base}/network/XSS-B")
    assert page.title() == "XSS-B · EVD admin"
    assert page.locator("h1").inner_text().startswith(payload)
    assert page.locator("main img").count() == 0
    # A form whose CSRF token was taken out is refused 403.
    page.goto(f"{base}/network/DEALER-A")
    form = "form[action$='/credit']"
    page.eval_on_selector(f"{form} input[name=csrf]", "element => element.remove()")
    page.fill(f"{form} #f-amount", "10.00")
    page.fill(f"{form} #f-reason", "no token")
    with page.expect_response(lambda r: r.url.endswith("/credit")) as answer:
        page.click(f"{form} button[type=submit]")
    assert answer.value.status == 403
    assert "did not come from this site" in page.content()
    assert not [e for e in errors if "Content Security Policy" in e]


def test_a_dealer_cannot_reach_another_dealers_merchant(
    live: tuple[ServerProcess, Path], desktop_page: Any
) -> None:
    base = _base(live)
    page = desktop_page
    sign_in(page, base, *DEMO_DEALER)
    page.goto(f"{base}/network")
    assert "SHOP-CAFE" in page.content() and "SHOP-KIOSK" not in page.content()
    response = page.goto(f"{base}/network/SHOP-KIOSK")
    assert response is not None and response.status == 403
    assert "Forbidden" in page.content()
    records = [r for r in _audit(live, "forbidden") if r["actor"] == f"staff:{DEMO_DEALER[0]}"]
    assert records and records[0]["subject"] == "node:SHOP-KIOSK"
    assert page.goto(f"{base}/network/SHOP-CAFE").status == 200  # type: ignore[union-attr]
