"""A Twisted XMLVend client: POST one SOAP request, get the codec's parsed answer.

Used by the upstream utility backend (``xmlvend.upstream``), the conformance kit and
``evd client``. Never blocks the reactor; every call has an overall deadline.

* ``POST`` with ``Content-Type: text/xml; charset=utf-8`` and an empty ``SOAPAction``
  (servers must not depend on it, reference §1.3); the request body may be gzipped
  (``gzip_request``) and gzipped responses are accepted and decoded.
* HTTPS with an optional client certificate (PEM cert + key, for XMLVend's mutual TLS) and
  an optional CA bundle to trust instead of the system's.
* Errors say whether the server can have acted on the request, which is what a vending
  client needs to know to recover:

  - :class:`XMLVendConnectError`: the request was never sent (refused, DNS, connect
    timeout, TLS handshake failure) - definitively not processed;
  - :class:`XMLVendTimeout`, :class:`XMLVendTransportError`, :class:`XMLVendHTTPError`,
    :class:`XMLVendProtocolError`: the request may have been processed - recover with a
    last-response advice.

A SOAP Fault (any HTTP status) is not an error: :meth:`XMLVendClient.call` returns the
codec's :class:`~xmlvend.codec.faults.SoapFault`.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from twisted.internet import error as net_error
from twisted.internet.defer import CancelledError, Deferred, fail
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import Protocol
from twisted.internet.ssl import (
    Certificate,
    PrivateCertificate,
    optionsForClientTLS,
    platformTrust,
)
from twisted.python.failure import Failure
from twisted.web.client import (
    Agent,
    BrowserLikePolicyForHTTPS,
    ContentDecoderAgent,
    FileBodyProducer,
    GzipDecoder,
    HTTPConnectionPool,
    ResponseDone,
    ResponseFailed,
)
from twisted.web.http import PotentialDataLoss
from twisted.web.http_headers import Headers
from twisted.web.iweb import IPolicyForHTTPS, IResponse
from zope.interface import implementer

from xmlvend.codec import parse_response, render_request
from xmlvend.codec.errors import MalformedResponse
from xmlvend.codec.faults import SoapFault
from xmlvend.codec.parser import MAX_RESPONSE_BYTES
from xmlvend.codec.types_base import BaseReq, BaseResp

USER_AGENT = b"evd-xmlvend-client/1"


class XMLVendClientError(Exception):
    """Base of the client's errors. ``may_have_been_processed`` tells whether the server can
    have acted on the request (then recover with a last-response advice)."""

    may_have_been_processed = True


class XMLVendConnectError(XMLVendClientError):
    """No connection (refused, DNS, connect timeout, TLS handshake): the request was not
    sent."""

    may_have_been_processed = False


class XMLVendTimeout(XMLVendClientError):
    """No complete answer within the deadline; the connection was closed."""


class XMLVendTransportError(XMLVendClientError):
    """The connection failed after the request was (perhaps) sent."""


class XMLVendHTTPError(XMLVendClientError):
    """A non-2xx answer that is not a SOAP Fault (e.g. 503 from a proxy)."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"HTTP {status}: {body[:200]!r}")
        self.status = status
        self.body = body


class XMLVendProtocolError(XMLVendClientError):
    """An answer that is not a readable XMLVend response (or is too large)."""


@dataclass(frozen=True)
class ClientTLS:
    """TLS settings: ``ca`` (PEM bundle to trust; default the platform's), ``cert`` and
    ``key`` (PEM files of our client certificate, both or neither)."""

    ca: str = ""
    cert: str = ""
    key: str = ""


@implementer(IPolicyForHTTPS)
class _PinnedPolicy:
    """HTTPS policy with our CA bundle and client certificate (hostname still verified)."""

    def __init__(self, tls: ClientTLS) -> None:
        self._trust: Any = platformTrust()
        if tls.ca:
            with open(tls.ca, "rb") as handle:
                self._trust = Certificate.loadPEM(handle.read())
        self._client_cert = None
        if tls.cert or tls.key:
            if not (tls.cert and tls.key):
                raise ValueError("a client certificate needs both cert and key")
            with open(tls.cert, "rb") as cert, open(tls.key, "rb") as key:
                self._client_cert = PrivateCertificate.loadPEM(cert.read() + b"\n" + key.read())

    def creatorForNetloc(self, hostname: bytes, port: int) -> Any:
        return optionsForClientTLS(
            hostname.decode("ascii"), trustRoot=self._trust, clientCertificate=self._client_cert
        )


class _BodyCollector(Protocol):
    """Collects a response body up to ``limit`` bytes; more aborts the connection."""

    def __init__(self, finished: Deferred, limit: int) -> None:
        self._finished = finished
        self._limit = limit
        self._parts: list[bytes] = []
        self._size = 0
        self._too_big = False

    def dataReceived(self, data: bytes) -> None:
        if self._too_big:
            return
        self._size += len(data)
        if self._size > self._limit:
            self._too_big = True
            self.transport.stopProducing()  # type: ignore[union-attr]
            return
        self._parts.append(data)

    def connectionLost(self, reason: Failure | None = None) -> None:
        if self._finished.called:
            return
        reason = reason or Failure(ResponseDone())
        if self._too_big:
            self._finished.errback(
                XMLVendProtocolError(f"response larger than {self._limit} bytes")
            )
        elif reason.check(ResponseDone, PotentialDataLoss):
            self._finished.callback(b"".join(self._parts))
        else:
            self._finished.errback(reason)


