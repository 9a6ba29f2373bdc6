"""The web resource (``isLeaf``): everything the server answers over HTTP.

======================  ========================================================================
``POST /xmlvend``       an XMLVend 2.1 SOAP request (gzip bodies accepted) -> the response,
                        gzipped when the client accepts it; faults with HTTP 500
``GET /xmlvend?wsdl``   the WSDL with this endpoint's address and only the operations served
``GET /xmlvend?xsd=N``  the XSDs the WSDL imports (``base.xsd``, ``revenue.xsd``, ...)
``GET /healthz``        200 when the database answers and is migrated, else 503
``GET /metrics``        Prometheus text format
======================  ========================================================================

The response of a request is written only after the endpoint's Deferred fired, i.e. after
the transaction that stored it committed. A client that hung up gets nothing written.
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure
from twisted.web import server
from twisted.web.resource import Resource

from xmlvend.codec import MalformedRequest
from xmlvend.codec.envelope import CONTENT_TYPE, SOAP_1_1, SOAP_1_2
from xmlvend.codec.namespaces import SOAP12
from xmlvend.codec.schema import SCHEMA_FILES, schema_document, wsdl_document
from xmlvend.server.accesslog import AccessLog, AccessRecord
from xmlvend.server.encoding import (
    BadEncoding,
    BodyTooLarge,
    UnsupportedEncoding,
    accepts_gzip,
    decode_body,
    gzip_body,
)
from xmlvend.server.endpoint import EMERGENCY_FAULT, Endpoint, Outcome
from xmlvend.server.handlers import WSDL_OPERATIONS
from xmlvend.server.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from xmlvend.server.metrics import Metrics
from xmlvend.server.tls import peer_identities

SOAP_PATH = b"/xmlvend"
XML_CONTENT_TYPE = b"text/xml; charset=utf-8"
_SOAP12_MARK = SOAP12.encode()
_WSDL_CACHE_SIZE = 16
_UNSET = object()

log = logging.getLogger("evd.xmlvend")

HealthCheck = Callable[[], Deferred]  # -> dict of checks; errback = unhealthy


class XMLVendResource(Resource):
    """See the module docstring."""

    isLeaf = True

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        metrics: Metrics,
        access_log: AccessLog,
        health: HealthCheck,
        max_body_bytes: int,
        client_id_field: str = "CN",
        public_url: str = "",
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        super().__init__()
        self._endpoint = endpoint
        self._metrics = metrics
        self._log = access_log
        self._health = health
        self._max_body = max_body_bytes
        self._client_id_field = client_id_field
        self._public_url = public_url.rstrip("/")
        self._timer = timer
        self._wsdl_cache: OrderedDict[str, bytes] = OrderedDict()

    # --- routing -----------------------------------------------------------------------------

    def render(self, request: server.Request) -> Any:
        started = self._timer()
        path = request.path.rstrip(b"/") or b"/"
        method = request.method
        if path == SOAP_PATH:
            if method == b"POST":
                return self._soap(request, started)
            if method in (b"GET", b"HEAD"):
                return self._publish(request, started)
            return self._plain(request, started, 405, b"use POST for SOAP, GET for ?wsdl\n")
        if path == b"/healthz" and method in (b"GET", b"HEAD"):
            return self._healthz(request, started)
        if path == b"/metrics" and method in (b"GET", b"HEAD"):
            body = self._metrics.render()
            request.setHeader(b"Content-Type", METRICS_CONTENT_TYPE.encode())
            return self._finish_get(request, started, 200, body, "metrics")
        return self._plain(request, started, 404, b"not found\n")

    # --- SOAP ----------------------------------------------------------------------------------

    def _soap(self, request: server.Request, started: float) -> Any:
        raw = _read_body(request, self._max_body)
        if raw is None:  # only behind a plain Site: ours refuses while reading
            return self._plain(request, started, 413, b"request body too large\n")
        try:
            body = decode_body(raw, request.getHeader(b"Content-Encoding"), self._max_body)
        except BodyTooLarge:
            return self._plain(request, started, 413, b"request body too large\n")
        except UnsupportedEncoding as exc:
            return self._plain(request, started, 415, f"{exc}\n".encode())
        except BadEncoding as exc:
            body = b""
            bad_encoding: Exception | None = MalformedRequest(f"the request body: {exc}")
        else:
            bad_encoding = None
        finished = request.notifyFinish()
        gone: list[Failure] = []
        finished.addErrback(gone.append)
        self._metrics.started()
        if bad_encoding is not None:
            outcome = self._endpoint.fault_outcome(None, bad_encoding, operation="unknown")
            d: Deferred = Deferred()
            d.callback(outcome)
        else:
            try:
                d = self._endpoint.handle(body, self._identities(request), _peer(request))
            except Exception as exc:  # never expected: the endpoint answers every failure
                d = Deferred()
                d.errback(exc)

        def respond(outcome: Outcome) -> None:
            self._metrics.finished()
            self._answer(request, started, outcome, gone)

        def broken(failure: Failure) -> None:  # never expected: the endpoint answers faults
            self._metrics.finished()
            try:  # a generic SystemEx; the details are logged with its incident number
                outcome = self._endpoint.fault_outcome(
                    None, failure.value, failure=failure, operation="unknown"
                )
            except Exception:
                outcome = Outcome(EMERGENCY_FAULT, 500, "unknown", "fault", "SystemEx")
            self._answer(request, started, outcome, gone)

        d.addCallbacks(respond, broken)
        return server.NOT_DONE_YET

    def _identities(self, request: server.Request) -> frozenset[str] | None:
        """The client certificate's clientID values, looked up once per connection."""
        channel = request.channel
        cached = getattr(channel, "_evd_client_identities", _UNSET)
        if cached is _UNSET:
            cached = peer_identities(channel.transport, self._client_id_field)
            channel._evd_client_identities = cached
        return cached  # type: ignore[return-value]

    def _answer(
        self, request: server.Request, started: float, outcome: Outcome, gone: list[Failure]
    ) -> None:
        body = outcome.body
        version = SOAP_1_2 if _SOAP12_MARK in body[:400] else SOAP_1_1
        written = 0
        if not gone and not request.finished:
            request.setResponseCode(outcome.status)
            request.setHeader(b"Content-Type", CONTENT_TYPE[version].encode())
            written = self._write(request, body)
        latency = self._timer() - started
        self._metrics.request(
            operation=outcome.operation,
            outcome=outcome.outcome if not gone else "client_gone",
            fault_class=outcome.fault_class,
            http_status=outcome.status,
            seconds=latency,
        )
        self._log.write(
            AccessRecord(
                client_id=outcome.client_id,
                msg_id=outcome.msg_id,
                operation=outcome.operation,
                outcome=outcome.outcome if not gone else "client_gone",
                fault_class=outcome.fault_class,
                latency_ms=latency * 1000,
                http_status=outcome.status,
                peer=_peer(request),
                response_bytes=written,
                incident=outcome.incident,
            )
        )

    def _write(self, request: server.Request, body: bytes) -> int:
        """Write ``body`` (gzipped when the client accepts it) and finish; bytes written."""
        request.setHeader(b"Vary", b"Accept-Encoding")
        if accepts_gzip(request.getHeader(b"Accept-Encoding")):
            body = gzip_body(body)
            request.setHeader(b"Content-Encoding", b"gzip")
        request.setHeader(b"Content-Length", str(len(body)).encode())
        if request.method != b"HEAD":
            request.write(body)
        request.finish()
        return len(body)

    # --- WSDL and XSDs ---------------------------------------------------------------------------

    def _publish(self, request: server.Request, started: float) -> Any:
        args = _query(request.uri)
        endpoint_url = self._endpoint_url(request)
        if "wsdl" in args:
            body = self._wsdl(endpoint_url)
            request.setHeader(b"Content-Type", XML_CONTENT_TYPE)
            return self._finish_get(request, started, 200, body, "wsdl")
        if "xsd" in args:
            name = args["xsd"]
            if name not in SCHEMA_FILES:
                return self._plain(request, started, 404, b"no such schema\n", "xsd")
            body = schema_document(name, endpoint_url + "?xsd=")
            request.setHeader(b"Content-Type", XML_CONTENT_TYPE)
            return self._finish_get(request, started, 200, body, "xsd")
        text = f"XMLVend 2.1 endpoint. WSDL: {endpoint_url}?wsdl\n".encode()
        return self._plain(request, started, 200, text, "wsdl")

    def _endpoint_url(self, request: server.Request) -> str:
        """``server.public_url`` + /xmlvend, else this request's own scheme and Host."""
        if self._public_url:
            base = self._public_url
            return base if base.endswith("/xmlvend") else base + "/xmlvend"
        scheme = "https" if request.isSecure() else "http"
        host = (request.getHeader(b"Host") or b"").decode("ascii", "replace").strip()
        if not host or any(ch in host for ch in "/\\\"'<> "):
            address = request.getHost()
            host = f"{address.host}:{address.port}"
        return f"{scheme}://{host}/xmlvend"

    def _wsdl(self, endpoint_url: str) -> bytes:
        cached = self._wsdl_cache.get(endpoint_url)
        if cached is None:
            cached = wsdl_document(
                endpoint_url, operations=WSDL_OPERATIONS, schema_base_url=endpoint_url + "?xsd="
            )
            self._wsdl_cache[endpoint_url] = cached
            while len(self._wsdl_cache) > _WSDL_CACHE_SIZE:  # Host is the client's to choose
                self._wsdl_cache.popitem(last=False)
        return cached

    # --- health ----------------------------------------------------------------------------------

    def _healthz(self, request: server.Request, started: float) -> Any:
        finished = request.notifyFinish()
        gone: list[Failure] = []
        finished.addErrback(gone.append)

        def healthy(checks: dict[str, Any]) -> None:
            self._json(request, started, 200, {"status": "ok", **checks}, gone)

        def unhealthy(failure: Failure) -> None:
            log.warning("health check failed: %s", failure.value)
            self._json(
                request, started, 503, {"status": "unavailable", "error": _reason(failure)}, gone
            )

        self._health().addCallbacks(healthy, unhealthy)
        return server.NOT_DONE_YET

    def _json(
        self,
        request: server.Request,
        started: float,
        status: int,
        data: dict[str, Any],
        gone: list[Failure],
    ) -> None:
        if gone or request.finished:
            return
        request.setHeader(b"Content-Type", b"application/json")
        self._finish_get(request, started, status, json.dumps(data).encode() + b"\n", "healthz")

    # --- plain answers ---------------------------------------------------------------------------

    def _plain(
        self,
        request: server.Request,
        started: float,
        status: int,
        text: bytes,
        operation: str = "none",
    ) -> Any:
        request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
        if status >= 400 and status != 404:
            request.setHeader(b"Connection", b"close")
        return self._finish_get(request, started, status, text, operation)

    def _finish_get(
        self, request: server.Request, started: float, status: int, body: bytes, operation: str
    ) -> Any:
        request.setResponseCode(status)
        written = self._write(request, body)
        latency = self._timer() - started
        outcome = "ok" if status < 400 else f"http_{status}"
        self._metrics.request(
            operation=operation,
            outcome=outcome,
            fault_class=None,
            http_status=status,
            seconds=latency,
        )
        self._log.write(
            AccessRecord(
                client_id=None,
                msg_id=None,
                operation=operation,
                outcome=outcome,
                fault_class=None,
                latency_ms=latency * 1000,
                http_status=status,
                method=request.method.decode("ascii", "replace"),
                path=request.path.decode("ascii", "replace")[:64],
                peer=_peer(request),
                response_bytes=written,
            )
        )
        return server.NOT_DONE_YET


