"""The JSON API's Twisted resource (a leaf under ``/api``): reads the request, hands it
to :class:`jsonapi.api.JsonApi`, writes the answer. The Site's limits (body size, read
timeout) are XMLVend's Site's, which this resource is mounted in."""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import parse_qs

from twisted.internet.defer import ensureDeferred
from twisted.web import server
from twisted.web.resource import Resource

from jsonapi.api import Answer, Incoming, JsonApi
from vending.access_records import write_access

# One structured line per request, beside XMLVend's on the access stream (``evd serve``
# writes both loggers' records to stdout, as JSON or key=value): method, path without its
# query, status, latency, peer, size -- never a header, the body or the query string.
ACCESS_LOGGER = "evd.jsonapi.access"
access_log = logging.getLogger(ACCESS_LOGGER)
_FIELD_MAX = 128  # a request's path, cut: a client cannot flood the log


def log_access(
    method: str, path: str, status: int, latency_ms: float, peer: str | None, size: int
) -> None:
    """The request's access record (``extra["access"]``, as XMLVend's)."""
    fields: dict[str, object] = {
        "method": method[:16],
        "path": path[:_FIELD_MAX],
        "http_status": status,
        "latency_ms": round(latency_ms, 3),
        "peer": peer,
        "response_bytes": size,
    }
    write_access(access_log, "json api request", fields)


class JsonApiResource(Resource):
    isLeaf = True

    def __init__(self, api: JsonApi) -> None:
        super().__init__()
        self._api = api

    def render(self, request: server.Request) -> Any:
        started = time.perf_counter()
        uri = request.uri.decode("latin-1")
        raw_path, _, raw_query = uri.partition("?")
        try:
            path = request.path.decode("utf-8").rstrip("/") or "/"
            query = parse_qs(raw_query, keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            path, query = raw_path, {}
        headers = {
            name.decode("latin-1").lower(): values[0]
            for name, values in request.requestHeaders.getAllRawHeaders()
        }
        body = request.content.read() if request.content is not None else b""
        peer = request.getClientAddress()
        incoming = Incoming(
            request.method.decode("latin-1"),
            path,
            query,
            headers,
            body,
            address=getattr(peer, "host", None),
        )
        gone: list[bool] = []
        request.notifyFinish().addErrback(lambda _: gone.append(True))

        def write(answer: Answer) -> None:
            if gone:
                return  # the client hung up; the work (and its stored answer) stands
            request.setResponseCode(answer.status)
            for name, value in answer.headers:
                request.setHeader(name, value)
            request.setHeader(b"Cache-Control", b"no-store")
            if answer.status != 204:
                request.setHeader(b"Content-Type", answer.content_type)
                request.setHeader(b"Content-Length", str(len(answer.body)).encode())
                request.write(answer.body)
            request.finish()
            log_access(
                incoming.method,
                raw_path,
                answer.status,
                (time.perf_counter() - started) * 1000,
                incoming.address,
                len(answer.body) if answer.status != 204 else 0,
            )

        def crashed(failure: Any) -> None:
            write(self._api.problem_answer(failure.value, incoming))

        ensureDeferred(self._api.handle(incoming)).addCallback(write).addErrback(crashed)
        return server.NOT_DONE_YET