def _is_connect_failure(failure: Failure) -> bool:
    if failure.check(net_error.ConnectError, net_error.DNSLookupError):
        return True
    # A TLS handshake that failed (bad certificate) never carried the request.
    reasons = getattr(failure.value, "reasons", None) or []
    try:
        from OpenSSL.SSL import Error as TLSError
    except ImportError:  # pragma: no cover - twisted[tls] brings pyOpenSSL
        return False
    return bool(reasons) and all(reason.check(TLSError) for reason in reasons)


class XMLVendClient:
    """One upstream XMLVend endpoint."""

    def __init__(
        self,
        reactor: IReactorTime,
        url: str,
        *,
        timeout: float = 5.0,
        connect_timeout: float | None = None,
        gzip_request: bool = False,
        accept_gzip: bool = True,
        tls: ClientTLS | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.url = url
        self.timeout = timeout
        self._reactor = reactor
        self._gzip_request = gzip_request
        self._limit = max_response_bytes
        policy: IPolicyForHTTPS = (
            _PinnedPolicy(tls) if tls and (tls.ca or tls.cert) else BrowserLikePolicyForHTTPS()
        )
        # One request per connection: a vending client must know which request a dropped
        # connection carried, and requests are rare enough for the handshake cost.
        pool = HTTPConnectionPool(reactor, persistent=False)
        agent: Any = Agent(
            reactor,
            contextFactory=policy,
            connectTimeout=connect_timeout if connect_timeout is not None else timeout,
            pool=pool,
        )
        if accept_gzip:
            agent = ContentDecoderAgent(agent, [(b"gzip", GzipDecoder)])
        self._agent = agent

    # --- raw --------------------------------------------------------------------------------

    def post(self, body: bytes, *, timeout: float | None = None) -> Deferred:
        """POST ``body``; fires with ``(status, response body)`` or an XMLVendClientError."""
        headers = Headers(
            {
                b"Content-Type": [b"text/xml; charset=utf-8"],
                b"SOAPAction": [b'""'],
                b"User-Agent": [USER_AGENT],
            }
        )
        if self._gzip_request:
            body = gzip.compress(body)
            headers.addRawHeader(b"Content-Encoding", b"gzip")
        result: Deferred = Deferred()
        timed_out = []
        request = self._agent.request(
            b"POST", self.url.encode("ascii"), headers, FileBodyProducer(io.BytesIO(body))
        )

        def read(response: IResponse) -> Deferred:
            finished: Deferred = Deferred()
            response.deliverBody(_BodyCollector(finished, self._limit))
            finished.addCallback(lambda data: (response.code, data))
            return finished

        request.addCallback(read)

        def on_timeout() -> None:
            timed_out.append(True)
            request.cancel()

        delay = self.timeout if timeout is None else timeout
        timer = self._reactor.callLater(delay, on_timeout)  # type: ignore[attr-defined]

        def done(outcome: Any) -> None:
            if timer.active():
                timer.cancel()
            if isinstance(outcome, Failure):
                result.errback(self._translate(outcome, bool(timed_out), delay))
            else:
                result.callback(outcome)

        request.addBoth(done)
        return result

    def _translate(self, failure: Failure, timed_out: bool, delay: float) -> Exception:
        if timed_out or failure.check(CancelledError):
            return XMLVendTimeout(f"no answer from {self.url} within {delay:g} s")
        if failure.check(XMLVendClientError):
            return failure.value  # type: ignore[return-value]
        if _is_connect_failure(failure):
            return XMLVendConnectError(f"cannot connect to {self.url}: {failure.value}")
        if failure.check(ResponseFailed):
            return XMLVendTransportError(f"connection to {self.url} failed: {failure.value}")
        return XMLVendTransportError(f"{self.url}: {failure.getErrorMessage()}")

    # --- XMLVend ----------------------------------------------------------------------------

    def call(self, request: BaseReq, *, timeout: float | None = None) -> Deferred:
        """Send one XMLVend request; fires with the parsed response (a ``BaseResp``
        subclass) or a :class:`SoapFault`, else fails with an XMLVendClientError."""
        try:
            body = render_request(request)
        except Exception as exc:  # a request we cannot render is a programming error
            return fail(exc)
        d = self.post(body, timeout=timeout)
        d.addCallback(self._parse)
        return d

    @staticmethod
    def _parse(status_and_body: tuple[int, bytes]) -> BaseResp | SoapFault:
        status, body = status_and_body
        try:
            parsed = parse_response(body)
        except MalformedResponse as exc:
            if 200 <= status < 300:
                raise XMLVendProtocolError(f"unreadable XMLVend response: {exc}") from None
            raise XMLVendHTTPError(status, body) from None
        if not isinstance(parsed, SoapFault) and not 200 <= status < 300:
            raise XMLVendHTTPError(status, body)
        return parsed
