"""Access to the admin suite: logins with password and TOTP, throttling, sessions and their
timeouts, CSRF, headers and cookies, first login (enrolment, forced password change), password
reset, and the login history."""

from __future__ import annotations

import pytest
from admin_support import AdminWorld, Browser

from staff import totp, users
from staff.demo import DEMO_ADMIN, DEMO_DEALER
from staff.tables import staff_users

ADMIN, PASSWORD, SECRET = DEMO_ADMIN


def _history(adm: AdminWorld, username: str) -> list[str]:
    rows = adm.database.run_txn("test_history", users.login_history, limit=100)
    return [r.outcome for r in rows if r.username == username]


def test_login_needs_password_and_code_and_rotates_the_session(adm: AdminWorld) -> None:
    browser = adm.browser()
    assert browser.get("/admin/").location == "/admin/login"
    browser.open("/admin/login")
    wrong = browser.post("/admin/login", {"username": ADMIN, "password": "not-it-at-all"})
    assert wrong.status == 401
    assert "evd_admin" not in browser.cookies
    step = browser.post("/admin/login", {"username": ADMIN, "password": PASSWORD})
    assert step.location == "/admin/login/code"
    half_session = browser.cookies["evd_admin"]
    # Half signed in: no screen yet, only the code page.
    assert browser.get("/admin/users").location == "/admin/login/code"
    browser.open("/admin/login/code")
    bad = browser.post("/admin/login/code", {"code": "000000"})
    assert bad.status == 401
    code = totp.code_at(SECRET, adm.xml.clock.now)
    done = browser.post("/admin/login/code", {"code": code})
    assert done.location == "/admin/"
    assert browser.cookies["evd_admin"] != half_session
    assert browser.get("/admin/").status == 200
    # The id of the half-signed-in session opens nothing any more.
    stale = adm.browser(cookies={"evd_admin": half_session})
    assert stale.get("/admin/").location == "/admin/login"
    assert _history(adm, ADMIN) == ["success", "bad_totp", "password_ok", "bad_password"]


def test_a_totp_code_is_good_once(adm: AdminWorld) -> None:
    first = adm.browser()
    first.login(ADMIN, PASSWORD, SECRET)
    adm.xml.clock.advance(-30)  # back into the step the first login used
    second = adm.browser()
    second.open("/admin/login")
    second.post("/admin/login", {"username": ADMIN, "password": PASSWORD})
    second.open("/admin/login/code")
    replay = second.post("/admin/login/code", {"code": totp.code_at(SECRET, adm.xml.clock.now)})
    assert replay.status == 401


def test_cookies_and_security_headers(adm: AdminWorld) -> None:
    browser = adm.browser()
    page = browser.open("/admin/login")
    csp = page.header("content-security-policy") or ""
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert page.header("x-frame-options") == "DENY"
    assert page.header("x-content-type-options") == "nosniff"
    assert page.header("cache-control") == "no-store"
    step = browser.post("/admin/login", {"username": ADMIN, "password": PASSWORD})
    cookie = next(c for c in step.headers["set-cookie"] if c.startswith("evd_admin="))
    for attribute in ("Secure", "HttpOnly", "SameSite=strict", "Path=/admin"):
        assert attribute in cookie
    # No inline script or style anywhere in our pages.
    assert "<script>" not in page.text and "style=" not in page.text
    missing = browser.get("/admin/no-such-page")
    assert missing.status == 404 and missing.header("content-security-policy") == csp


def test_a_form_without_its_csrf_token_is_refused(adm: AdminWorld) -> None:
    anonymous = adm.browser()
    anonymous.open("/admin/login")
    refused = anonymous.post("/admin/login", {"username": ADMIN, "password": PASSWORD}, csrf=None)
    assert refused.status == 403
    assert "evd_admin" not in anonymous.cookies
    browser = adm.as_admin()
    form = {"username": "mallory", "display_name": "M", "role": "super_admin", "node": ""}
    for token in (None, "forged-token-forged-token-forged-token"):
        assert browser.post("/admin/users", form, csrf=token).status == 403
    assert adm.database.run_txn("t", users.find_user, "mallory") is None
    refusals = [r for r in adm.audit("forbidden") if r["details"]["attempted"] == "form"]
    assert len(refusals) == 2 and refusals[0]["subject"] == "/admin/users"
    browser.open("/admin/users")
    assert browser.post("/admin/users", form).status == 200
    assert adm.database.run_txn("t", users.find_user, "mallory") is not None


