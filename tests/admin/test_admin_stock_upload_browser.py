"""Voucher stock upload in the admin suite, in a real Chromium (marker ``browser``) against
``evd serve`` with the demo data: a stock file made like a supplier makes it (the demo
supplier's own GnuPG home signs it, encrypted to the server's stock key; the generator of
``tools.gen_stock``) is uploaded, previewed (supplier, products, counts, batch numbers; no
PIN), approved by a *second* staff user, and only then does the stock go up. A tampered
file, a malformed row and the same file again are refused with nothing imported; the
requester cannot approve its own upload; no PIN appears in a page, the server's log or an
audit record."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fixed_clock import TODAY
from live_support import ServerProcess, demo_project, run_in_project, stop_gpg_agent
from test_admin_browser import sign_in

from staff.demo import DEMO_ADMIN
from tools.gen_stock import ProductSpec, generate_rows, render_csv
from vending import audit
from vending.vouchers.gpg import StockGpg

pytestmark = [pytest.mark.browser, pytest.mark.slow]

APPROVER = ("stella", "stella-password-2026", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
# Another uploader: a TOTP code is good for one sign-in, so each test signs in a user of its own.
UPLOADER = ("tamsin", "tamsin-password-2026", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
PRODUCT = ProductSpec("AIR-DEMO-10", "10.00", 16)


@dataclass
class StockLive:
    server: ServerProcess
    directory: Path

    @property
    def base(self) -> str:
        return self.server.url.rsplit("/xmlvend", 1)[0] + "/admin"

    def audit(self, action: str) -> list[dict[str, Any]]:
        return run_in_project(
            self.directory, "test_audit", lambda txn: audit.search(txn, action=action, limit=100)
        )

    def stock_file(self, rows: list[Any], sentinel: Any) -> bytes:
        """``rows`` as the demo supplier sends them: CSV signed with its key and encrypted
        to the server's stock key. Their PINs are registered with the secrets sentinel."""
        sentinel.register(*(row.pin for row in rows))
        operator = StockGpg(self.directory / "var" / "gnupg")
        supplier = StockGpg(self.directory / "var" / "gnupg-demo-supplier")
        try:
            (operator_fpr,) = operator.secret_key_fingerprints()
            (supplier_fpr,) = supplier.secret_key_fingerprints()
            supplier.import_public_key(operator.export_public_key(operator_fpr))
            return supplier.encrypt(render_csv(rows), operator_fpr, sign_with=supplier_fpr)
        finally:
            operator.shutdown()
            supplier.shutdown()


def _stock_users(directory: Path) -> None:
    """Staff users with finance's permissions (approvals.decide) plus stock.import,
    enrolled: the approver and a second uploader."""
    from fixed_clock import NOW

    from staff import users
    from staff.roles import ROLES
    from vending.config import load_config
    from vending.keyring import Keyring, load_master_key
    from vending.passwords import hash_password

    config = load_config(directory / "conf" / "evd.toml")
    keyring = Keyring(load_master_key(config), clock=lambda: NOW)

    def make(txn: Any) -> None:
        for username, password, secret in (APPROVER, UPLOADER):
            user = users.create_user(
                txn, username=username, display_name=username.title(), role="finance",
                password_hash=hash_password(password, log_n=10), node_code=None,
                must_change_password=False,
                permissions=ROLES["finance"].permissions | {"stock.import"}, actor="test",
                now=NOW,
            )  # fmt: skip
            users.store_totp_secret(txn, keyring, user_id=user.id, secret=secret, enabled=True)

    run_in_project(directory, "test_stock_users", make)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StockLive]:
    directory = tmp_path_factory.mktemp("evd-live-stock")
    config = demo_project(directory)
    _stock_users(directory)
    server = ServerProcess.start(config)
    try:
        yield StockLive(server, directory)
    finally:
        server.stop()
        stop_gpg_agent(directory / "var" / "gnupg")


def _rows(count: int, serial_start: int, seed: int) -> list[Any]:
    return list(
        generate_rows([PRODUCT], count, today=TODAY, serial_start=serial_start,
                      batch_size=5, expiry=date(2099, 12, 31), seed=seed)
    )  # fmt: skip


def _sellable(page: Any, base: str, product: str) -> int:
    page.goto(f"{base}/stock")
    row = page.locator("tr", has=page.locator(f"td:text-is('{product}')")).first
    return int(row.locator("td").nth(3).inner_text())


def _upload(page: Any, base: str, name: str, content: bytes) -> None:
    page.goto(f"{base}/stock/upload")
    page.select_option("#f-supplier", "DEMO")
    upload = {"name": name, "mimeType": "application/pgp-encrypted", "buffer": content}
    page.set_input_files("#f-file", files=[upload])
    page.click("#upload")
    page.wait_for_load_state()


def _no_pin(sentinel: Any, text: str, where: str) -> None:
    sentinel.assert_absent(text, where)


