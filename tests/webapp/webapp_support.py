"""Helpers of the phone web app's tests (imported by name: every test directory has a
conftest module of its own): the running server with a JSON API client, the consumers the
tests make, and what `evd demo` does not seed (a distribution network and a points rule)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request, urlopen

from fixed_clock import NOW
from live_support import ServerProcess
from network_support import points_rule

from vending.api_demo import DEMO_API_KEY
from vending.storage.database import Database


@dataclass
class Live:
    """The running server: its base URL and a JSON API client."""

    base: str
    server: ServerProcess
    # The project's conf/evd.toml: staff decisions (`evd fund approve`) run against it.
    config: Path

    @property
    def app(self) -> str:
        return self.base + "/app/"

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str = DEMO_API_KEY,
        idempotency_key: str | None = None,
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = Request(self.base + "/api/v1" + path, data=data, method=method)
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if idempotency_key:
            request.add_header("Idempotency-Key", idempotency_key)
        try:
            with urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except HTTPError as error:
            return error.code, json.loads(error.read() or b"null")


CAFE = "6004708000090"
# Consumers earn a point per 1.00 spent on R10 airtime, each worth 0.01.
POINTS_PRODUCT = "AIR-DEMO-10"


def network_and_points(database_file: Path) -> None:
    """What `evd demo` does not seed: a reward points rule. (The demo network already puts the
    cafe under a dealer; the operator's root decides its fund requests in these tests.)"""

    def build(txn: Any) -> None:
        points_rule(txn, POINTS_PRODUCT, holder="consumer", per_amount=100, now=NOW)

    database = Database(f"sqlite:///{database_file}", pool_size=1)
    try:
        database.run_txn("test_network", build)
    finally:
        database.close()


@dataclass(frozen=True)
class Consumer:
    msisdn: str
    pin: str
    name: str


def watch_page(page: Any) -> list[str]:
    """Console errors and CSP violations of the page (a test asserts there are none)."""
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: (
            problems.append(message.text)
            if message.type == "error" or "Content Security Policy" in message.text
            else None
        ),
    )
    return problems


def merchant_sign_in(page: Any, live: Live, credentials: tuple[str, str, str]) -> None:
    """Sign in to the app as a merchant's operator (client id, operator, password)."""
    page.goto(live.app)
    page.click("#tab-merchant")
    client_id, operator, password = credentials
    page.fill("#client-id", client_id)
    page.fill("#operator", operator)
    page.fill("#password", password)
    page.click("#sign-in-merchant")
    page.wait_for_selector("#balance:not(:text('…'))")


def inr_shop(txn: Any, credentials: tuple[str, str, str], name: str) -> Any:
    """An INR merchant (the provider products' currency) with Rs 10,000 of float and an
    operator (client id, operator, password); the vendor made."""
    from vending.money import Money
    from vending.passwords import hash_password
    from vending.vendors import adjust_vendor_balance, create_operator, create_vendor

    client_id, operator, password = credentials
    vendor = create_vendor(txn, client_id=client_id, name=name, currency="INR", now=NOW)
    adjust_vendor_balance(txn, client_id, Money(1_000_000, "INR"), reason="float",
                          actor="test", now=NOW)  # fmt: skip
    create_operator(txn, name=operator, password_hash=hash_password(password, log_n=10),
                    vendor_client_id=client_id, now=NOW)  # fmt: skip
    return vendor


@contextmanager
def served_with_provider(
    directory: Path, kind: str, seed: Any, provider: str, protocol: str,
    mappings: tuple[tuple[str, str], ...],
) -> Iterator[tuple[Live, Any]]:  # fmt: skip
    """The ``kind`` provider simulator on a free port, and ``evd serve`` of a demo project in
    ``directory`` seeded by ``seed(txn)``, the simulator added as ``provider`` and each
    (product, code) mapped to it: (the server, the simulator), both stopped after."""
    from live_support import demo_project, evd, run_in_project
    from sim_processes import start_simulator  # tests/catalogue, on the callers' path

    simulator = start_simulator(kind)
    try:
        config = demo_project(directory, "")
        run_in_project(directory, f"test_{kind}_world", seed)
        evd(config, "provider", "add", provider, "--protocol", protocol, "--url", simulator.url)
        for product, code in mappings:
            evd(config, "provider", "map", product, provider, code)
        server = ServerProcess.start(config)
        try:
            yield Live(server.url.rsplit("/xmlvend", 1)[0], server, config), simulator
        finally:
            server.stop()
    finally:
        simulator.stop()
