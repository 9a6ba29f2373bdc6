"""Live real parts for the channel tests: a real Kannel (bearerbox + smsbox + fakesmsc) with
`evd serve`, and the ISO 8583 simulator as its own process with `evd serve` (session-scoped
fixtures, registered by tests/channels/conftest.py). A module of its own name: test modules
import its helpers without depending on which ``conftest`` module Python loaded first."""

from __future__ import annotations

# --- a real Kannel (bearerbox + smsbox + fakesmsc) and `evd serve`, one per session --------
import os
import shutil
import subprocess
import sys as _sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

LIVE_MERCHANT = "27820000001"
LIVE_PIN = "4321"


def require_binaries(what: str, reason: str | None) -> None:
    """Skip outside CI when a real part is missing; under CI=true that is a failure."""
    if reason is None:
        return
    if IN_CI:
        pytest.fail(f"CI=true requires {what}: {reason}", pytrace=False)
    pytest.skip(f"{reason} (mandatory with CI=true)")


@dataclass
class LiveSms:
    kannel: object
    server: object
    config: Path
    base_url: str

    def evd(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [_sys.executable, "-m", "vending.cli.main", "--config", str(self.config), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=self.config.parent.parent,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout


@pytest.fixture(scope="session")
def live_sms(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSms]:
    from live_support import ServerProcess

    from tools.kannel import LocalKannel, find_binaries, free_port

    found = find_binaries()
    require_binaries("Kannel", found if isinstance(found, str) else None)
    if shutil.which("bearerbox") is None and not os.path.exists("/usr/sbin/bearerbox"):
        require_binaries("Kannel", "bearerbox missing")
    project = tmp_path_factory.mktemp("sms-live")
    # A port picked in advance (not 0): the server tells Kannel its delivery-report URL from
    # the configured port. Kannel's own ports are retried when taken meanwhile.
    port = free_port()
    kannel = LocalKannel(project / "kannel", mo_url=f"http://127.0.0.1:{port}/sms/mo")
    (project / "conf").mkdir()
    config = project / "conf" / "evd.toml"
    config.write_text(
        '[database]\nurl = "sqlite:///var/evd.db"\n\n'
        f'[server]\nhost = "127.0.0.1"\nport = {port}\n\n'
        "[security]\nscrypt_log_n = 10\n\n"
        f'[sms]\nenabled = true\nsendsms_url = "{kannel.sendsms_url}"\n'
        f'username = "{kannel.username}"\npassword = "{kannel.password}"\n'
        "poll_seconds = 0.2\n"
    )
    live = LiveSms(kannel, None, config, f"http://127.0.0.1:{port}")
    live.evd("db", "upgrade")
    live.evd("demo")
    live.evd(
        "sms", "register", LIVE_MERCHANT, "--vendor", "6004708000090", "--operator",
        "cashier1", "--pin-stdin", stdin=LIVE_PIN + "\n",
    )  # fmt: skip
    kannel.start()
    try:
        live.server = ServerProcess.start(config)
        try:
            yield live
        finally:
            live.server.stop()  # type: ignore[attr-defined]
    finally:
        kannel.stop()


# --- the acquirer-host simulator as its own process, and `evd serve` with cards on ---------


@dataclass
class LiveCards:
    server: object
    switch: subprocess.Popen[str]
    settlement: Path
    config: Path
    base_url: str

    def checkout(self, reference: str, amount: str, target: str = "04100000019") -> tuple:
        import json
        import urllib.error
        import urllib.request

        body = json.dumps(
            {
                "reference": reference,
                "product": "ELEC-DEMO",
                "target": target,
                "amount": amount,
                "card": {"number": "4111111111111111", "expiry": "2912", "cvv": "123"},
            }
        ).encode()
        request = urllib.request.Request(
            f"{self.base_url}/checkout",
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())


def start_switch(port: int, *args: str) -> tuple[subprocess.Popen[str], int]:
    """``evd simulate-switch`` on ``port`` (0: any free one); the process and its port."""
    import time

    process = subprocess.Popen(
        [_sys.executable, "-m", "vending.cli.main", "simulate-switch", "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if "listening" in line:
            return process, int(line.rsplit(":", 1)[1])
        if process.poll() is not None:
            break
    process.kill()
    raise AssertionError("the switch simulator did not start")


@pytest.fixture(scope="session")
def live_cards(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveCards]:
    from live_support import ServerProcess

    project = tmp_path_factory.mktemp("cards-live")
    settlement = project / "settlement.csv"
    # Both listen on port 0 and say which port they got: a port picked in advance could be
    # taken meanwhile by another process (another xdist worker's connections, say).
    # The response timeout leaves room for a machine starved by a parallel suite (an
    # answered payment must not time out); the simulator's late answer comes well after it.
    switch, switch_port = start_switch(
        0, "--late-seconds", "12", "--settlement-file", str(settlement)
    )
    (project / "conf").mkdir()
    config = project / "conf" / "evd.toml"
    config.write_text(
        '[database]\nurl = "sqlite:///var/evd.db"\n\n'
        '[server]\nhost = "127.0.0.1"\nport = 0\n\n'
        "[security]\nscrypt_log_n = 10\n\n"
        f"[cards]\nenabled = true\nswitch_port = {switch_port}\n"
        "response_timeout_seconds = 6.0\nreversal_retry_seconds = 0.5\necho_seconds = 5.0\n"
    )
    live = LiveCards(None, switch, settlement, config, "")
    helper = LiveSms(None, None, config, "")
    helper.evd("db", "upgrade")
    helper.evd("demo")
    try:
        live.server = ServerProcess.start(config)
        live.base_url = live.server.url.rsplit("/xmlvend", 1)[0]  # type: ignore[attr-defined]
        try:
            yield live
        finally:
            live.server.stop()  # type: ignore[attr-defined]
    finally:
        switch.terminate()
        switch.wait(timeout=10)
