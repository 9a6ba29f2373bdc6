"""The network screens: a partner's scope enforced server-side (403 + audit, whatever the
guess), credit/debit as one balanced transfer with four-eyes above the threshold, limits,
blocking, operators and API keys, and escaping of what users type."""

from __future__ import annotations

from admin_support import AdminWorld, Browser

from distribution import nodes
from staff import users
from staff.approvals import listing as approvals_listing
from staff.demo import DEMO_DEALER
from vending import vendors
from vending.ledger import verify_ledger
from vending.money import Money


def _node(adm: AdminWorld, code: str) -> nodes.Node:
    return adm.database.run_txn("t", nodes.get_node, code)


def _ledger_ok(adm: AdminWorld) -> None:
    report = adm.database.run_txn("t", verify_ledger)
    assert report.ok, report


def _forbidden(adm: AdminWorld, actor: str) -> list[dict]:
    return [r for r in adm.audit("forbidden") if r["actor"] == actor]


def test_a_dealer_cannot_reach_another_dealers_merchant(adm: AdminWorld) -> None:
    dealer = adm.as_dealer()
    actor = f"staff:{DEMO_DEALER[0]}"
    assert dealer.get("/admin/network/SHOP-CAFE").status == 200  # its own merchant
    listing = dealer.get("/admin/network").text
    assert "SHOP-CAFE" in listing and "SHOP-KIOSK" not in listing and "DEALER-B" not in listing
    # Another dealer's merchant, that dealer, a parent, a code that does not exist: all alike.
    for code in ("SHOP-KIOSK", "DEALER-B", "NET-DIST", "NO-SUCH-NODE"):
        page = dealer.get(f"/admin/network/{code}")
        assert page.status == 403, code
        assert "KIOSK" not in page.text.replace(code, "") or code == "SHOP-KIOSK"
    records = _forbidden(adm, actor)
    assert {r["subject"] for r in records} >= {"node:SHOP-KIOSK", "node:NO-SUCH-NODE"}
    # Actions on it are refused the same way, and change nothing.
    before = _node(adm, "SHOP-KIOSK")
    dealer.open("/admin/network/SHOP-CAFE")
    for path, form in (
        (
            "/admin/network/SHOP-KIOSK/credit",
            {"direction": "debit", "amount": "5.00", "reason": "mine now"},
        ),
        ("/admin/network/SHOP-KIOSK/status", {"status": "suspended"}),
        ("/admin/network/SHOP-KIOSK/limits", {"credit_limit": "99999.00", "daily_sale_limit": ""}),
        ("/admin/network/SHOP-KIOSK/operators", {"name": "evil", "password": "evil123"}),
        ("/admin/network/SHOP-KIOSK/api-keys", {"operator": "lowcred", "label": "x"}),
        ("/admin/network/DEALER-B/children", {"code": "X1", "name": "X"}),
    ):
        assert dealer.post(path, form).status == 403, path
    assert _node(adm, "SHOP-KIOSK") == before
    assert len(_forbidden(adm, actor)) >= len(records) + 6
    # Staff-only screens are refused too.
    assert dealer.get("/admin/users").status == 403
    assert dealer.get("/admin/audit").status == 403


def test_staff_credit_and_debit_are_balanced_transfers(adm: AdminWorld) -> None:
    admin = adm.as_admin()
    before = _node(adm, "DEALER-A").balance
    admin.open("/admin/network/DEALER-A")
    page = admin.post(
        "/admin/network/DEALER-A/credit",
        {"direction": "credit", "amount": "250.00", "reason": "float top-up"},
    )
    assert page.status == 200 and "Done: transfer" in page.text
    assert _node(adm, "DEALER-A").balance == before + Money.parse("250.00", "ZAR")
    admin.open("/admin/network/DEALER-A")
    admin.post(
        "/admin/network/DEALER-A/credit",
        {"direction": "debit", "amount": "50.00", "reason": "correction"},
    )
    assert _node(adm, "DEALER-A").balance == before + Money.parse("200.00", "ZAR")
    _ledger_ok(adm)
    record = adm.audit("node.credit_transfer")[0]
    assert record["actor"] == "staff:admin" and record["details"]["reason"] == "float top-up"
    # No reason, no amount, a bad amount: refused, nothing moved.
    for form in (
        {"direction": "credit", "amount": "10.00", "reason": " "},
        {"direction": "credit", "amount": "-5", "reason": "x"},
        {"direction": "credit", "amount": "1.005", "reason": "x"},
    ):
        admin.open("/admin/network/DEALER-A")
        assert admin.post("/admin/network/DEALER-A/credit", form).status == 400
    assert _node(adm, "DEALER-A").balance == before + Money.parse("200.00", "ZAR")


