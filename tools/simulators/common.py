"""What both simulators share: latency, a 503 outage, hung answers, the control endpoint."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from twisted.web.server import NOT_DONE_YET

CONTROL = b"_control"


@dataclass
class SimSettings:
    latency: float = 0.0
    # Seconds a "hung" answer (targets ending in 3) is held back: beyond any client timeout.
    hang: float = 30.0
    outage: bool = False


def reply_later(reactor: Any, request: Any, delay: float, produce: Any) -> Any:
    """Answer ``request`` with ``produce()`` (status, content type, body) after ``delay``."""
    gone: list[bool] = []
    request.notifyFinish().addErrback(lambda _f: gone.append(True))

    def send() -> None:
        if gone:
            return
        status, content_type, body = produce()
        request.setResponseCode(status)
        request.setHeader(b"Content-Type", content_type)
        request.write(body)
        request.finish()

    if delay <= 0:
        status, content_type, body = produce()
        request.setResponseCode(status)
        request.setHeader(b"Content-Type", content_type)
        return body
    reactor.callLater(delay, send)
    return NOT_DONE_YET


def json_body(status: int, data: Any) -> tuple[int, bytes, bytes]:
    return status, b"application/json", json.dumps(data).encode()


def arg(request: Any, name: str) -> str:
    values = request.args.get(name.encode())
    return values[0].decode("utf-8", "replace") if values else ""
