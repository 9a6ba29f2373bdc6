"""``evd simulate-provider recharge`` as a child process of a benchmark: the operator's
provider the benchmarks sell recharges through."""

from __future__ import annotations

import subprocess
import sys


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
