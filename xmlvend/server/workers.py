"""``evd serve --workers N``: N server processes sharing one port (``SO_REUSEPORT``).

The supervisor binds the port first (so ``--port 0`` picks one port for all, and the port
stays reserved), starts the workers as ``evd serve --worker-index I`` with the same
configuration, forwards SIGTERM/SIGINT to them and waits for them to finish their in-flight
requests. A worker that dies unexpectedly stops the others and the supervisor exits
non-zero, for the service manager to restart. Only worker 0 runs the utility service's
recovery of pending sales, so pending upstream vends are not recovered twice.

The supervisor also makes a private directory through which the workers share their metrics
(``--metrics-dir``, see :mod:`xmlvend.server.metricsdir`), so that ``GET /metrics`` reports
the whole server whichever worker answers; it removes it once the workers have stopped,
and at start the directories of supervisors that were killed outright.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from types import FrameType
from typing import Any

from xmlvend.server.listen import bound_socket
from xmlvend.server.metricsdir import (
    clean_stale_metrics_dirs,
    make_metrics_dir,
    remove_metrics_dir,
)

POLL_SECONDS = 0.2

log = logging.getLogger("evd.xmlvend")


def worker_command(
    config_path: str | None,
    verbose: bool,
    host: str,
    port: int,
    workers: int,
    index: int,
    ready_fd: int,
    metrics_dir: str | None = None,
) -> list[str]:
    command = [sys.executable, "-m", "vending.cli.main"]
    if config_path:
        command += ["--config", config_path]
    if verbose:
        command.append("-v")
    if metrics_dir:
        extra = ["--metrics-dir", metrics_dir]
    else:
        extra = []
    return [
        *command,
        "serve",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--worker-index",
        str(index),
        "--ready-fd",
        str(ready_fd),
        *extra,
    ]


class Supervisor:
    """Runs and watches the worker processes (see the module docstring)."""

    def __init__(
        self,
        host: str,
        port: int,
        workers: int,
        grace_seconds: float,
        metrics_parent: str | None = None,
    ) -> None:
        self.host = host
        self.workers = workers
        self.grace_seconds = grace_seconds
        # Reserve the port for the workers; a bound socket that never listens gets no
        # connections of the SO_REUSEPORT group.
        self._socket = bound_socket(host, port, reuse_port=True)
        self.port: int = self._socket.getsockname()[1]
        self._children: list[subprocess.Popen[bytes]] = []
        self._stopping = False
        self._previous_handlers: dict[int, Any] | None = None
        # Each worker writes one byte here once it listens (see wait_ready).
        self._ready_read, self.ready_fd = os.pipe()
        # The workers' metrics snapshots (in $TMPDIR unless ``metrics_parent`` is given);
        # first the directories that servers killed outright left behind.
        for stale in clean_stale_metrics_dirs(metrics_parent):
            log.info("removed %s: its server is gone", stale)
        self.metrics_dir: str | None = make_metrics_dir(metrics_parent)

    def start(self, commands: Sequence[list[str]]) -> None:
        # SIGTERM/SIGINT are caught from now on, not only once run() starts: a signal while
        # the workers start (or the banner is made, slow on a loaded machine) must stop
        # them through run(), not kill this process and leave them running.
        self._install_handlers()
        for command in commands:
            self._children.append(subprocess.Popen(command, pass_fds=(self.ready_fd,)))
        os.close(self.ready_fd)

    def wait_ready(self, timeout: float) -> bool:
        """True once every worker listens; False if one exited or ``timeout`` passed."""
        ready = 0
        deadline = time.monotonic() + timeout
        while ready < len(self._children):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or any(c.poll() is not None for c in self._children):
                return False
            readable, _, _ = select.select([self._ready_read], [], [], min(remaining, POLL_SECONDS))
            if readable:
                data = os.read(self._ready_read, 64)
                if not data:  # every write end closed: a worker died before listening
                    return False
                ready += len(data)
        return True

    def _signal(self, signum: int, frame: FrameType | None) -> None:
        self._stopping = True

    def _install_handlers(self) -> dict[int, Any]:
        """Catch SIGTERM/SIGINT (once); the handlers they replaced, restored by run()."""
        if self._previous_handlers is None:
            self._previous_handlers = {
                sig: signal.signal(sig, self._signal) for sig in (signal.SIGTERM, signal.SIGINT)
            }
        return self._previous_handlers

    def run(self) -> int:
        """Block until the workers are stopped (a signal) or one fails; the exit code."""
        previous = self._install_handlers()
        try:
            while not self._stopping:
                failed = [c for c in self._children if c.poll() is not None]
                if failed:
                    log.error(
                        "worker pid %s exited with %s; stopping the others",
                        failed[0].pid,
                        failed[0].returncode,
                    )
                    self.stop()
                    return 1
                time.sleep(POLL_SECONDS)
            self.stop()
            return 0
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._socket.close()
            os.close(self._ready_read)

    def stop(self) -> None:
        """SIGTERM every worker; SIGKILL those still running after the grace period."""
        for child in self._children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.grace_seconds
        for child in self._children:
            remaining = max(deadline - time.monotonic(), 0.1)
            try:
                child.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if self.metrics_dir is not None:  # every worker has exited: nobody reads it any more
            remove_metrics_dir(self.metrics_dir)
            self.metrics_dir = None
