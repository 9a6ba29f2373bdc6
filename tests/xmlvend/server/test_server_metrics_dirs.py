"""``evd-metrics-*`` directories left behind by servers killed outright (kill -9) are removed
when a supervisor starts -- only those whose supervisor and workers are all gone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from xmlvend.server.metricsdir import (
    ANONYMOUS_GRACE_SECONDS,
    OWNER_FILE,
    clean_stale_metrics_dirs,
    make_metrics_dir,
)
from xmlvend.server.workers import Supervisor

NOW = 1_800_000_000.0
ALIVE = {os.getpid(), 333}


def _dir(parent: Path, name: str, owner: int | None, workers: tuple[int, ...] = ()) -> Path:
    path = parent / f"evd-metrics-{name}"
    path.mkdir()
    if owner is not None:
        (path / OWNER_FILE).write_text(f"{owner}\n")
    for pid in workers:
        (path / f"{pid}.json").write_text("{}")
    os.utime(path, (NOW, NOW))
    return path


def test_only_directories_of_gone_servers_are_removed(tmp_path: Path) -> None:
    gone = _dir(tmp_path, "gone", 111, (112, 113))
    running = _dir(tmp_path, "running", os.getpid(), (112,))
    legacy_gone = _dir(tmp_path, "legacy-gone", None, (222,))
    legacy_running = _dir(tmp_path, "legacy-running", None, (333,))
    worker_still_running = _dir(tmp_path, "worker-left", 111, (333,))
    anonymous_new = _dir(tmp_path, "new", None)
    anonymous_old = _dir(tmp_path, "old", None)
    os.utime(anonymous_old, (NOW - ANONYMOUS_GRACE_SECONDS - 1,) * 2)
    other = tmp_path / "evd-other"
    other.mkdir()
    not_a_dir = tmp_path / "evd-metrics-file"
    not_a_dir.write_text("")

    removed = clean_stale_metrics_dirs(str(tmp_path), alive=ALIVE.__contains__, now=lambda: NOW)

    assert sorted(removed) == sorted(str(p) for p in (gone, legacy_gone, anonymous_old))
    for kept in (running, legacy_running, worker_still_running, anonymous_new, other):
        assert kept.is_dir()
    assert not_a_dir.is_file()


def test_a_starting_supervisor_removes_what_a_killed_one_left(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    left = Path(make_metrics_dir(str(tmp_path), owner=int(dead.stdout)))
    (left / f"{int(dead.stdout)}.json").write_text("{}")
    supervisor = Supervisor("127.0.0.1", 0, 2, grace_seconds=1, metrics_parent=str(tmp_path))
    try:
        assert not left.exists()
        assert supervisor.metrics_dir is not None
        own = Path(supervisor.metrics_dir)
        assert (own / OWNER_FILE).read_text().strip() == str(os.getpid())
    finally:
        supervisor.stop()
        supervisor._socket.close()
