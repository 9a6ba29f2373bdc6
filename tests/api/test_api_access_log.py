"""The JSON API's access line: one structured record per answered request on the access
stream beside XMLVend's (``evd serve`` writes both to stdout), with what an operator needs --
method, path, status, latency, peer, size -- and never a header, the body or the query."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from io import BytesIO

import pytest
from twisted.internet.address import IPv4Address
from twisted.web import server
from twisted.web.test.requesthelper import DummyRequest

from jsonapi.api import Answer, Incoming
from jsonapi.resource import ACCESS_LOGGER, JsonApiResource
from xmlvend.server.accesslog import JSONLineFormatter

SECRET = "s3cr3t-token-value"


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JSONLineFormatter())
        self.lines: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


class _Api:
    """Answers every request 201 with a small document."""

    seen: list[Incoming]

    def __init__(self) -> None:
        self.seen = []

    async def handle(self, incoming: Incoming) -> Answer:
        self.seen.append(incoming)
        return Answer.json(201, {"status": "completed"})

    def problem_answer(self, error: BaseException, incoming: Incoming) -> Answer:
        raise AssertionError(f"unexpected: {error!r}")


@pytest.fixture
def lines() -> Iterator[_Lines]:
    logger = logging.getLogger(ACCESS_LOGGER)
    handler = _Lines()
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


def _post(api: _Api) -> DummyRequest:
    request = DummyRequest([b"api", b"v1", b"sales"])
    request.method = b"POST"
    request.uri = f"/api/v1/sales?token={SECRET}".encode()
    request.path = b"/api/v1/sales"  # type: ignore[attr-defined]
    request.content = BytesIO(f'{{"pin": "{SECRET}"}}'.encode())
    request.client = IPv4Address("TCP", "192.168.1.1", 40512)
    request.requestHeaders.setRawHeaders(b"authorization", [f"Bearer {SECRET}".encode()])
    assert JsonApiResource(api).render(request) is server.NOT_DONE_YET  # type: ignore[arg-type]
    return request


def test_one_structured_line_per_answered_request(lines: _Lines) -> None:
    api = _Api()
    request = _post(api)
    assert request.finished and request.responseCode == 201
    (line,) = lines.lines
    assert line["event"] == "request"
    assert {k: line[k] for k in ("method", "path", "http_status", "peer", "response_bytes")} == {
        "method": "POST",
        "path": "/api/v1/sales",
        "http_status": 201,
        "peer": "192.168.1.1",
        "response_bytes": len(b"".join(request.written)),
    }
    assert isinstance(line["latency_ms"], float) and line["latency_ms"] >= 0
    assert SECRET not in json.dumps(line)
    assert api.seen[0].body  # the body reached the API, not the log


def test_no_line_below_info(lines: _Lines) -> None:
    logging.getLogger(ACCESS_LOGGER).setLevel(logging.WARNING)
    _post(_Api())
    assert lines.lines == []
