"""Fixtures of the phone web app's tests: ``evd serve`` for real (a subprocess with the demo
data, its slow test meter on), Chromium with a phone viewport, and a small JSON API client
the tests use to set up and check what the app did."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "xmlvend" / "server"))

from live_support import ServerProcess, evd, write_config
from webapp_support import Consumer, Live, network_and_points


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
    network_and_points(directory / "var" / "evd.db")
    server = ServerProcess.start(config)
    try:
        yield Live(server.url.rsplit("/xmlvend", 1)[0], server, config)
    finally:
        server.stop()


_numbers = itertools.count(1)


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
