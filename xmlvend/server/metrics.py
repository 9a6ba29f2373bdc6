"""Prometheus metrics of the XMLVend server (text exposition format 0.0.4, ``GET /metrics``).

Label values come only from closed sets the server controls -- operation names of the
codec's catalogue, fault class names, HTTP status codes, product codes and transaction
names from our own database -- never from free request content, so no password, PIN,
token or meter number can ever appear here.

One process (``evd serve``, or ``--workers 1``) reports what it counted itself. With
``--workers N`` every worker reports the same server-wide view, whichever worker a scrape
reaches: counters, histogram buckets/sums/counts and database transaction counters summed
over all the server's workers, the in-flight gauge summed over the live ones. The workers
share :meth:`Metrics.snapshot` dicts through files (:mod:`xmlvend.server.metricsdir`);
this module holds the sans-IO part: taking a snapshot, checking one read back
(:func:`parse_snapshot`), summing them (:func:`merge_snapshots`) and rendering one
(:func:`render_snapshot`).
"""

from __future__ import annotations

import json
import math
import threading
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Container, Iterable, Mapping
from typing import Any

from xmlvend.codec import FAULT_CLASSES
from xmlvend.codec.messages import (
    ADVICE_OPERATIONS,
    REQUEST_ELEMENTS,
    UNSUPPORTED_REQUEST_ELEMENTS,
)

# Request latency buckets (seconds), around the 8 s deadline.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 8.0, 10.0,
)  # fmt: skip

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Operation label values: the codec's operations, plus what is not an operation.
KNOWN_OPERATIONS = frozenset(
    {op for _cls, op in REQUEST_ELEMENTS.values() if op}
    | set(ADVICE_OPERATIONS.values())
    | set(UNSUPPORTED_REQUEST_ELEMENTS.values())
    | {"unknown", "wsdl", "xsd", "healthz", "metrics", "none"}
)
KNOWN_FAULTS = frozenset(name.split(":")[-1] for name in FAULT_CLASSES)

# The counter families: snapshot key, metric name, help text, label names (in this order).
COUNTERS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    (
        "requests",
        "evd_xmlvend_requests_total",
        "XMLVend requests by operation and outcome.",
        ("operation", "outcome"),
    ),
    (
        "faults",
        "evd_xmlvend_faults_total",
        "SOAP faults sent, by operation and XMLVend fault class.",
        ("operation", "fault_class"),
    ),
    ("http", "evd_http_responses_total", "HTTP responses by status code.", ("status",)),
    ("vends", "evd_vends_total", "Sales completed through XMLVend, by product code.", ("product",)),
    (
        "late",
        "evd_xmlvend_late_completions_total",
        "Requests answered as delayed that finished in the background.",
        ("outcome",),
    ),
    (
        "tls",
        "evd_tls_handshake_failures_total",
        "TLS handshakes that failed (no client certificate, unknown CA, old protocol).",
        ("reason",),
    ),
)
_ARITY = {key: len(labels) for key, _name, _help, labels in COUNTERS}
_TLS_REASONS = frozenset({"no_certificate", "unknown_ca", "protocol_version", "other"})

# A snapshot: the JSON-able state of one process's metrics (see Metrics.snapshot).
Snapshot = dict[str, Any]
SNAPSHOT_FORMAT = 1


def _operation(name: str | None) -> str:
    return name if name in KNOWN_OPERATIONS else "unknown"


def _fault(name: str | None) -> str:
    return name if name in KNOWN_FAULTS else "other"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(names: tuple[str, ...], values: tuple[str, ...]) -> str:
    if not names:
        return ""
    return "{" + ",".join(f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)) + "}"