def test_idle_and_absolute_timeouts_follow_the_clock(adm: AdminWorld) -> None:
    browser = adm.as_admin()  # its last request was 30 s ago (the login helper waits a step)
    adm.xml.clock.advance(869)
    assert browser.get("/admin/").status == 200
    adm.xml.clock.advance(901)
    assert browser.get("/admin/").location == "/admin/login"
    # Busy all day: the absolute limit (8 hours after the login) still ends it.
    browser = adm.as_admin()
    for _ in range(35):
        adm.xml.clock.advance(800)
        assert browser.get("/admin/").status == 200
    adm.xml.clock.advance(800)
    assert browser.get("/admin/").location == "/admin/login"


def test_failed_logins_lock_the_user_out(adm: AdminWorld) -> None:
    browser = adm.browser()
    browser.open("/admin/login")
    for attempt in range(10):
        page = browser.post("/admin/login", {"username": ADMIN, "password": "guess-guess-1"})
        assert page.status == (429 if attempt == 9 else 401)  # the 10th failure locks
    locked = browser.post("/admin/login", {"username": ADMIN, "password": PASSWORD})
    assert locked.status == 429
    assert locked.header("retry-after")
    assert "evd_admin" not in browser.cookies
    assert adm.audit("login_locked")[0]["subject"] == f"operator:@admin {ADMIN}"
    assert _history(adm, ADMIN)[0] == "locked"
    adm.xml.clock.advance(301)
    browser.login(ADMIN, PASSWORD, SECRET)


def test_a_new_user_enrols_totp_and_must_change_the_password(adm: AdminWorld) -> None:
    admin = adm.as_admin()
    admin.open("/admin/users")
    created = admin.post(
        "/admin/users",
        {"username": "sam", "display_name": "Sam Support", "role": "support", "node": ""},
    )
    assert created.status == 200
    one_time = created.text.split('id="one-time-password">')[1].split("<")[0]
    sam = adm.browser()
    sam.open("/admin/login")
    step = sam.post("/admin/login", {"username": "sam", "password": one_time})
    assert step.location == "/admin/login/enrol"
    enrol = sam.open("/admin/login/enrol")
    secret = enrol.text.split('id="totp-secret">')[1].split("<")[0].replace(" ", "")
    assert "otpauth://totp/" in enrol.text
    assert 'id="totp-qr"' in enrol.text and 'src="data:image/svg+xml;base64,' in enrol.text
    # Encrypted at rest: the secret is nowhere in the row.
    row = adm.database.run_txn(
        "t",
        lambda txn: txn.execute(staff_users.select().where(staff_users.c.username == "sam")).one(),
    )
    assert secret.encode() not in bytes(row.totp_secret)
    done = sam.post("/admin/login/enrol", {"code": totp.code_at(secret, adm.xml.clock.now)})
    assert done.location == "/admin/password"
    assert sam.get("/admin/").location == "/admin/password"
    sam.open("/admin/password")
    short = sam.post("/admin/password", {"current": one_time, "new": "short1", "again": "short1"})
    assert short.status == 400
    new = "sams-own-password-1"
    changed = sam.post("/admin/password", {"current": one_time, "new": new, "again": new})
    assert changed.location == "/admin/"
    assert sam.get("/admin/").status == 200
    # Support may not manage users: the screen is not offered, the action is refused.
    assert sam.get("/admin/users").status == 200
    sam.open("/admin/users")
    refused = sam.post("/admin/users", {"username": "x1x", "display_name": "X", "role": "auditor"})
    assert refused.status == 403


def test_an_administrator_resets_a_password(adm: AdminWorld) -> None:
    dealer = adm.as_dealer()
    assert dealer.get("/admin/").status == 200
    admin = adm.as_admin()
    found = adm.database.run_txn("t", users.find_user, DEMO_DEALER[0])
    admin.open(f"/admin/users/{found.id}")
    page = admin.post(f"/admin/users/{found.id}/reset-password", {})
    one_time = page.text.split('id="one-time-password">')[1].split("<")[0]
    # The dealer's session ended with the reset.
    assert dealer.get("/admin/").location == "/admin/login"
    again = adm.browser()
    again.open("/admin/login")
    again.post("/admin/login", {"username": DEMO_DEALER[0], "password": one_time})
    again.open("/admin/login/code")
    code = totp.code_at(DEMO_DEALER[2], adm.xml.clock.now)
    assert again.post("/admin/login/code", {"code": code}).location == "/admin/password"
    assert adm.audit("user.password_reset")[0]["actor"] == f"staff:{ADMIN}"


