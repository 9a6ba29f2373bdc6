"""The processes of a crash campaign: the configuration files, the seeding commands, the
simulated utility and ``evd serve --workers N`` as a process group (so that one SIGKILL of
the group kills the supervisor and every worker at once, as a power cut or the OOM killer
of a container would)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tools.benchkit.server import free_port

PLATFORM = ("6004708000106", "platform", "demo5678")
UPSTREAM_SGC = "123457"  # the MISTY1 demo supply group: routed to the simulated utility


def evd(config: Path, env: dict[str, str], *args: str, timeout: float = 300.0) -> str:
    """Run one ``evd`` command with ``config``; its output (raises on failure)."""
    command = [sys.executable, "-m", "vending.cli.main", "--config", str(config), *args]
    done = subprocess.run(
        command,
        env=env,
        cwd=config.parent,
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"evd {' '.join(args)} failed: {done.stdout}\n{done.stderr}")
    return done.stdout


def write_config(
    path: Path,
    *,
    database_url: str,
    port: int,
    workers: int,
    scratch: Path,
    upstream_url: str | None = None,
    pool_size: int = 4,
    test_behaviours: bool = False,
    batching: bool | None = None,
) -> Path:
    """A configuration for our server (with the upstream route) or for the simulator."""
    lines = [
        "[database]",
        f'url = "{database_url}"',
        f"pool_size = {pool_size}",
        "[server]",
        'host = "127.0.0.1"',
        f"port = {port}",
        f"workers = {workers}",
        "[vouchers]",
        f'gnupg_home = "{scratch}/gnupg-{path.stem}"',
        "[utilities]",
        "recovery_poll_seconds = 1.0",
        "recovery_max_delay_seconds = 5.0",
        # The demo meters' test behaviours: only for --slow-meter (the slow meter).
        f"test_behaviours = {'true' if test_behaviours else 'false'}",
    ]
    if batching is not None:  # issue 16: sales batched per worker (None: the default)
        lines += ["[sales]", f"batching = {'true' if batching else 'false'}"]
    if upstream_url:
        client_id, op_name, password = PLATFORM
        lines += [
            "[[utilities.routes]]",
            f'sgc = "{UPSTREAM_SGC}"',
            'name = "simulated-utility"',
            f'url = "{upstream_url}"',
            f'client_id = "{client_id}"',
            f'op_name = "{op_name}"',
            f'password = "{password}"',
            "timeout_seconds = 5.0",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group ``pgid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def _healthy(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (OSError, urllib.error.HTTPError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


class ProcessGroup:
    """One command in its own session (process group); output to a log file."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: Path, log: Path) -> None:
        self.command = command
        self.env = env
        self.cwd = cwd
        self.log_path = log
        self.process: subprocess.Popen[bytes] | None = None
        self._log = None

    def start(self) -> None:
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command,
            env=self.env,
            cwd=self.cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killpg reaches every worker
        )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole group (supervisor and workers) and reap the leader."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self._wait_group_gone(self.process.pid)
        self._close_log()

    def stop(self, grace: float = 30.0) -> None:
        """SIGTERM the group; SIGKILL what is left after ``grace`` seconds."""
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=grace)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                pass
        self.kill()

    @staticmethod
    def _wait_group_gone(pgid: int, timeout: float = 10.0) -> None:
        """Wait until no live process of the group is left (a surviving worker would still
        hold the port and answer). Zombies do not count: in a container nobody may reap
        the orphaned workers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and group_members(pgid):
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


class Simulator(ProcessGroup):
    """``evd simulate-utility`` on its own database (the utility's, not ours)."""

    def __init__(
        self, config: Path, env: dict[str, str], port: int, latency: float, jitter: float
    ) -> None:
        command = [
            sys.executable, "-m", "vending.cli.main", "--config", str(config),
            "simulate-utility", "--port", str(port), "--latency", str(latency),
            "--jitter", str(jitter),
        ]  # fmt: skip
        super().__init__(command, env, config.parent, config.parent / "simulator.log")
        self.port = port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/xmlvend"

    def start_and_wait(self, timeout: float = 60.0) -> None:
        self.start()
        assert self.process is not None
        _healthy(f"http://127.0.0.1:{self.port}/_simulator", self.process, timeout)


class Server(ProcessGroup):
    """``evd serve --workers N`` (restarted after each kill with the same port)."""

    def __init__(self, config: Path, env: dict[str, str], port: int, workers: int) -> None:
        command = [
            sys.executable, "-m", "vending.cli.main", "--config", str(config),
            "serve", "--workers", str(workers),
        ]  # fmt: skip
        super().__init__(command, env, config.parent, config.parent / "serve.log")
        self.port = port

    def start_and_wait(self, timeout: float = 90.0) -> float:
        """Start; seconds until ``/healthz`` answered."""
        started = time.monotonic()
        self.start()
        assert self.process is not None
        _healthy(f"http://127.0.0.1:{self.port}/healthz", self.process, timeout)
        return time.monotonic() - started


__all__ = ["Server", "Simulator", "evd", "free_port", "write_config"]
