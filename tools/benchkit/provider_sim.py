"""``evd simulate-provider recharge`` as a child process of a benchmark: the operator's
provider the benchmarks sell recharges through."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from typing import Any

from vending.storage.database import Txn


def start_recharge_simulator(latency_ms: float) -> tuple[subprocess.Popen[bytes], str]:
    """The simulator on a free port, answering after ``latency_ms``: (process, its URL)."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vending.cli.main",
            "simulate-provider",
            "recharge",
            "--port",
            "0",
            "--latency-ms",
            str(latency_ms),
        ],
        stdout=subprocess.PIPE,
    )
    # Its first line names the URL it listens on.
    line = process.stdout.readline().decode()  # type: ignore[union-attr]
    if "http://" not in line:
        process.kill()
        raise SystemExit(f"simulator did not start: {line!r}")
    return process, line.strip().rsplit(" ", 1)[1]


def sell_airtel_through_simulator(
    txn: Txn, keyring: Any, provider_url: str, *, timeout_ms: int, now: datetime
) -> None:
    """The demo catalogue with RCH-AIRTEL sold through the simulator at ``provider_url``
    (the provider ``sim``, its product code ``AT``)."""
    from catalogue.demo import seed_catalogue
    from catalogue.providers import add_provider, map_product

    seed_catalogue(txn, now=now)
    add_provider(
        txn,
        keyring,
        name="sim",
        protocol="recharge-json",
        url=provider_url,
        timeout_ms=timeout_ms,
        actor="bench",
        now=now,
    )
    map_product(
        txn, product_code="RCH-AIRTEL", provider="sim", provider_code="AT", actor="bench", now=now
    )
