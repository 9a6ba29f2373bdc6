"""Running ``evd`` for real: a project directory with its own config and SQLite database,
``evd`` commands in subprocesses, and ``evd serve`` on an ephemeral loopback port."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EVD = [sys.executable, "-m", "vending.cli.main"]
# The banner ("EVD XMLVend 2.1 server listening on URL"), printed once the server answers:
# under --workers N, by the supervisor once every worker listens. Not a worker's own line
# ("evd serve: worker 0 listening on URL"): a test starting on it could find the other
# workers still starting (on a busy machine all its clients then reach one worker) and the
# supervisor not yet handling SIGTERM.
_LISTENING = re.compile(r"server listening on (https?://\S+/xmlvend)")


def write_config(directory: Path, extra: str = "", database_url: str | None = None) -> Path:
    """conf/evd.toml of a fresh project directory (relative paths resolve into it)."""
    (directory / "conf").mkdir(parents=True, exist_ok=True)
    url = database_url or "sqlite:///var/evd.db"
    config = directory / "conf" / "evd.toml"
    config.write_text(
        f'[database]\nurl = "{url}"\npool_size = 8\n\n'
        '[server]\nhost = "127.0.0.1"\nport = 0\n\n'
        "[security]\nscrypt_log_n = 10\n\n" + extra
    )
    return config


def evd(config: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> str:
    """Run an ``evd`` command; its output (fails the test on a non-zero exit)."""
    done = subprocess.run(
        [*EVD, "--config", str(config), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=config.parent.parent,
    )
    assert done.returncode == 0, f"evd {' '.join(args)}: {done.stdout}\n{done.stderr}"
    return done.stdout


def demo_project(directory: Path, extra: str = '[vouchers]\ngnupg_home = "var/gnupg"\n') -> Path:
    """A project directory with the demo data (``evd db upgrade``, ``evd demo``): its config."""
    config = write_config(directory, extra)
    evd(config, "db", "upgrade")
    evd(config, "demo")
    return config


def stop_gpg_agent(home: Path) -> None:
    """Stop the GnuPG agent a project's ``evd`` commands or server started in ``home`` (an
    agent outlives the process that started it)."""
    if home.is_dir():
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"],
                       capture_output=True, check=False, timeout=30)  # fmt: skip


def run_in_project(directory: Path, name: str, work: Callable[[Any], Any]) -> Any:
    """``work(txn)`` in one transaction on the project's SQLite database (what the ``evd``
    commands do not seed)."""
    from vending.storage.database import Database

    database = Database(f"sqlite:///{directory / 'var' / 'evd.db'}", pool_size=1)
    try:
        return database.run_txn(name, work)
    finally:
        database.close()


@dataclass
class ServerProcess:
    """``evd serve`` in a subprocess; stdout and stderr collected by reader threads."""

    process: subprocess.Popen[str]
    url: str = ""
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)

    @classmethod
    def start(
        cls, config: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 60
    ) -> ServerProcess:
        process = subprocess.Popen(
            [*EVD, "--config", str(config), "serve", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
            cwd=config.parent.parent,
        )
        server = cls(process)
        for stream, lines in ((process.stdout, server.stdout), (process.stderr, server.stderr)):
            threading.Thread(target=_drain, args=(stream, lines), daemon=True).start()
        listening = server.stdout_line(lambda line: _LISTENING.search(line) is not None, timeout)
        found = None if listening is None else _LISTENING.search(listening)
        if found is None:
            server.kill()
            raise AssertionError(f"evd serve did not start:\n{server.output()}")
        server.url = found.group(1)
        return server

    def stdout_line(self, wanted: Callable[[str], bool], timeout: float = 30) -> str | None:
        """The first line of stdout (read by a thread) that is ``wanted``, polled until the
        deadline; None when none came, or the server exited without it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = next((line for line in list(self.stdout) if wanted(line)), None)
            if found is not None:
                return found
            if self.process.poll() is not None:
                return next((line for line in list(self.stdout) if wanted(line)), None)
            time.sleep(0.05)
        return None

    def output(self) -> str:
        return "".join(self.stdout) + "\n--- stderr ---\n" + "".join(self.stderr)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM and wait: the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _drain(stream: object, lines: list[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        lines.append(line)