def _finance_user(adm: AdminWorld) -> Browser:
    admin = adm.as_admin()
    admin.open("/admin/users")
    page = admin.post(
        "/admin/users", {"username": "fiona", "display_name": "Fiona", "role": "finance"}
    )
    one_time = page.text.split('id="one-time-password">')[1].split("<")[0]
    user = adm.database.run_txn("t", users.find_user, "fiona")
    secret = "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU"
    adm.database.run_txn(
        "t",
        lambda txn: users.store_totp_secret(
            txn, adm.xml.keyring, user_id=user.id, secret=secret, enabled=True
        ),
    )
    fiona = adm.browser()
    fiona.login("fiona", one_time, secret)
    fiona.open("/admin/password")
    fiona.post(
        "/admin/password", {"current": one_time, "new": "fionas-pass-1", "again": "fionas-pass-1"}
    )
    return fiona


def test_a_large_credit_waits_for_a_second_user(adm: AdminWorld) -> None:
    fiona = _finance_user(adm)
    admin = adm.as_admin()
    before = _node(adm, "DEALER-B").balance
    admin.open("/admin/network/DEALER-B")
    page = admin.post(
        "/admin/network/DEALER-B/credit",
        {"direction": "credit", "amount": "5000.00", "reason": "season stock"},
    )
    assert "waits for a second user" in page.text
    assert _node(adm, "DEALER-B").balance == before  # nothing moved yet
    approvals = adm.admin.services.four_eyes
    pending = adm.database.run_txn("t", approvals_listing)
    approval = pending[0]
    assert approval.state == "pending" and approval.amount == Money.parse("5000.00", "ZAR")
    # The requester cannot approve it: 403 and an audit record.
    admin.open(f"/admin/approvals/{approval.id}")
    own = admin.post(f"/admin/approvals/{approval.id}/decide", {"decision": "approve"})
    assert own.status == 403
    assert _forbidden(adm, "staff:admin")[0]["details"]["reason"].startswith("the requester")
    assert _node(adm, "DEALER-B").balance == before
    # Another user with the permission approves: the transfer runs, once.
    assert approvals.kinds["network.credit"].permission == "hierarchy.credit"
    fiona.open(f"/admin/approvals/{approval.id}")
    done = fiona.post(
        f"/admin/approvals/{approval.id}/decide", {"decision": "approve", "note": "ok"}
    )
    assert done.status == 200 and "approved" in done.text
    assert _node(adm, "DEALER-B").balance == before + Money.parse("5000.00", "ZAR")
    again = fiona.post(f"/admin/approvals/{approval.id}/decide", {"decision": "approve"})
    assert again.status == 400
    assert _node(adm, "DEALER-B").balance == before + Money.parse("5000.00", "ZAR")
    _ledger_ok(adm)
    assert [r["actor"] for r in adm.audit("approval.approve")] == ["staff:fiona"]
    # A rejected one moves nothing.
    admin.open("/admin/network/DEALER-B")
    admin.post(
        "/admin/network/DEALER-B/credit",
        {"direction": "debit", "amount": "4000.00", "reason": "recall"},
    )
    second = adm.database.run_txn("t", approvals_listing)[0]
    fiona.open(f"/admin/approvals/{second.id}")
    assert fiona.post(f"/admin/approvals/{second.id}/decide", {"decision": "reject"}).status == 200
    assert _node(adm, "DEALER-B").balance == before + Money.parse("5000.00", "ZAR")


def test_limits_status_operators_and_keys(adm: AdminWorld) -> None:
    admin = adm.as_admin()
    admin.open("/admin/network/SHOP-CAFE")
    page = admin.post(
        "/admin/network/SHOP-CAFE/limits", {"credit_limit": "150.00", "daily_sale_limit": "900.00"}
    )
    assert page.status == 200
    assert _node(adm, "SHOP-CAFE").credit_limit == Money.parse("150.00", "ZAR")
    record = adm.audit("node.limits")[0]
    assert record["details"]["after"] == {"credit_limit": "150.00", "daily_sale_limit": "900.00"}
    admin.open("/admin/network/SHOP-CAFE")
    admin.post("/admin/network/SHOP-CAFE/status", {"status": "suspended"})
    assert _node(adm, "SHOP-CAFE").status == "suspended"
    # A merchant's block stops its sales: the vendor is blocked with it.
    assert adm.database.run_txn("t", vendors.get_vendor, "6004708000090").blocked
    assert "sales blocked" in admin.get("/admin/network/SHOP-CAFE").text
    admin.open("/admin/network/SHOP-CAFE")
    created = admin.post(
        "/admin/network/SHOP-CAFE/operators", {"name": "till9", "password": "till9pass"}
    )
    assert created.status == 200 and "till9" in created.text
    admin.open("/admin/network/SHOP-CAFE")
    key_page = admin.post(
        "/admin/network/SHOP-CAFE/api-keys", {"operator": "till9", "label": "pos"}
    )
    key = key_page.text.split('id="shown-once">')[1].split("<")[0]
    assert key.startswith("evd_live_")
    assert key not in admin.get("/admin/network/SHOP-CAFE").text  # shown once only
    till9 = adm.database.run_txn("t", vendors.get_operator, "till9", "6004708000090")
    admin.open("/admin/network/SHOP-CAFE")
    reset = admin.post(f"/admin/network/SHOP-CAFE/operators/{till9.id}/password", {})
    one_time = reset.text.split('id="shown-once">')[1].split("<")[0]
    from vending.auth import Authenticator

    admin.open("/admin/network/SHOP-CAFE")
    admin.post("/admin/network/SHOP-CAFE/status", {"status": "active"})  # sales open again
    assert not adm.database.run_txn("t", vendors.get_vendor, "6004708000090").blocked

    authenticator = Authenticator(adm.database, clock=adm.xml.clock, password_log_n=10)
    principal = authenticator.authenticate("6004708000090", "till9", one_time)
    assert principal.operator_name == "till9"
    # Another merchant's operator through this merchant's page: 403.
    cashier = adm.database.run_txn("t", vendors.get_operator, "lowcred", "6004708000113")
    admin.open("/admin/network/SHOP-CAFE")
    assert admin.post(f"/admin/network/SHOP-CAFE/operators/{cashier.id}/password", {}).status == 403