class Metrics:
    """Counters and one latency histogram; thread-safe (the renderer runs on DB threads).

    ``database_stats()`` returns the database runner's per-transaction statistics (name ->
    an object with ``count``, ``retries`` and ``failures``), exposed as the
    ``evd_db_transaction*_total`` counters; ``extra()`` returns further exposition lines,
    appended as they are (per process: they are not summed over workers).
    """

    def __init__(
        self,
        *,
        extra: Callable[[], Iterable[str]] | None = None,
        database_stats: Callable[[], Mapping[str, Any]] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, dict[tuple[str, ...], int]] = {
            key: defaultdict(int) for key in _ARITY
        }
        self._buckets: dict[str, list[int]] = {}
        self._sums: dict[str, float] = defaultdict(float)
        self._in_flight = 0
        self._extra = extra
        self._database_stats = database_stats
        self._combine: Callable[[Snapshot], Snapshot] | None = None

    def share(self, combine: Callable[[Snapshot], Snapshot] | None) -> None:
        """With several workers: :meth:`render` hands this process's snapshot to
        ``combine`` and renders the snapshot it returns (the sum over the workers)."""
        self._combine = combine

    # --- recording ----------------------------------------------------------------------------

    def request(
        self,
        *,
        operation: str | None,
        outcome: str,
        fault_class: str | None,
        http_status: int,
        seconds: float,
    ) -> None:
        op = _operation(operation)
        index = bisect_left(LATENCY_BUCKETS, seconds)
        with self._lock:
            self._counters["requests"][(op, outcome)] += 1
            self._counters["http"][(str(http_status),)] += 1
            if fault_class:
                self._counters["faults"][(op, _fault(fault_class))] += 1
            buckets = self._buckets.setdefault(op, [0] * (len(LATENCY_BUCKETS) + 1))
            buckets[index] += 1
            self._sums[op] += seconds

    def refused(self, http_status: int) -> None:
        """A request refused by the transport (413, 408) before it was read."""
        with self._lock:
            self._counters["http"][(str(http_status),)] += 1
            self._counters["requests"][("none", f"refused_{http_status}")] += 1

    def vend(self, product: str) -> None:
        with self._lock:
            self._counters["vends"][(product,)] += 1

    def late_completion(self, outcome: str) -> None:
        """A delayed request finished in the background (``ok`` or ``failed``)."""
        with self._lock:
            self._counters["late"][(outcome,)] += 1

    def tls_handshake_failed(self, reason: str) -> None:
        """A TLS handshake failed; ``reason`` is one of tls.HANDSHAKE_FAILURE_REASONS."""
        with self._lock:
            self._counters["tls"][(reason if reason in _TLS_REASONS else "other",)] += 1

    def started(self) -> None:
        with self._lock:
            self._in_flight += 1

    def finished(self) -> None:
        with self._lock:
            self._in_flight -= 1

    # --- exposition ---------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """This process's metrics as a JSON-able dict (closed label sets only)."""
        with self._lock:
            snapshot: Snapshot = {
                "format": SNAPSHOT_FORMAT,
                "counters": {
                    key: [[list(labels), count] for labels, count in sorted(values.items())]
                    for key, values in self._counters.items()
                },
                "histogram": {
                    op: {"buckets": list(counts), "sum": self._sums[op]}
                    for op, counts in sorted(self._buckets.items())
                },
                "in_flight": self._in_flight,
                "db": None,
            }
        if self._database_stats is not None:
            stats = self._database_stats()
            snapshot["db"] = {
                name: [stats[name].count, stats[name].retries, stats[name].failures]
                for name in sorted(stats)
            }
        return snapshot

    def render(self) -> bytes:
        snapshot = self.snapshot()
        if self._combine is not None:
            snapshot = self._combine(snapshot)
        lines = render_snapshot(snapshot)
        if self._extra is not None:
            lines.extend(self._extra())
        return ("\n".join(lines) + "\n").encode("utf-8")


# --- sans-IO: render, merge and check snapshots ---------------------------------------------------


def render_snapshot(snapshot: Snapshot) -> list[str]:
    """The exposition lines of a snapshot (one process's, or the sum of several)."""
    lines: list[str] = []
    counters = snapshot["counters"]
    for key, name, help_text, label_names in COUNTERS:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} counter")
        for labels, count in sorted((tuple(labels), count) for labels, count in counters[key]):
            lines.append(f"{name}{_labels(label_names, labels)} {count}")
    lines.append("# HELP evd_xmlvend_in_flight Requests being processed.")
    lines.append("# TYPE evd_xmlvend_in_flight gauge")
    lines.append(f"evd_xmlvend_in_flight {snapshot['in_flight']}")
    _histogram(lines, snapshot["histogram"])
    if snapshot.get("db") is not None:
        lines.extend(_database_lines(snapshot["db"]))
    return lines


def _histogram(lines: list[str], histogram: Mapping[str, Mapping[str, Any]]) -> None:
    name = "evd_xmlvend_request_seconds"
    lines.append(f"# HELP {name} Time from a complete request to its answer, by operation.")
    lines.append(f"# TYPE {name} histogram")
    for op in sorted(histogram):
        counts = histogram[op]["buckets"]
        running = 0
        for bound, count in zip((*LATENCY_BUCKETS, float("inf")), counts, strict=True):
            running += count
            le = "+Inf" if bound == float("inf") else repr(bound)
            lines.append(f'{name}_bucket{{operation="{op}",le="{le}"}} {running}')
        lines.append(f'{name}_sum{{operation="{op}"}} {histogram[op]["sum"]:.6f}')
        lines.append(f'{name}_count{{operation="{op}"}} {running}')


def _database_lines(db: Mapping[str, list[int]]) -> list[str]:
    out = [
        "# HELP evd_db_transactions_total Transaction functions run, by name.",
        "# TYPE evd_db_transactions_total counter",
    ]
    for name in sorted(db):
        out.append(f'evd_db_transactions_total{{name="{_escape(name)}"}} {db[name][0]}')
    out += [
        "# HELP evd_db_transaction_retries_total Transient failures retried, by name.",
        "# TYPE evd_db_transaction_retries_total counter",
    ]
    for name in sorted(db):
        out.append(f'evd_db_transaction_retries_total{{name="{_escape(name)}"}} {db[name][1]}')
    out += [
        "# HELP evd_db_transaction_failures_total Transactions that failed, by name.",
        "# TYPE evd_db_transaction_failures_total counter",
    ]
    for name in sorted(db):
        out.append(f'evd_db_transaction_failures_total{{name="{_escape(name)}"}} {db[name][2]}')
    return out


