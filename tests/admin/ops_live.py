"""A live platform for the operational screens: a project directory with the demo data
(``evd demo``: the demo network, the demo administrator ``admin``), a second finance user
for four-eyes approvals, ``evd serve`` on a loopback port, and the work waiting for staff:
a voucher sale made through XMLVend (``evd client vend``), a bank credit nobody matched (in
the manual queue) and a fund request from the demo café."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp
from live_support import ServerProcess, evd, write_config

from deposits.authenticity import sms_alert
from deposits.recording import record_alert
from deposits.settings import DepositSettings
from distribution import fund_requests
from staff import users
from staff.demo import DEMO_ADMIN
from vending.cli.context import Context
from vending.money import Money
from vending.passwords import hash_password

ROOT = Path(__file__).resolve().parents[2]
CAFE = "6004708000090"  # under DEALER-A (the demo dealer user's node)
KIOSK = "6004708000113"  # under DEALER-B
SECOND = ("fiona", "second-user-2026", "EVDSECONDUSERTOTPSECRET234")
# A bank credit whose reference names no merchant: it waits in the manual queue.
UNMATCHED_SMS = (
    "FNB :-) R250.00 paid to cheq a/c..628301 @ Eft. Ref.UNKNOWN SHOP. Trace 9Q7ZX31A. 5Dec 10:21"
)


@dataclass
class LiveAdmin:
    server: ServerProcess
    base: str  # http://127.0.0.1:PORT/admin
    config: Path
    fund_request_id: int
    deposit_id: int
    kiosk_sale_id: int


def _kiosk_sale(txn: Any, keyring: Any, now: Any) -> int:
    """A sale by the kiosk (DEALER-B's merchant), written as the sale path writes it."""
    from vending.products import get_product, price_sale, vendor_commission_bp
    from vending.requests import claim_request
    from vending.sales import SaleOrder, record_sale
    from vending.vendors import get_vendor

    vendor = get_vendor(txn, KIOSK)
    product = get_product(txn, "AIR-DEMO-10")
    claim = claim_request(txn, keyring, channel="xmlvend", client_id=KIOSK,
                          request_id="kiosk-sale-1", operation="creditVend",
                          fingerprint=b"\x02" * 32, now=now)  # fmt: skip
    pricing = price_sale(product, None, commission_bp=vendor_commission_bp(txn, vendor.id, product))
    order = SaleOrder(vendor_id=vendor.id, vendor_account_id=vendor.account_id, product=product,
                      pricing=pricing, target="0831110000", terminal_id="K1")  # fmt: skip
    return record_sale(txn, claim, order, created_by="test", now=now).sale.id


def _seed(config: Path) -> tuple[int, int, int]:
    context = Context(str(config))
    settings = DepositSettings.load(ROOT / "conf" / "deposits.toml")
    now = context.now()

    def second_user(txn: Any) -> None:
        user = users.create_user(
            txn, username=SECOND[0], display_name="Fiona Finance", role="finance",
            password_hash=hash_password(SECOND[1], log_n=10), node_code=None,
            must_change_password=False, actor="test", now=now,
        )  # fmt: skip
        users.store_totp_secret(txn, context.keyring, user_id=user.id, secret=SECOND[2],
                                enabled=True)  # fmt: skip

    try:
        context.run("second_user", second_user)
        alert = sms_alert("FNB", UNMATCHED_SMS, settings.forwarders)
        result = context.run("deposit", record_alert, settings, alert, now)
        kiosk_sale = context.run("kiosk_sale", _kiosk_sale, context.keyring, now)
        request = context.run(
            "ask", fund_requests.ask, requester="SHOP-CAFE", amount=Money(75000, "ZAR"),
            reference="TOPUP-1", now=now,
        )  # fmt: skip
    finally:
        context.close()
    assert result.deposit_id is not None, result
    return request.id, result.deposit_id, kiosk_sale


def start(tmp: Path) -> Iterator[LiveAdmin]:
    config = write_config(tmp, f'[deposits]\nsettings_file = "{ROOT / "conf" / "deposits.toml"}"\n')
    evd(config, "db", "upgrade")
    evd(config, "demo")
    fund_request_id, deposit_id, kiosk_sale_id = _seed(config)
    server = ServerProcess.start(config)
    try:
        base = server.url.rsplit("/xmlvend", 1)[0] + "/admin"
        yield LiveAdmin(server, base, config, fund_request_id, deposit_id, kiosk_sale_id)
    finally:
        server.stop()


def sell_voucher(live: LiveAdmin) -> str:
    """A real voucher sale through XMLVend by the demo café; the client's printout."""
    return evd(live.config, "client", "vend", "--url", live.server.url, "--product",
               "AIR-DEMO-10", "--amount", "10.00")  # fmt: skip


def sign_in(page: Any, live: LiveAdmin, who: tuple[str, str, str] = DEMO_ADMIN) -> None:
    username, password, secret = who
    page.goto(live.base + "/login")
    page.fill("#f-username", username)
    page.fill("#f-password", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/login/code")
    page.fill("#f-code", pyotp.TOTP(secret).now())
    page.click("main button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