def test_what_users_type_comes_back_escaped(adm: AdminWorld) -> None:
    admin = adm.as_admin()
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    admin.open("/admin/network/DEALER-A")
    page = admin.post("/admin/network/DEALER-A/children", {"code": "XSS-1", "name": payload})
    assert page.status == 200
    for path in ("/admin/network", "/admin/network/XSS-1", "/admin/audit"):
        text = admin.get(path).text
        assert "<script>alert" not in text and "<img src=x" not in text, path
    assert "&lt;script&gt;alert(" in admin.get("/admin/network/XSS-1").text
    # Bad input echoed in an error message is escaped too.
    admin.open("/admin/users")
    bad = admin.post(
        "/admin/users",
        {"username": "ok-name", "display_name": "N", "role": "dealer", "node": payload},
    )
    assert bad.status == 400 and "<script>alert" not in bad.text


def test_a_dealer_creates_below_itself_but_links_no_vendor(adm: AdminWorld) -> None:
    dealer = adm.as_dealer()
    dealer.open("/admin/network/DEALER-A")
    made = dealer.post("/admin/network/DEALER-A/children", {"code": "SHOP-NEW", "name": "New shop"})
    assert made.status == 200 and _node(adm, "SHOP-NEW").parent_id == _node(adm, "DEALER-A").id
    claim = dealer.post(
        "/admin/network/DEALER-A/children",
        {"code": "SHOP-STEAL", "name": "Mine", "vendor": "6004708000106"},
    )
    assert claim.status == 403
    assert _forbidden(adm, "staff:dealer.a")[0]["details"]["reason"].startswith("only staff")


def test_a_requester_opens_and_withdraws_its_own_request(adm: AdminWorld) -> None:
    admin = adm.as_admin()
    admin.open("/admin/network/DEALER-B")
    admin.post(
        "/admin/network/DEALER-B/credit",
        {"direction": "credit", "amount": "3000.00", "reason": "staff one"},
    )
    staff_approval = adm.database.run_txn("t", approvals_listing)[0]
    dealer = adm.as_dealer()
    dealer.open("/admin/network/SHOP-CAFE")
    page = dealer.post(
        "/admin/network/SHOP-CAFE/credit",
        {"direction": "credit", "amount": "2000.00", "reason": "big order"},
    )
    assert 'id="approval-link"' in page.text
    mine = adm.database.run_txn("t", approvals_listing)[0]
    assert mine.requested_by == "staff:dealer.a" and mine.id != staff_approval.id
    assert dealer.get("/admin/approvals").status == 403  # the queue is for deciders
    assert "My requests waiting for approval" in dealer.get("/admin/").text
    detail = dealer.open(f"/admin/approvals/{mine.id}")
    assert detail.status == 200 and "Withdraw my request" in detail.text
    assert "Approve and run" not in detail.text
    assert dealer.post(f"/admin/approvals/{mine.id}/decide", {"decision": "approve"}).status == 403
    withdrawn = dealer.post(f"/admin/approvals/{mine.id}/decide", {"decision": "withdraw"})
    assert withdrawn.status == 200 and "rejected" in withdrawn.text
    # Someone else's request: neither opened nor withdrawn.
    assert dealer.get(f"/admin/approvals/{staff_approval.id}").status == 403
    dealer.open(f"/admin/approvals/{mine.id}")
    other = dealer.post(f"/admin/approvals/{staff_approval.id}/decide", {"decision": "withdraw"})
    assert other.status == 403
    assert adm.database.run_txn("t", approvals_listing)[0].state == "pending"
