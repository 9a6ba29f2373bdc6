"""CPU time per process group from /proc, to tell what a run spent its two cores on."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime


def postgres_pids(database: str) -> list[int]:
    """The server's own processes (WAL writer, checkpointer, ...) and the backends of
    ``database``; backends of other databases are someone else's work."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() not in ("postgres", "postmaster"):
                    continue
                title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            # Backends are titled "postgres: USER DATABASE HOST(PORT) STATE".
            parts = title.split()
            is_backend = len(parts) >= 4 and "(" in parts[3]
            if not is_backend or parts[2] == database:
                found.append(int(entry.name))
    return found


def machine_busy_seconds() -> float:
    """CPU seconds all processes of the machine have spent (user, nice, system, irq)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in fields[:7])
    return (user + nice + system + irq + softirq) / _TICK


class CpuMeter:
    """``start()`` then ``stop()``; ``spent`` then holds the CPU seconds per named group of
    processes, and ``other`` what the rest of the machine used meanwhile (another job
    running makes a benchmark's figures meaningless). Processes that start or end in
    between (PostgreSQL backends) count from when they are seen."""

    def __init__(self, groups: dict[str, Callable[[], Iterable[int]]]) -> None:
        self._groups = groups
        self._before: dict[str, dict[int, float]] = {}
        self._machine = 0.0
        self.spent: dict[str, float] = {}
        self.other = 0.0

    def _sample(self) -> dict[str, dict[int, float]]:
        return {
            name: {pid: _cpu_seconds(pid) for pid in pids()} for name, pids in self._groups.items()
        }

    def start(self) -> None:
        self._before = self._sample()
        self._machine = machine_busy_seconds()

    def stop(self) -> dict[str, float]:
        after = self._sample()
        machine = machine_busy_seconds() - self._machine
        spent = {}
        for name, now in after.items():
            before = self._before.get(name, {})
            spent[name] = sum(max(0.0, cpu - before.get(pid, 0.0)) for pid, cpu in now.items())
        self.spent = spent
        self.other = max(0.0, machine - sum(spent.values()))
        return spent
