"""One structured log line per request (logger ``evd.xmlvend.access``).

The line holds who asked and what happened -- clientID, msgID, operation, outcome, fault
class, latency, HTTP status -- and nothing secret: no password, PIN, token or request body
is ever passed to this module. Fields are fixed; values that come from the request
(clientID, msgID) are cut to a sane length so a client cannot flood the log.

``evd serve`` writes these lines to stdout as JSON (``logging.json = true``) or as
``key=value`` text.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from vending.access_records import write_access

ACCESS_LOGGER = "evd.xmlvend.access"
_FIELD_MAX = 64
# One encoder for every line: ``json.dumps`` with any non-default option builds a new
# JSONEncoder per call (a tenth of a line's formatting). Same options, same output.
_LINE_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)


@dataclass(frozen=True)
class AccessRecord:
    """The facts of one answered request."""

    client_id: str | None
    msg_id: str | None
    operation: str
    outcome: str  # ok, replayed, fault, delayed, refused, not_found, ...
    fault_class: str | None
    latency_ms: float
    http_status: int
    method: str = "POST"
    path: str = "/xmlvend"
    peer: str | None = None
    response_bytes: int = 0
    incident: str | None = None

    def fields(self) -> dict[str, object]:
        # Every field by hand, in declaration order (dataclasses.asdict copies each value
        # recursively: a tenth of a request's logging cost, for flat strings and numbers).
        return {
            "client_id": _cut(self.client_id),
            "msg_id": _cut(self.msg_id),
            "operation": self.operation,
            "outcome": self.outcome,
            "fault_class": self.fault_class,
            "latency_ms": round(self.latency_ms, 3),
            "http_status": self.http_status,
            "method": self.method,
            "path": self.path,
            "peer": _cut(self.peer),
            "response_bytes": self.response_bytes,
            "incident": self.incident,
        }


def _cut(value: str | None) -> str | None:
    return value[:_FIELD_MAX] if isinstance(value, str) else value


class AccessLog:
    """Writes :class:`AccessRecord` lines to the access logger."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._logger = logger or logging.getLogger(ACCESS_LOGGER)

    def write(self, record: AccessRecord) -> None:
        write_access(self._logger, "xmlvend request", record.fields())


class JSONLineFormatter(logging.Formatter):
    """Access records as one JSON object per line; other records as JSON too."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        access = getattr(record, "access", None)
        if isinstance(access, dict):
            line: dict[str, object] = {
                "ts": moment,
                "event": "request",
                "pid": record.process,  # which worker, with --workers N
                **access,
            }
        else:
            line = {
                "ts": moment,
                "event": "log",
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
            }
            if record.exc_info:
                line["exception"] = self.formatException(record.exc_info)
        return _LINE_ENCODER.encode(line)


class KeyValueFormatter(logging.Formatter):
    """Access records as ``key=value`` text (``logging.json = false``)."""

    def format(self, record: logging.LogRecord) -> str:
        access = getattr(record, "access", None)
        if not isinstance(access, dict):
            return super().format(record)
        pairs = " ".join(f"{k}={json.dumps(v)}" for k, v in access.items() if v is not None)
        return f"{self.formatTime(record)} request {pairs}"