def database_metrics(stats_of: Callable[[], dict]) -> Callable[[], Iterable[str]]:
    """Exposition lines of the database runner's per-transaction statistics, for
    ``Metrics(extra=...)`` (per process; ``Metrics(database_stats=...)`` sums them over
    workers)."""

    def lines() -> Iterable[str]:
        stats = stats_of()
        return _database_lines(
            {name: [s.count, s.retries, s.failures] for name, s in stats.items()}
        )

    return lines


def merge_snapshots(
    own: Snapshot, others: Iterable[Snapshot], *, live: Container[int] = ()
) -> Snapshot:
    """The server-wide view: ``own`` (this process, live) plus the ``others`` (the other
    workers' latest snapshots, each with its ``pid``).

    Counters, histogram buckets and sums, and the database transaction counters are summed
    over all of them, those of a worker that has exited included: a Prometheus counter must
    not go down while the server runs. The database counters are summed rather than given a
    per-worker label: a scrape answers for the whole server, like every other counter here,
    the label sets stay those of one process, and worker pids would be an unbounded label.
    The in-flight gauge counts ``own`` and the others whose pid is in ``live`` only.
    """
    counters: dict[str, dict[tuple[str, ...], int]] = {key: defaultdict(int) for key in _ARITY}
    buckets: dict[str, list[int]] = {}
    sums: dict[str, float] = defaultdict(float)
    db: dict[str, list[int]] | None = None
    in_flight = 0
    for index, snapshot in enumerate((own, *others)):
        for key, values in snapshot["counters"].items():
            for labels, count in values:
                counters[key][tuple(labels)] += count
        for op, entry in snapshot["histogram"].items():
            total = buckets.setdefault(op, [0] * (len(LATENCY_BUCKETS) + 1))
            for i, count in enumerate(entry["buckets"]):
                total[i] += count
            sums[op] += entry["sum"]
        if snapshot.get("db") is not None:
            db = {} if db is None else db
            for name, values in snapshot["db"].items():
                total = db.setdefault(name, [0, 0, 0])
                for i, value in enumerate(values):
                    total[i] += value
        if index == 0 or snapshot.get("pid") in live:
            in_flight += snapshot["in_flight"]
    return {
        "format": SNAPSHOT_FORMAT,
        "counters": {
            key: [[list(labels), count] for labels, count in sorted(values.items())]
            for key, values in counters.items()
        },
        "histogram": {
            op: {"buckets": counts, "sum": sums[op]} for op, counts in sorted(buckets.items())
        },
        "in_flight": in_flight,
        "db": db,
    }


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _labels_ok(labels: Any, arity: int) -> bool:
    return (
        isinstance(labels, list)
        and len(labels) == arity
        and all(isinstance(v, str) for v in labels)
    )


def parse_snapshot(data: bytes | str) -> Snapshot | None:
    """A snapshot read back from a worker's file, or None when it is not a complete,
    well-formed one (a file being written, corrupt, or of another format)."""
    try:
        snapshot = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    try:
        if not isinstance(snapshot, dict) or snapshot.get("format") != SNAPSHOT_FORMAT:
            return None
        pid = snapshot.get("pid")
        if not _count(pid) or not isinstance(snapshot.get("final", False), bool):
            return None
        counters = snapshot["counters"]
        if not isinstance(counters, dict) or set(counters) != set(_ARITY):
            return None
        for key, values in counters.items():
            if not isinstance(values, list):
                return None
            for item in values:
                if not (
                    isinstance(item, list)
                    and len(item) == 2
                    and _labels_ok(item[0], _ARITY[key])
                    and _count(item[1])
                ):
                    return None
        histogram = snapshot["histogram"]
        if not isinstance(histogram, dict):
            return None
        for op, entry in histogram.items():
            if not isinstance(op, str) or not isinstance(entry, dict):
                return None
            counts, total = entry.get("buckets"), entry.get("sum")
            if not (
                isinstance(counts, list)
                and len(counts) == len(LATENCY_BUCKETS) + 1
                and all(_count(c) for c in counts)
                and isinstance(total, int | float)
                and not isinstance(total, bool)
                and math.isfinite(total)
            ):
                return None
        if not isinstance(snapshot["in_flight"], int) or isinstance(snapshot["in_flight"], bool):
            return None
        db = snapshot.get("db")
        if db is not None:
            if not isinstance(db, dict):
                return None
            for values in db.values():
                if not (isinstance(values, list) and len(values) == 3):
                    return None
                if not all(_count(v) for v in values):
                    return None
    except KeyError:
        return None
    return snapshot
