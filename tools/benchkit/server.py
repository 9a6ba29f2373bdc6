"""``evd serve`` as a child process of a benchmark, on the bench database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from vending.keyring import MasterKey


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """``evd serve --workers N`` with its own config; stdout (one JSON line per request)
    goes to a log file so that a failed run can be looked at."""

    def __init__(
        self,
        database_url: str,
        master_key: MasterKey,
        *,
        workers: int,
        pool_size: int,
        host: str = "127.0.0.1",
        port: int | None = None,
        extra_env: dict[str, str] | None = None,
        code_dir: str | None = None,
        extra_config: str = "",
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.workers = workers
        self._scratch = tempfile.TemporaryDirectory(prefix="evd-bench-serve-")
        self.log_path = Path(self._scratch.name) / "serve.log"
        config = Path(self._scratch.name) / "bench.toml"
        config.write_text(
            "[database]\n"
            f'url = "{database_url}"\n'
            f"pool_size = {pool_size}\n"
            "[server]\n"
            f'host = "{host}"\n'
            f"port = {self.port}\n"
            f"workers = {workers}\n"
            "[vouchers]\n"
            f'gnupg_home = "{self._scratch.name}/gnupg"\n' + extra_config,
            encoding="utf-8",
        )
        self.config = config
        self._env = {
            **os.environ,
            "EVD_MASTER_KEY": master_key.to_base64(),
            **(extra_env or {}),
        }
        # Another checkout of the project (before/after comparisons): its packages come
        # first on the server's path. Its schema may be older than the bench database's,
        # so /healthz answering at all counts as started.
        self._code_dir = code_dir
        if code_dir:
            self._env["PYTHONPATH"] = code_dir
        self._process: subprocess.Popen[bytes] | None = None
        self._log = None

    @property
    def command(self) -> list[str]:
        main = [sys.executable, "-m", "vending.cli.main"]
        return [*main, "--config", str(self.config), "serve", "--workers", str(self.workers)]

    def start(self, timeout: float = 60.0) -> None:
        self._log = self.log_path.open("wb")
        # Not our working directory: ``python -m`` puts it first on the path, ahead of
        # PYTHONPATH, which would hide another checkout given as ``code_dir``.
        self._process = subprocess.Popen(
            self.command,
            env=self._env,
            cwd=self._code_dir or self._scratch.name,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        url = f"http://{self.host}:{self.port}/healthz"
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"evd serve exited: {self.tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as answer:
                    if answer.status == 200:
                        return
            except urllib.error.HTTPError:
                if self._code_dir:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"evd serve did not become healthy: {self.tail()}")

    def pids(self) -> list[int]:
        """The supervisor and its worker processes (for profiling and CPU accounting)."""
        if self._process is None:
            return []
        found = [self._process.pid]
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == self._process.pid:
                    found.append(int(entry.name))
        return found

    def tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def cleanup(self) -> None:
        self.stop()
        self._scratch.cleanup()

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()