def test_upload_preview_second_user_approves_and_stock_goes_up(
    live: StockLive, browser: Any, desktop_page: Any, secrets_sentinel: Any
) -> None:
    base, page = live.base, desktop_page
    rows = _rows(12, 7_700_900_000_000_001, seed=31)
    message = live.stock_file(rows, secrets_sentinel)
    sign_in(page, base, *DEMO_ADMIN)
    before = _sellable(page, base, PRODUCT.code)
    page.click("#upload-link")
    _upload(page, base, "acme-2026-12.csv.gpg", message)
    preview = page.locator("#preview")
    assert preview.count() == 1, page.content()
    text = preview.inner_text()
    assert "12 vouchers from supplier DEMO" in text and "acme-2026-12.csv.gpg" in text
    assert "AIR-DEMO-10" in page.inner_text("#preview-products")
    batches = page.inner_text("#preview-batches")
    assert {row.batch_number for row in rows} == set(re.findall(r"B\d{8}-\d{4}", batches))
    _no_pin(secrets_sentinel, page.content(), "the preview page")
    approval = int(re.search(r"Waiting for approval (\d+)", text).group(1))  # type: ignore[union-attr]
    # Nothing sellable yet; the requester cannot approve its own upload.
    assert _sellable(page, base, PRODUCT.code) == before
    page.goto(f"{base}/approvals/{approval}")
    assert page.locator("button[value=approve]").count() == 0
    # A second user approves: the import runs, the stock goes up by the file's vouchers.
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    try:
        second = context.new_page()
        second.set_default_timeout(30_000)
        sign_in(second, base, *APPROVER)
        second.goto(f"{base}/approvals/{approval}")
        second.click("button[value=approve]")
        second.wait_for_selector("text=approved")
        _no_pin(secrets_sentinel, second.content(), "the approval page")
        assert _sellable(second, base, PRODUCT.code) == before + 12
    finally:
        context.close()
    # The same file again: refused, nothing imported.
    _upload(page, base, "again.csv.gpg", message)
    assert "already imported" in page.inner_text("main")
    assert _sellable(page, base, PRODUCT.code) == before + 12
    uploads = live.audit("stock.upload")
    assert [entry["details"]["rows"] for entry in uploads] == [12]
    imported = [e for e in live.audit("stock.import") if e["action"] == "stock.import"]
    assert imported[0]["actor"] == "staff:stella (approving staff:admin)"
    assert imported[0]["details"]["rows"] == 12
    approved = [e for e in live.audit("approval.approve") if e["actor"] == f"staff:{APPROVER[0]}"]
    assert len(approved) == 1
    records = [*uploads, *approved, *live.audit("approval.request"), *live.audit("stock.import"),
               *live.audit("stock.import_refused")]  # fmt: skip
    for entry in records:
        _no_pin(secrets_sentinel, json.dumps(entry, default=str), "an audit record")
    _no_pin(secrets_sentinel, live.server.output(), "the server's log")


def test_a_tampered_file_and_a_malformed_row_are_refused(
    live: StockLive, desktop_page: Any, secrets_sentinel: Any
) -> None:
    base, page = live.base, desktop_page
    sign_in(page, base, *UPLOADER)
    before = _sellable(page, base, PRODUCT.code)
    message = live.stock_file(_rows(6, 7_700_910_000_000_001, seed=41), secrets_sentinel)
    middle = len(message) // 2
    tampered = message[:middle] + bytes([message[middle] ^ 0x20]) + message[middle + 1 :]
    _upload(page, base, "tampered.csv.gpg", tampered)
    refusal = page.inner_text("main")
    assert "Refused, nothing imported" in refusal
    assert page.locator("#preview").count() == 0
    # A well-signed file with one malformed row: every bad line named, none imported.
    rows = _rows(6, 7_700_920_000_000_001, seed=51)
    broken = [*rows[:3], replace(rows[3], expiry_date="31/12/2099"), *rows[4:]]
    _upload(page, base, "malformed.csv.gpg", live.stock_file(broken, secrets_sentinel))
    assert "Refused, nothing imported" in page.inner_text("main")
    assert "line 5" in page.inner_text("#upload-problems")
    # Bigger than the upload limit (192 KiB by default, under the server's body limit).
    _upload(page, base, "big.csv.gpg", message + bytes(200 * 1024))
    assert "larger than 192 KiB" in page.inner_text("main")
    _no_pin(secrets_sentinel, page.content(), "the refusal page")
    assert _sellable(page, base, PRODUCT.code) == before
    refused = live.audit("stock.import_refused")
    assert len(refused) >= 2
    for entry in refused:
        _no_pin(secrets_sentinel, json.dumps(entry, default=str), "an audit record")


def test_permission_and_csrf_are_checked_on_the_server(live: StockLive, desktop_page: Any) -> None:
    from staff.demo import DEMO_DEALER

    base, page = live.base, desktop_page
    sign_in(page, base, *DEMO_DEALER)
    # A dealer has no stock.import: no link, and the pages refuse it.
    page.goto(f"{base}/stock/upload")
    assert page.inner_text("h1") == "Forbidden"
    assert "you may not stock import" in page.inner_text("main")
    stock_file = {"name": "x.gpg", "mimeType": "application/pgp-encrypted", "buffer": b"x"}
    multipart: dict[str, Any] = {"supplier": "DEMO", "file": stock_file}
    without_token = page.request.post(f"{base}/stock/upload", multipart=multipart)
    assert without_token.status == 403 and "did not come from this site" in without_token.text()
    page.goto(f"{base}/")
    token = page.evaluate("document.querySelector('input[name=csrf]')?.value") or ""
    with_token = page.request.post(f"{base}/stock/upload", multipart={**multipart, "csrf": token})
    assert token and with_token.status == 403 and "you may not" in with_token.text()
    assert all(e["actor"] != "staff:dealer.a" for e in live.audit("stock.upload"))
