"""pgbench's built-in TPC-B-like script on the same PostgreSQL server, as the yardstick."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass

from sqlalchemy.engine import make_url

from tools.benchkit.cpu import machine_busy_seconds

_TPS = re.compile(r"tps = ([0-9.]+) \(without initial connection time\)")
_LATENCY = re.compile(r"latency average = ([0-9.]+) ms")
_PROCESSED = re.compile(r"number of transactions actually processed: ([0-9]+)")


@dataclass(frozen=True)
class PgbenchResult:
    clients: int
    threads: int
    scale: int
    seconds: int
    tps: float
    latency_ms: float
    command: str
    # CPU the whole machine spent per transaction (pgbench's client threads, PostgreSQL, and
    # anything else that ran meanwhile) and how many cores were busy: the yardstick for the
    # vends' own CPU per vend, on a machine where both runs are CPU bound.
    cpu_ms_per_txn: float = float("nan")
    cores_busy: float = float("nan")


def _conn_args(url: str) -> tuple[list[str], dict[str, str]]:
    parsed = make_url(url)
    args = ["-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432)]
    args += ["-U", parsed.username or "postgres"]
    env = {"PGPASSWORD": parsed.password} if parsed.password else {}
    return args, env


def pgbench_binary() -> str:
    found = shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"
    if not shutil.which(found):
        raise RuntimeError(
            "pgbench is not installed: apt-get install postgresql-contrib "
            "(or postgresql-client-15, which ships it on Debian)"
        )
    return found


def initialise(url: str, scale: int) -> None:
    args, env = _conn_args(url)
    database = make_url(url).database or "postgres"
    subprocess.run(
        [pgbench_binary(), "-i", "-q", "-s", str(scale), *args, database],
        check=True,
        capture_output=True,
        env={**os.environ, **env},
    )


def run(url: str, *, clients: int, threads: int, seconds: int, scale: int) -> PgbenchResult:
    args, env = _conn_args(url)
    database = make_url(url).database or "postgres"
    command = [
        pgbench_binary(),
        "-c",
        str(clients),
        "-j",
        str(threads),
        "-T",
        str(seconds),
        *args,
        database,
    ]
    busy_before, started = machine_busy_seconds(), time.perf_counter()
    done = subprocess.run(
        command, check=True, capture_output=True, text=True, env={**os.environ, **env}
    )
    busy, elapsed = machine_busy_seconds() - busy_before, time.perf_counter() - started
    tps = _TPS.search(done.stdout)
    latency = _LATENCY.search(done.stdout)
    processed = _PROCESSED.search(done.stdout)
    transactions = int(processed.group(1)) if processed else 0
    if tps is None:
        raise RuntimeError(f"unexpected pgbench output:\n{done.stdout}\n{done.stderr}")
    return PgbenchResult(
        clients=clients,
        threads=threads,
        scale=scale,
        seconds=seconds,
        tps=float(tps.group(1)),
        latency_ms=float(latency.group(1)) if latency else float("nan"),
        command=" ".join(command),
        cpu_ms_per_txn=busy * 1000 / transactions if transactions else float("nan"),
        cores_busy=busy / elapsed,
    )
