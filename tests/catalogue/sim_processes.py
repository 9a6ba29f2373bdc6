"""Provider simulators as their own processes (``evd simulate-provider``) on free loopback
ports: started, waited for (bounded: their port answers), reset, stopped."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
EVD = [sys.executable, "-m", "vending.cli.main"]
START_SECONDS = 30.0


@dataclass
class SimProcess:
    kind: str
    process: subprocess.Popen
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def control(self, action: str, **query: str) -> dict:
        from urllib.parse import urlencode

        url = f"{self.url}/_control/{action}" + (f"?{urlencode(query)}" if query else "")
        request = urllib.request.Request(url, data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_simulator(kind: str, *args: str, env: dict[str, str] | None = None) -> SimProcess:
    """Start one simulator on a free port; its first stdout line names the port (waited
    for up to START_SECONDS). Skips (fails under CI=true) when it cannot start."""
    process = subprocess.Popen(
        [*EVD, "simulate-provider", kind, "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
        cwd=Path(__file__).resolve().parents[2],
    )
    deadline = time.monotonic() + START_SECONDS
    line = b""
    while time.monotonic() < deadline and process.poll() is None:
        ready, _, _ = select.select([process.stdout], [], [], 0.2)
        if ready:
            line = process.stdout.readline()  # type: ignore[union-attr]
            break
    if not line.startswith(f"{kind} provider simulator on http://".encode()):
        process.kill()
        stderr = process.stderr.read().decode(errors="replace")[-500:]  # type: ignore[union-attr]
        reason = f"the {kind} simulator did not start: {line!r} {stderr}"
        if IN_CI:
            pytest.fail(f"CI=true requires the provider simulators: {reason}", pytrace=False)
        pytest.skip(reason)
    port = int(line.decode().rsplit(":", 1)[1])
    return SimProcess(kind, process, port)
