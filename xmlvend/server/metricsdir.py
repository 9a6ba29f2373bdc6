"""The workers of ``evd serve --workers N`` share their metrics through files.

The supervisor makes a private directory (:func:`make_metrics_dir`, mode 0700) and passes
it to every worker (``--metrics-dir``). Each worker writes its :meth:`Metrics.snapshot
<xmlvend.server.metrics.Metrics.snapshot>` to ``<dir>/<pid>.json`` -- atomically (a
temporary file, then ``os.replace``) -- every ``server.metrics_snapshot_seconds``, on each
``GET /metrics`` it answers, and a last time, marked final, when it stops. Answering
``/metrics``, it sums its live state with the other files
(:func:`xmlvend.server.metrics.merge_snapshots`).

Writing its own file before reading the others' keeps the sum monotonic from one scrape to
the next whichever worker answers: the worker answering a later scrape finds every file at
least as new as the one answering an earlier scrape did. A file that is unreadable or not a
complete snapshot is skipped (the last good one read from it is used instead). The
supervisor removes the directory when the workers have stopped.

A supervisor killed outright (kill -9) cannot remove it, so each supervisor writes its pid
into the directory (``supervisor.pid``) and, starting, removes the ``evd-metrics-*``
directories of the same user whose supervisor and workers are all gone
(:func:`clean_stale_metrics_dirs`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xmlvend.server.metrics import Metrics, Snapshot, merge_snapshots, parse_snapshot

log = logging.getLogger("evd.xmlvend")

_SNAPSHOT_FILE = re.compile(r"^([0-9]+)\.json$")


PREFIX = "evd-metrics-"
OWNER_FILE = "supervisor.pid"
# A directory naming no process at all is left alone this long (it may be one that another
# supervisor is making this very moment).
ANONYMOUS_GRACE_SECONDS = 3600.0


def make_metrics_dir(parent: str | None = None, owner: int | None = None) -> str:
    """A new private directory for the workers' snapshots (see the module docstring),
    naming its ``owner`` (default: this process)."""
    path = tempfile.mkdtemp(prefix=PREFIX, dir=parent)
    owner_pid = os.getpid() if owner is None else owner
    (Path(path) / OWNER_FILE).write_text(f"{owner_pid}\n", encoding="ascii")
    return path


def _pids_of(directory: Path) -> list[int]:
    """The supervisor's and the workers' pids a metrics directory names."""
    pids = []
    try:
        owner = (directory / OWNER_FILE).read_text(encoding="ascii").strip()
        if owner.isdigit():
            pids.append(int(owner))
    except OSError:
        pass
    try:
        names = os.listdir(directory)
    except OSError:
        names = []
    for name in names:
        match = _SNAPSHOT_FILE.match(name)
        if match is not None:
            pids.append(int(match.group(1)))
    return pids


def clean_stale_metrics_dirs(
    parent: str | None = None,
    *,
    alive: Callable[[int], bool] | None = None,
    now: Callable[[], float] = time.time,
) -> list[str]:
    """Remove the ``evd-metrics-*`` directories in ``parent`` (default: the temporary
    directory) that belong to this user and whose supervisor and workers have all exited
    (a directory naming no process: once it is older than an hour). The removed paths."""
    alive = alive or pid_alive
    root = Path(parent or tempfile.gettempdir())
    removed = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(PREFIX) or not entry.is_dir(follow_symlinks=False):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if info.st_uid != os.getuid():
            continue  # another user's server: not ours to judge
        pids = _pids_of(Path(entry.path))
        if pids:
            stale = not any(alive(pid) for pid in pids)
        else:
            stale = now() - info.st_mtime > ANONYMOUS_GRACE_SECONDS
        if stale:
            remove_metrics_dir(entry.path)
            removed.append(entry.path)
    return removed


def remove_metrics_dir(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


def pid_alive(pid: int) -> bool:
    """True while a process ``pid`` exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class SnapshotDirectory:
    """This worker's view of the shared directory: writes its own file, reads the others'."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        pid: int | None = None,
        alive: Callable[[int], bool] = pid_alive,
    ) -> None:
        self.path = Path(path)
        self.pid = os.getpid() if pid is None else pid
        self._alive = alive
        self._final = False
        self._last_good: dict[int, Snapshot] = {}
        self._warned = False

    def write(self, snapshot: Snapshot, *, final: bool = False) -> None:
        """Replace this worker's file with ``snapshot`` (once final, always final)."""
        self._final = self._final or final
        data = {**snapshot, "pid": self.pid, "final": self._final}
        target = self.path / f"{self.pid}.json"
        temporary = self.path / f".{self.pid}.json.tmp"
        try:
            temporary.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
            os.replace(temporary, target)
        except OSError as exc:  # metrics must never take the server down
            if not self._warned:
                log.warning("cannot write the metrics snapshot %s: %s", target, exc)
                self._warned = True

    def read_others(self) -> list[Snapshot]:
        """The other workers' latest snapshots (skipping unreadable or malformed files)."""
        try:
            names = os.listdir(self.path)
        except OSError:
            names = []
        for name in sorted(names):
            match = _SNAPSHOT_FILE.match(name)
            if match is None or int(match.group(1)) == self.pid:
                continue
            pid = int(match.group(1))
            try:
                snapshot = parse_snapshot((self.path / name).read_bytes())
            except OSError:
                snapshot = None
            if snapshot is not None and snapshot["pid"] == pid:
                self._last_good[pid] = snapshot
            elif pid in self._last_good:
                log.debug("metrics snapshot %s unreadable; using the last good one", name)
            else:
                log.debug("metrics snapshot %s unreadable; skipped", name)
        # A worker whose file vanished keeps counting too, from the last one read.
        return [self._last_good[pid] for pid in sorted(self._last_good)]

    def combine(self, own: Snapshot) -> Snapshot:
        """``own`` summed with the other workers' snapshots (for ``Metrics.share``)."""
        self.write(own)
        others = self.read_others()
        live = {s["pid"] for s in others if not s.get("final") and self._alive(s["pid"])}
        return merge_snapshots(own, others, live=live)


class SnapshotPublisher:
    """Writes ``metrics``' snapshot every ``interval`` seconds on ``clock`` (a reactor),
    makes its ``render`` answer for all the workers, and writes a final snapshot at stop."""

    def __init__(
        self, metrics: Metrics, directory: SnapshotDirectory, interval: float, clock: Any
    ) -> None:
        from twisted.internet.task import LoopingCall

        self.metrics = metrics
        self.directory = directory
        self.interval = interval
        self._loop = LoopingCall(self._publish)
        self._loop.clock = clock

    def _publish(self) -> None:
        self.directory.write(self.metrics.snapshot())

    def start(self) -> None:
        self.metrics.share(self.directory.combine)
        self._loop.start(self.interval, now=True)

    def stop(self) -> None:
        """The last snapshot, marked final: its counters stay, its in-flight gauge not."""
        if self._loop.running:
            self._loop.stop()
        self.directory.write(self.metrics.snapshot(), final=True)
