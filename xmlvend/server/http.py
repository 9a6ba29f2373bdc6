"""The HTTP transport: a Site whose channels enforce the limits an internet-facing SOAP
endpoint needs before any XML is looked at.

* **Body size** (``server.max_body_bytes``): a Content-Length above the limit is answered
  413 as soon as the headers are in (no ``100 Continue``, nothing buffered); a chunked body
  is counted while it arrives and cut off at the limit the same way. The body is kept in
  memory (never a temporary file).
* **Read timeout** (``server.read_timeout_seconds``): a request must arrive completely
  (headers and body) within this time of its first byte, else 408 and the connection is
  closed -- slow-loris clients cannot hold a connection by trickling bytes. The same value
  is the idle timeout of kept-alive connections.
* ``parsePOSTFormSubmission=False``: SOAP never needs form parsing, which costs about half
  of a small POST in Twisted's default Site (stack.md §1.1).
* No Apache-style access log: the resource writes one structured line per request.

Refusals made here (413, 408) are reported to ``on_refused(status, peer)`` for the log
and the metrics.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from twisted.web import http, server
from twisted.web.resource import IResource

Refused = Callable[[int, str], None]

_REASONS = {408: b"Request Timeout", 413: b"Content Too Large"}


class XMLVendRequest(server.Request):
    """A request whose body is counted against the channel's limit as it arrives."""

    channel: XMLVendChannel

    def gotLength(self, length: int | None) -> None:
        self.content = io.BytesIO()
        self._body_bytes = 0

    def handleContentChunk(self, data: bytes) -> None:
        self._body_bytes += len(data)
        if self._body_bytes > self.channel.max_body_bytes:
            self.channel.refuse(413)
            return
        self.content.write(data)


class XMLVendChannel(http.HTTPChannel):
    """HTTP/1.1 channel with the body limit and the per-request read timeout."""

    max_body_bytes: int = 256 * 1024
    read_timeout: float = 30.0
    on_refused: Refused | None = None
    _read_timer: Any = None
    _refused = False
    _host: Any = None

    def getHost(self) -> Any:
        # Twisted asks for the local address once per request (``Request.__init__``), a
        # getsockname() system call each time; it never changes for a connection.
        if self._host is None:
            self._host = super().getHost()
        return self._host

    def dataReceived(self, data: bytes) -> None:
        if self._refused:
            return
        if self._read_timer is None and not self._handlingRequest:
            # The first byte of a request: it must be complete within read_timeout.
            self._read_timer = self.callLater(self.read_timeout, self._read_timed_out)
        super().dataReceived(data)

    def rawDataReceived(self, data: bytes) -> None:
        if not self._refused:
            super().rawDataReceived(data)

    def allHeadersReceived(self) -> None:
        if self.length is not None and self.length > self.max_body_bytes:
            self.refuse(413)
            return
        super().allHeadersReceived()

    def allContentReceived(self) -> None:
        if self._refused:
            return
        self._cancel_read_timer()
        super().allContentReceived()

    def connectionLost(self, reason: Any) -> None:
        self._cancel_read_timer()
        super().connectionLost(reason)

    def _cancel_read_timer(self) -> None:
        timer, self._read_timer = self._read_timer, None
        if timer is not None and timer.active():
            timer.cancel()

    def _read_timed_out(self) -> None:
        self._read_timer = None
        self.refuse(408)

    def refuse(self, status: int) -> None:
        """Answer ``status`` at once and close: the request is not processed."""
        if self._refused:
            return
        self._refused = True
        self._cancel_read_timer()
        text = _REASONS.get(status, b"Error")
        body = text + b"\n"
        self.transport.write(
            b"HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (status, text, len(body), body)
        )
        self.loseConnection()
        if self.on_refused is not None:
            peer = self.transport.getPeer() if self.transport is not None else None
            self.on_refused(status, str(getattr(peer, "host", "") or ""))


class XMLVendSite(server.Site):
    """The Site: our channel and request classes, the limits, no form parsing."""

    protocol = XMLVendChannel  # type: ignore[assignment]
    requestFactory = XMLVendRequest

    def __init__(
        self,
        resource: IResource,
        *,
        max_body_bytes: int,
        read_timeout: float,
        reactor: Any,
        on_refused: Refused | None = None,
    ) -> None:
        super().__init__(
            resource,
            parsePOSTFormSubmission=False,
            timeout=read_timeout,
            reactor=reactor,
        )
        self.max_body_bytes = max_body_bytes
        self.read_timeout = read_timeout
        self.on_refused = on_refused

    def buildProtocol(self, addr: Any) -> XMLVendChannel:
        channel: XMLVendChannel = super().buildProtocol(addr)
        channel.max_body_bytes = self.max_body_bytes
        channel.read_timeout = self.read_timeout
        channel.on_refused = self.on_refused
        return channel

    def log(self, request: Any) -> None:
        """No combined-format access log: one JSON line per request comes from the
        resource (xmlvend.server.accesslog)."""
