"""The operational screens in process (SQLite and PostgreSQL): a real electricity sale made
through XMLVend found by its meter and receipt, its token masked, the CSV export streamed,
the dashboard's JSON, a dealer refused another dealer's sale (403 + audit), XSS escaped,
and a form without its CSRF token refused."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from admin_support import AdminWorld
from server_support import CAFE, NORMAL_METER, PLATFORM, PLATFORM_OPERATOR, credit_vend

from staff.demo import DEMO_DEALER


def _sell(adm: AdminWorld, client: str = CAFE, operator=None) -> str:
    header = adm.xml.header(client, operator) if operator else adm.xml.header(client)
    response = adm.xml.call(credit_vend(header, NORMAL_METER, "50.00"))
    assert response.status == 200, response.body
    token = re.search(rb"<[\w:]*stsCipher>(\d{20})<", response.body)
    assert token is not None
    return token.group(1).decode()


def _receipt(page_text: str) -> str:
    return re.search(r"/admin/transactions/(\d+)\"", page_text).group(1)


def test_a_sale_found_by_meter_and_receipt_with_its_token_masked(adm: AdminWorld) -> None:
    token = _sell(adm)
    admin = adm.as_admin()
    page = admin.get(f"/admin/transactions?target={NORMAL_METER}")
    assert page.status == 200 and CAFE in page.text
    sale_id = _receipt(page.text)
    by_receipt = admin.get(f"/admin/transactions?reference={int(sale_id):012d}")
    assert _receipt(by_receipt.text) == sale_id
    # A support user may not reprint: the answer is masked.
    support = adm.browser()
    _create_user(adm, "sam", "support")
    support.login("sam", "support-pass-2026", SECRET)
    detail = support.get(f"/admin/transactions/{sale_id}")
    assert detail.status == 200
    assert token not in detail.text and "****" in detail.text
    assert "Ledger legs" in detail.text and "vendor:" in detail.text


SECRET = "EVDSUPPORTUSERTOTPSECRET23"


def _create_user(adm: AdminWorld, username: str, role: str) -> None:
    from staff import users
    from vending.passwords import hash_password

    def create(txn):
        user = users.create_user(
            txn, username=username, display_name=username.title(), role=role,
            password_hash=hash_password("support-pass-2026", log_n=10), node_code=None,
            must_change_password=False, actor="test", now=adm.xml.clock.now,
        )  # fmt: skip
        users.store_totp_secret(txn, adm.xml.keyring, user_id=user.id, secret=SECRET,
                                enabled=True)  # fmt: skip

    adm.database.run_txn("user", create)


def test_csv_export_streams_the_filtered_rows(adm: AdminWorld) -> None:
    for _ in range(3):
        _sell(adm)
    _sell(adm, PLATFORM, PLATFORM_OPERATOR)
    admin = adm.as_admin()
    export = admin.get(f"/admin/transactions/export.csv?merchant={CAFE}")
    assert export.status == 200
    assert export.header("content-type").startswith("text/csv")
    rows = list(csv.reader(io.StringIO(export.text)))
    assert rows[0][0] == "id" and len(rows) == 4
    assert {row[4] for row in rows[1:]} == {CAFE}
    assert adm.audit("transactions.export")


def test_dashboard_json(adm: AdminWorld) -> None:
    _sell(adm)
    admin = adm.as_admin()
    page = admin.get("/admin/dashboard")
    assert page.status == 200 and "/admin/static/dashboard.js" in page.text
    assert "<script>" not in page.text  # no inline script: the CSP refuses it
    data = json.loads(admin.get("/admin/dashboard.json").text)
    assert data["sales_today"] == 1 and data["by_channel"] == {"xmlvend": 1}
    assert data["utilities"] and data["utilities"][0]["ok"] == 1


def test_a_dealer_is_refused_another_dealers_sale(adm: AdminWorld) -> None:
    _sell(adm, PLATFORM, PLATFORM_OPERATOR)  # the platform vendor: in no dealer's subtree
    admin = adm.as_admin()
    sale_id = _receipt(admin.get("/admin/transactions").text)
    dealer = adm.as_dealer()
    assert PLATFORM not in dealer.get("/admin/transactions").text
    assert dealer.get(f"/admin/transactions/{sale_id}").status == 403
    assert dealer.get("/admin/transactions/999999").status == 403
    refusals = [r for r in adm.audit("forbidden") if r["actor"] == f"staff:{DEMO_DEALER[0]}"]
    assert {r["subject"] for r in refusals} >= {f"sale:{sale_id}", "sale:999999"}
    assert dealer.get("/admin/deposits").status == 403


@pytest.mark.parametrize("field", ["reference", "target", "merchant"])
def test_what_users_type_comes_back_escaped(adm: AdminWorld, field: str) -> None:
    admin = adm.as_admin()
    payload = '<script>alert("x")</script>'
    page = admin.get(f"/admin/transactions?{field}=%3Cscript%3Ealert(%22x%22)%3C%2Fscript%3E")
    assert page.status == 200
    assert payload not in page.text and "&lt;script&gt;" in page.text


def test_a_form_without_its_csrf_token_is_refused(adm: AdminWorld) -> None:
    admin = adm.as_admin()
    admin.open("/admin/fund-requests")
    refused = admin.post("/admin/fund-requests/1/decide", {"decision": "approve"}, csrf=None)
    assert refused.status == 403
