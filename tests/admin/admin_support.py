"""The admin suite's test world: the XMLVend test world (demo data, the test's clock, an
in-memory Site) with the admin suite mounted at /admin as ``evd serve`` mounts it, the
staff demo data (network, admin and dealer users), and a cookie-keeping in-memory browser."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

from server_support import MemoryTransport, World, build_world
from twisted.internet.address import IPv4Address

from admin.app import AdminMount, build_admin
from staff import totp
from staff.demo import DEMO_ADMIN, DEMO_DEALER, _seed
from vending.keyring import Keyring
from vending.storage.database import Database
from xmlvend.server.mounts import mount
from xmlvend.transport.asyncdb import ImmediateDatabase

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Page:
    status: int
    headers: dict[str, list[str]]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[-1] if values else None

    @property
    def location(self) -> str | None:
        return self.header("location")

    def csrf(self) -> str:
        found = _CSRF.search(self.text)
        assert found, f"no CSRF token on the page:\n{self.text[:2000]}"
        return found.group(1)


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return out


def parse_one(data: bytes) -> Page:
    head, sep, rest = data.partition(b"\r\n\r\n")
    assert sep, f"no complete answer: {data[:300]!r}"
    lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    if headers.get("transfer-encoding") == ["chunked"]:
        body = _dechunk(rest)
    else:
        body = rest[: int(headers.get("content-length", [str(len(rest))])[0])]
    return Page(int(lines[0].split()[1]), headers, body)


@dataclass
class Browser:
    """Requests over in-memory connections, keeping the cookies the server sets (Secure
    ones included: the test plays a browser on a secure origin)."""

    world: AdminWorld
    cookies: dict[str, str] = field(default_factory=dict)
    user_agent: str = "pytest-admin/1"
    address: str = "10.0.0.7"

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> Page:
        transport = MemoryTransport()
        site = self.world.xml.server.site
        protocol = site.buildProtocol(IPv4Address("TCP", self.address, 50000))
        protocol.makeConnection(transport)
        body = urlencode(form or {}).encode() if form is not None else b""
        headers = {"Host": "127.0.0.1:8080", "User-Agent": self.user_agent,
                   "Content-Length": str(len(body))}  # fmt: skip
        if form is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        head = f"{method} {path} HTTP/1.1\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers.items()
        )
        protocol.dataReceived(head.encode("latin-1") + b"\r\n" + body)
        page = parse_one(transport.value())
        for cookie in page.headers.get("set-cookie", []):
            name, _, rest = cookie.partition("=")
            value = rest.split(";", 1)[0]
            if "Max-Age=0" in cookie or not value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        protocol.connectionLost(None)
        return page

    def get(self, path: str) -> Page:
        return self.request("GET", path)

    def post(self, path: str, form: dict[str, str], *, csrf: str | None = "auto") -> Page:
        """POST a form; ``csrf="auto"`` takes the token from the page at ``path``'s form
        source (the last GET), None sends none."""
        data = dict(form)
        if csrf == "auto":
            csrf = self.last_csrf
        if csrf is not None:
            data["csrf"] = csrf
        return self.request("POST", path, data)

    last_csrf: str | None = None

    def open(self, path: str) -> Page:
        """GET and remember the page's CSRF token (as a browser has it in the form)."""
        page = self.get(path)
        if page.status == 200 and 'name="csrf"' in page.text:
            self.last_csrf = page.csrf()
        return page

    def login(self, username: str, password: str, secret: str) -> Page:
        self.open("/admin/login")
        step = self.post("/admin/login", {"username": username, "password": password})
        assert step.status == 303, step.text
        assert step.location == "/admin/login/code", step.location
        self.open("/admin/login/code")
        code = totp.code_at(secret, self.world.xml.clock.now)
        done = self.post("/admin/login/code", {"code": code})
        assert done.status == 303, done.text
        # The next code step for the same user needs a later time step (no replay).
        self.world.xml.clock.advance(30)
        return done


@dataclass
class AdminWorld:
    xml: World
    admin: AdminMount

    @property
    def database(self) -> Database:
        return self.xml.database

    def browser(self, **kwargs: Any) -> Browser:
        return Browser(self, **kwargs)

    def as_admin(self) -> Browser:
        browser = self.browser()
        browser.login(DEMO_ADMIN[0], DEMO_ADMIN[1], DEMO_ADMIN[2])
        return browser

    def as_dealer(self) -> Browser:
        browser = self.browser()
        browser.login(DEMO_DEALER[0], DEMO_DEALER[1], DEMO_DEALER[2])
        return browser

    def audit(self, action: str) -> list[dict[str, Any]]:
        from vending import audit

        return self.database.run_txn("test_audit", audit.search, action=action, limit=200)


def build_admin_world(
    database: Database, keyring: Keyring, sentinel: Any, clock: Any
) -> AdminWorld:
    xml = build_world(database, keyring, sentinel, clock=clock, vouchers=0)
    database.run_txn("seed_staff", _seed, keyring, 10, now=clock.now)
    app = _application(xml)
    mounted = build_admin(app)
    mount(xml.server.site, mounted.segment, mounted.resource)
    return AdminWorld(xml, mounted)


def _application(xml: World) -> Any:
    """What the admin suite takes of the built Application (the world's own services,
    runner, keyring, config and clock)."""
    return SimpleNamespace(
        config=xml.config,
        database=xml.database,
        keyring=xml.keyring,
        runner=ImmediateDatabase(xml.database),
        services=xml.server.services,
    )


def signed_in_user(
    adm: AdminWorld, username: str, role: str, *, permissions: frozenset[str] | None = None,
    node: str | None = None,
) -> Browser:  # fmt: skip
    """A user made directly in the database (enrolled, no forced change), signed in."""
    from staff import users
    from vending.passwords import hash_password

    password, secret = f"{username}-password-1", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

    def make(txn: Any) -> None:
        user = users.create_user(
            txn, username=username, display_name=username.title(), role=role,
            password_hash=hash_password(password, log_n=10), node_code=node,
            must_change_password=False, permissions=permissions, actor="test",
            now=adm.xml.clock.now,
        )  # fmt: skip
        users.store_totp_secret(txn, adm.xml.keyring, user_id=user.id, secret=secret, enabled=True)

    adm.database.run_txn("test_make_user", make)
    browser = adm.browser()
    browser.login(username, password, secret)
    return browser
