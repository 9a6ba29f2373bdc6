"""Fixtures of the phone web app's tests: ``evd serve`` for real (a subprocess with the demo
data, its slow test meter on), Chromium with a phone viewport, and a small JSON API client
the tests use to set up and check what the app did."""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "xmlvend" / "server"))

from browser_support import browser, phone_page  # noqa: F401
from fixed_clock import NOW
from live_support import ServerProcess, evd, write_config

from distribution import nodes, rewards
from vending.api_demo import DEMO_API_KEY
from vending.storage.database import Database
from vending.vendors import set_vendor_privileges


@dataclass
class Live:
    """The running server: its base URL and a JSON API client."""

    base: str
    server: ServerProcess
    dealer_key: str

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


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    directory = tmp_path_factory.mktemp("evd-webapp")
    config = write_config(
        directory, '[vouchers]\ngnupg_home = "var/gnupg"\n\n[utilities]\ntest_behaviours = true\n'
    )
    # A short deadline: the slow test meter's sale answers 202 and completes 2 s later.
    config.write_text(
        config.read_text().replace(
            "[server]\n", "[server]\ndeadline_seconds = 1.0\nparse_wait_seconds = 0.5\n"
        )
    )
    evd(config, "db", "upgrade")
    evd(config, "demo")
    _network_and_points(directory / "var" / "evd.db")
    # A key of the dealer (the platform vendor), to approve the cafe's fund requests.
    dealer_key = evd(config, "api-key", "create", "--vendor", PLATFORM, "--operator", "platform")
    server = ServerProcess.start(config)
    try:
        yield Live(server.url.rsplit("/xmlvend", 1)[0], server, dealer_key.strip().splitlines()[-1])
    finally:
        server.stop()


CAFE = "6004708000090"
PLATFORM = "6004708000106"
# Consumers earn a point per 1.00 spent on R10 airtime, each worth 0.01.
POINTS_PRODUCT = "AIR-DEMO-10"


def _network_and_points(database_file: Path) -> None:
    """What `evd demo` does not seed: the cafe as a retailer under a dealer (the platform
    vendor, which may decide its subtree's fund requests), and a reward points rule."""

    def build(txn: Any) -> None:
        nodes.create_root(txn, code="OP", name="Operator", currency="ZAR", actor="t", now=NOW)
        for parent, code, name, vendor in (
            ("OP", "DL", "Dealer", PLATFORM),
            ("DL", "CAFE", "Cafe", CAFE),
        ):
            nodes.create_node(
                txn,
                actor_node="OP",
                parent=parent,
                code=code,
                name=name,
                vendor_client_id=vendor,
                actor="t",
                now=NOW,
            )
        set_vendor_privileges(txn, PLATFORM, grant=["network"], actor="t", now=NOW)
        rewards.set_rule(
            txn,
            product_code=POINTS_PRODUCT,
            holder="consumer",
            per_amount=100,
            point_value=1,
            valid_days=30,
            actor="t",
            now=NOW,
        )

    database = Database(f"sqlite:///{database_file}", pool_size=1)
    try:
        database.run_txn("test_network", build)
    finally:
        database.close()


_numbers = itertools.count(1)


@dataclass(frozen=True)
class Consumer:
    msisdn: str
    pin: str
    name: str


@pytest.fixture
def new_consumer(live: Live) -> Any:
    """A consumer of its own for each test (KYC 0), with 200.00 in its wallet."""

    def make(name: str = "Test Consumer", amount: str = "200.00") -> Consumer:
        number = next(_numbers)
        msisdn = f"278255{number:05d}"
        status, document = live.call(
            "POST", "/consumers", {"msisdn": msisdn, "name": name, "pin": "2468"}
        )
        assert status == 201, document
        status, document = live.call(
            "POST",
            f"/consumers/{msisdn}/topups",
            {"amount": amount},
            idempotency_key=f"webapp-test-topup-{msisdn}",
        )
        assert status == 201, document
        return Consumer(msisdn, "2468", name)

    return make