def test_logout_ends_the_session(adm: AdminWorld) -> None:
    browser = adm.as_admin()
    kept = dict(browser.cookies)
    browser.open("/admin/")
    assert browser.post("/admin/logout", {}).location == "/admin/login"
    assert Browser(adm, cookies=kept).get("/admin/").location == "/admin/login"
    assert _history(adm, ADMIN)[0] == "logout"


@pytest.mark.parametrize("role", ["auditor"])
def test_a_read_only_auditor_reads_but_changes_nothing(adm: AdminWorld, role: str) -> None:
    admin = adm.as_admin()
    admin.open("/admin/users")
    page = admin.post(
        "/admin/users", {"username": "audrey", "display_name": "Audrey", "role": role, "node": ""}
    )
    one_time = page.text.split('id="one-time-password">')[1].split("<")[0]
    user = adm.database.run_txn("t", users.find_user, "audrey")
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

    def enrol(txn: object) -> None:
        users.store_totp_secret(txn, adm.xml.keyring, user_id=user.id, secret=secret, enabled=True)

    adm.database.run_txn("t", enrol)
    audrey = adm.browser()
    audrey.login("audrey", one_time, secret)
    audrey.open("/admin/password")
    new = "audreys-password-1"
    audrey.post("/admin/password", {"current": one_time, "new": new, "again": new})
    assert audrey.get("/admin/audit").status == 200
    assert audrey.get("/admin/network/SHOP-CAFE").status == 200
    audrey.open("/admin/network/SHOP-CAFE")
    refused = audrey.post(
        "/admin/network/SHOP-CAFE/credit",
        {"direction": "credit", "amount": "10.00", "reason": "x"},
    )
    assert refused.status == 403
    forbidden = adm.audit("forbidden")[0]
    assert forbidden["actor"] == "staff:audrey"
    assert forbidden["details"]["attempted"] == "hierarchy.credit"


def test_old_sessions_are_pruned_on_the_reactor_timer(adm: AdminWorld) -> None:
    from twisted.internet.task import Clock

    from staff.tables import staff_sessions

    browser = adm.as_admin()
    browser.open("/admin/")
    browser.post("/admin/logout", {})

    def count(txn: object) -> int:
        return len(txn.execute(staff_sessions.select()).all())  # type: ignore[attr-defined]

    assert adm.database.run_txn("t", count) == 1
    reactor = Clock()
    adm.admin.start(reactor, every_seconds=3600)
    assert adm.database.run_txn("t", count) == 1  # ended just now: kept a day
    adm.xml.clock.advance(86_401)
    reactor.advance(3600)
    assert adm.database.run_txn("t", count) == 0
    adm.admin.stop()


def test_the_banner_shows_demo_logins_on_loopback_only() -> None:
    from admin.app import banner_lines

    assert any("demo-admin-2026" in line for line in banner_lines("http://127.0.0.1:8080"))
    remote = banner_lines("https://vend.example.com:8443")
    assert remote[0] == "Admin     https://vend.example.com:8443/admin/"
    assert not any("demo" in line for line in remote)


def test_nobody_grants_a_permission_they_do_not_hold(adm: AdminWorld) -> None:
    from admin_support import signed_in_user

    from staff.roles import ROLES

    uma = signed_in_user(
        adm, "uma", "support", permissions=ROLES["support"].permissions | {"users.manage"}
    )
    uma.open("/admin/users")
    finance = {"username": "fin2", "display_name": "F", "role": "finance", "node": ""}
    assert uma.post("/admin/users", finance).status == 403
    assert adm.database.run_txn("t", users.find_user, "fin2") is None
    support = {"username": "sup2", "display_name": "S", "role": "support", "node": ""}
    assert uma.post("/admin/users", support).status == 200
    created = adm.database.run_txn("t", users.find_user, "sup2")
    uma.open(f"/admin/users/{created.id}")
    grab = uma.post(
        f"/admin/users/{created.id}/access",
        {"role": "support", "status": "active", "perm:hierarchy.credit": "on"},
    )
    assert grab.status == 403
    assert "hierarchy.credit" not in adm.database.run_txn("t", users.find_user, "sup2").permissions
    assert adm.audit("forbidden")[0]["details"]["reason"] == "cannot grant hierarchy.credit"
