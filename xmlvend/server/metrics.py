"""Prometheus metrics of the XMLVend server (text exposition format 0.0.4, ``GET /metrics``).

Label values come only from closed sets the server controls -- operation names of the
codec's catalogue, fault class names, HTTP status codes, product codes and transaction
names from our own database -- never from free request content, so no password, PIN,
token or meter number can ever appear here. Counters are per process: with ``--workers N``
each worker counts its own requests (scrape with the ``instance`` of each, or sum).
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterable

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
    """Counters and one latency histogram; thread-safe (the renderer runs on DB threads)."""

    def __init__(self, *, extra: Callable[[], Iterable[str]] | None = None) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str], int] = defaultdict(int)
        self._faults: dict[tuple[str, str], int] = defaultdict(int)
        self._http: dict[tuple[str], int] = defaultdict(int)
        self._vends: dict[tuple[str], int] = defaultdict(int)
        self._late: dict[tuple[str], int] = defaultdict(int)
        self._buckets: dict[str, list[int]] = {}
        self._sums: dict[str, float] = defaultdict(float)
        self._in_flight = 0
        self._extra = extra

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
            self._requests[(op, outcome)] += 1
            self._http[(str(http_status),)] += 1
            if fault_class:
                self._faults[(op, _fault(fault_class))] += 1
            buckets = self._buckets.setdefault(op, [0] * (len(LATENCY_BUCKETS) + 1))
            buckets[index] += 1
            self._sums[op] += seconds

    def refused(self, http_status: int) -> None:
        """A request refused by the transport (413, 408) before it was read."""
        with self._lock:
            self._http[(str(http_status),)] += 1
            self._requests[("none", f"refused_{http_status}")] += 1

    def vend(self, product: str) -> None:
        with self._lock:
            self._vends[(product,)] += 1

    def late_completion(self, outcome: str) -> None:
        """A delayed request finished in the background (``ok`` or ``failed``)."""
        with self._lock:
            self._late[(outcome,)] += 1

    def started(self) -> None:
        with self._lock:
            self._in_flight += 1

    def finished(self) -> None:
        with self._lock:
            self._in_flight -= 1

    # --- exposition ---------------------------------------------------------------------------

    def render(self) -> bytes:
        with self._lock:
            lines: list[str] = []
            _counter(
                lines,
                "evd_xmlvend_requests_total",
                "XMLVend requests by operation and outcome.",
                ("operation", "outcome"),
                self._requests,
            )
            _counter(
                lines,
                "evd_xmlvend_faults_total",
                "SOAP faults sent, by operation and XMLVend fault class.",
                ("operation", "fault_class"),
                self._faults,
            )
            _counter(
                lines,
                "evd_http_responses_total",
                "HTTP responses by status code.",
                ("status",),
                self._http,
            )
            _counter(
                lines,
                "evd_vends_total",
                "Sales completed through XMLVend, by product code.",
                ("product",),
                self._vends,
            )
            _counter(
                lines,
                "evd_xmlvend_late_completions_total",
                "Requests answered as delayed that finished in the background.",
                ("outcome",),
                self._late,
            )
            lines.append("# HELP evd_xmlvend_in_flight Requests being processed.")
            lines.append("# TYPE evd_xmlvend_in_flight gauge")
            lines.append(f"evd_xmlvend_in_flight {self._in_flight}")
            self._histogram(lines)
        if self._extra is not None:
            lines.extend(self._extra())
        return ("\n".join(lines) + "\n").encode("utf-8")

    def _histogram(self, lines: list[str]) -> None:
        name = "evd_xmlvend_request_seconds"
        lines.append(f"# HELP {name} Time from a complete request to its answer, by operation.")
        lines.append(f"# TYPE {name} histogram")
        for op in sorted(self._buckets):
            counts = self._buckets[op]
            running = 0
            for bound, count in zip((*LATENCY_BUCKETS, float("inf")), counts, strict=True):
                running += count
                le = "+Inf" if bound == float("inf") else repr(bound)
                lines.append(f'{name}_bucket{{operation="{op}",le="{le}"}} {running}')
            lines.append(f'{name}_sum{{operation="{op}"}} {self._sums[op]:.6f}')
            lines.append(f'{name}_count{{operation="{op}"}} {running}')


def _counter(
    lines: list[str],
    name: str,
    help_text: str,
    label_names: tuple[str, ...],
    values: dict,
) -> None:
    lines.append(f"# HELP {name} {help_text}")
    lines.append(f"# TYPE {name} counter")
    for labels, count in sorted(values.items()):
        lines.append(f"{name}{_labels(label_names, labels)} {count}")


def database_metrics(stats_of: Callable[[], dict]) -> Callable[[], Iterable[str]]:
    """Exposition lines of the database runner's per-transaction statistics."""

    def lines() -> Iterable[str]:
        stats = stats_of()
        out = [
            "# HELP evd_db_transactions_total Transaction functions run, by name.",
            "# TYPE evd_db_transactions_total counter",
        ]
        for name in sorted(stats):
            out.append(f'evd_db_transactions_total{{name="{_escape(name)}"}} {stats[name].count}')
        out += [
            "# HELP evd_db_transaction_retries_total Transient failures retried, by name.",
            "# TYPE evd_db_transaction_retries_total counter",
        ]
        for name in sorted(stats):
            out.append(
                f'evd_db_transaction_retries_total{{name="{_escape(name)}"}} {stats[name].retries}'
            )
        out += [
            "# HELP evd_db_transaction_failures_total Transactions that failed, by name.",
            "# TYPE evd_db_transaction_failures_total counter",
        ]
        for name in sorted(stats):
            label = _escape(name)
            out.append(
                f'evd_db_transaction_failures_total{{name="{label}"}} {stats[name].failures}'
            )
        return out

    return lines
