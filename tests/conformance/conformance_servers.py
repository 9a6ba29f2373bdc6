"""Our own servers for the live conformance runs: ``evd serve`` and ``evd simulate-utility``
as subprocesses on ephemeral ports, each on a fresh SQLite database with the demo data
(``evd db upgrade`` + ``evd demo``), exactly as an integrator would run them.

The deadline is shortened to 2 s (the slow test meter answers 2 s after it, so FT-010 takes
about 5 s instead of 20) and scrypt to 2**10 (quick demo operators); nothing else differs
from ``make run``.
"""

from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

URL_IN_BANNER = re.compile(r"(https?://[\w.\[\]:-]+/xmlvend)\b")


def evd_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "vending.cli.main", *args]


def run_evd(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        evd_command(*args), env=env, input=stdin, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"evd {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def demo_environment(directory: Path, **settings: str) -> dict[str, str]:
    """Environment of a fresh demo installation in ``directory`` (database migrated and
    seeded). ``settings`` are extra ``EVD__SECTION__KEY`` variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVD")}
    env.update(
        EVD_DATABASE_URL=f"sqlite:///{directory / 'evd.db'}",
        EVD_MASTER_KEY=base64.b64encode(os.urandom(32)).decode(),
        EVD__SECURITY__SCRYPT_LOG_N="10",
        EVD__SERVER__DEADLINE_SECONDS="2",
        EVD__VOUCHERS__GNUPG_HOME=str(directory / "gnupg"),
        EVD__LOGGING__LEVEL="WARNING",
        # The demo configuration (conf/demo.toml): the demo meters' behaviours are on.
        EVD__UTILITIES__TEST_BEHAVIOURS="true",
        PYTHONUNBUFFERED="1",
    )
    env.update(settings)
    run_evd(env, "db", "upgrade")
    run_evd(env, "demo")
    return env


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)


@contextmanager
def running(env: dict[str, str], *args: str, directory: Path) -> Iterator[LiveServer]:
    """Start ``evd ARGS`` (a server listening on port 0), wait for the URL it prints,
    stop it (SIGTERM, by its pid) at the end."""
    stderr = (directory / f"{args[0]}.stderr").open("w")
    process = subprocess.Popen(
        evd_command(*args), env=env, stdout=subprocess.PIPE, stderr=stderr, text=True
    )
    output: list[str] = []
    found = threading.Event()

    def drain() -> None:  # the access log goes to stdout: never let the pipe fill up
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if URL_IN_BANNER.search(line):
                found.set()

    threading.Thread(target=drain, daemon=True).start()
    try:
        deadline = time.monotonic() + 60
        while not found.wait(0.1):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"evd {' '.join(args)} did not start:\n{''.join(output)}\n"
                    + (directory / f"{args[0]}.stderr").read_text()
                )
        match = next(URL_IN_BANNER.search(line) for line in output if URL_IN_BANNER.search(line))
        assert match is not None
        yield LiveServer(match.group(1), process, output)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        stderr.close()