def _read_body(request: server.Request, limit: int) -> bytes | None:
    """The request body, or None when it is larger than ``limit``. Our XMLVendSite keeps
    bodies in memory and refuses big ones while reading; a plain Site (a wrapper such as the
    utility simulator) may have spooled a big body to a temporary file."""
    content = request.content
    if content is None:
        return b""
    content.seek(0)
    data = content.read(limit + 1)
    return None if len(data) > limit else data


def _query(uri: bytes) -> dict[str, str]:
    """The query of ``uri`` with case-insensitive names; ``?wsdl`` (no value) included."""
    _, _, query = uri.partition(b"?")
    found: dict[str, str] = {}
    for item in query.split(b"&"):
        name, _, value = item.partition(b"=")
        if name:
            found.setdefault(
                unquote(name.decode("latin-1")).lower(), unquote(value.decode("latin-1"))
            )
    return found


def _peer(request: server.Request) -> str | None:
    try:
        return str(request.getClientAddress().host)
    except Exception:
        return None


def _reason(failure: Failure) -> str:
    """What /healthz tells anyone who asks: the kind of failure, never connection details
    (those go to the log)."""
    value = failure.value
    if isinstance(value, HealthProblem):
        return str(value)
    return f"database unavailable ({type(value).__name__})"


class HealthProblem(Exception):
    """A health check failed for a reason that is safe to show (e.g. not migrated)."""
