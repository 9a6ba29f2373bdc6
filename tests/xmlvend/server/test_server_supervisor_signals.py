"""A SIGTERM that reaches ``evd serve --workers N`` while its workers are still starting (or
its banner is being made, seconds on a loaded machine) stops the workers through the
supervisor's own shutdown: it never kills the supervisor and leaves the workers running."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from xmlvend.server.workers import Supervisor

# A stand-in worker: says it listens, then waits to be stopped.
WORKER = "import os, sys, time; os.write(int(sys.argv[1]), b'x'); time.sleep(120)"


def test_a_sigterm_before_run_stops_the_workers(tmp_path: Path) -> None:
    supervisor = Supervisor("127.0.0.1", 0, 1, grace_seconds=10, metrics_parent=str(tmp_path))
    before = signal.getsignal(signal.SIGTERM)
    supervisor.start([[sys.executable, "-c", WORKER, str(supervisor.ready_fd)]])
    try:
        # Before run(): caught (it would otherwise end this very process), and remembered.
        os.kill(os.getpid(), signal.SIGTERM)
        assert supervisor.wait_ready(timeout=60)
        assert supervisor.run() == 0
    finally:
        for child in supervisor._children:
            if child.poll() is None:
                child.kill()
    assert all(child.poll() is not None for child in supervisor._children)
    assert signal.getsignal(signal.SIGTERM) is before  # run() put the old handler back
