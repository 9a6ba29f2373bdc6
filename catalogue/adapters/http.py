"""A small Twisted HTTP client for provider protocols: one request with an overall
timeout, the answer's status and body (size-limited), and the one distinction a vending
client needs: :class:`~catalogue.interface.ProviderUnavailable` when the request certainly
never reached the provider (refused, DNS, connect timeout) or the provider said so (HTTP
503), :class:`ProviderTimeout` / :class:`ProviderTransportError` when it may have acted."""

from __future__ import annotations

import io
from typing import Any

from twisted.internet import error as net_error
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from twisted.web.client import (
    Agent,
    FileBodyProducer,
    HTTPConnectionPool,
    ResponseDone,
)
from twisted.web.http import PotentialDataLoss
from twisted.web.http_headers import Headers

from catalogue.interface import ProviderUnavailable

MAX_RESPONSE_BYTES = 256 * 1024
USER_AGENT = b"evd-catalogue/1"


class ProviderTimeout(Exception):
    """No answer in time: the provider may have acted (the outcome is unknown)."""


class ProviderTransportError(Exception):
    """The connection failed after the request was sent, or the answer was unusable."""


class _Collector(Protocol):
    def __init__(self, finished: Deferred, limit: int) -> None:
        self._finished = finished
        self._limit = limit
        self._parts: list[bytes] = []
        self._size = 0

    def dataReceived(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self._limit:
            self.transport.stopProducing()  # type: ignore[union-attr]
            if not self._finished.called:
                self._finished.errback(ProviderTransportError("answer too large"))
            return
        self._parts.append(data)

    def connectionLost(self, reason: Failure | None = None) -> None:
        if self._finished.called:
            return
        if reason is None or reason.check(ResponseDone, PotentialDataLoss):
            self._finished.callback(b"".join(self._parts))
        else:
            self._finished.errback(reason)


class HttpChannel:
    """Requests to one provider base URL over a persistent connection pool."""

    def __init__(self, reactor: Any, base_url: str, timeout: float, *, max_in_flight: int = 64):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._reactor = reactor
        pool = HTTPConnectionPool(reactor, persistent=True)
        pool.maxPersistentPerHost = max_in_flight
        pool.retryAutomatically = False
        self._agent = Agent(reactor, connectTimeout=timeout, pool=pool)
        self._pool = pool

    def request(
        self,
        method: bytes,
        path: str,
        body: bytes | None = None,
        headers: dict[bytes, bytes] | None = None,
    ) -> Deferred:
        """Fires with ``(status, body)``; fails with ProviderUnavailable, ProviderTimeout or
        ProviderTransportError."""
        all_headers = Headers({b"User-Agent": [USER_AGENT]})
        for name, value in (headers or {}).items():
            all_headers.addRawHeader(name, value)
        producer = FileBodyProducer(io.BytesIO(body)) if body is not None else None
        url = (self.base_url + path).encode("ascii")
        request = self._agent.request(method, url, all_headers, producer)
        timed_out: list[bool] = []

        def read(response: Any) -> Deferred:
            finished: Deferred = Deferred()
            response.deliverBody(_Collector(finished, MAX_RESPONSE_BYTES))
            finished.addCallback(lambda data: (response.code, data))
            return finished

        request.addCallback(read)

        def on_timeout() -> None:
            timed_out.append(True)
            request.cancel()

        timer = self._reactor.callLater(self.timeout, on_timeout)
        result: Deferred = Deferred()

        def done(outcome: Any) -> None:
            if timer.active():
                timer.cancel()
            if isinstance(outcome, Failure):
                result.errback(self._translate(outcome, bool(timed_out)))
            elif outcome[0] == 503:
                result.errback(ProviderUnavailable(f"{self.base_url}: HTTP 503"))
            else:
                result.callback(outcome)

        request.addBoth(done)
        return result

    def _translate(self, failure: Failure, timed_out: bool) -> Exception:
        if failure.check(net_error.ConnectError, net_error.DNSLookupError):
            return ProviderUnavailable(f"cannot connect to {self.base_url}: {failure.value}")
        if timed_out or failure.check(CancelledError):
            return ProviderTimeout(f"no answer from {self.base_url} within {self.timeout:g} s")
        if failure.check(ProviderTransportError):
            return failure.value  # type: ignore[return-value]
        return ProviderTransportError(f"{self.base_url}: {failure.getErrorMessage()}")

    def close(self) -> Deferred:
        return self._pool.closeCachedConnections()
