"""A small synchronous HTTP(S) client on the standard library (http.client + ssl).

The kit is a command-line tool that sends one request at a time and wants to see exactly
what came back (status, headers, raw and decoded body), so it stays off Twisted. Supports:

* HTTPS with a client certificate (PEM cert + key, XMLVend's mutual TLS) and a CA bundle to
  trust instead of the system's;
* gzip: ``Accept-Encoding: gzip`` on every POST (decoded transparently, the encoding is
  reported), optionally a gzip-compressed request body;
* a timeout per request, and "abandon": send a request and hang up without reading the
  answer, which is how a client timeout looks to the server.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import socket
import ssl
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

USER_AGENT = "evd-conformance/1"
SOAP_CONTENT_TYPE = "text/xml; charset=utf-8"
MAX_BODY = 16 * 1024 * 1024  # refuse to buffer more than this from a server


class TransportError(Exception):
    """No HTTP answer: refused, TLS handshake failure, timeout, dropped connection."""


@dataclass(frozen=True)
class TLSFiles:
    """PEM files for HTTPS: client certificate and key (mutual TLS) and the CA to trust."""

    cert: str | None = None
    key: str | None = None
    ca: str | None = None

    @property
    def has_client_cert(self) -> bool:
        return self.cert is not None


@dataclass(frozen=True)
class HttpResult:
    """One HTTP exchange as seen on the wire."""

    status: int
    reason: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes  # decoded (gunzipped when the server compressed it)
    content_encoding: str = ""
    elapsed: float = 0.0

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class HttpClient:
    """Sends requests to one endpoint URL (``http://`` or ``https://``)."""

    url: str
    timeout: float = 9.0
    tls: TLSFiles = field(default_factory=TLSFiles)

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {self.url!r}")
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._ssl_context = self._make_ssl_context(self.tls) if self._scheme == "https" else None

    @property
    def path(self) -> str:
        return self._path

    @staticmethod
    def _make_ssl_context(tls: TLSFiles) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=tls.ca)
        if tls.cert:
            context.load_cert_chain(tls.cert, tls.key)
        return context

    def with_tls(self, tls: TLSFiles) -> HttpClient:
        """The same endpoint with other TLS files (e.g. without the client certificate)."""
        return HttpClient(self.url, self.timeout, tls)

    def _connection(self, timeout: float | None) -> http.client.HTTPConnection:
        wait = self.timeout if timeout is None else timeout
        if self._ssl_context is not None:
            return http.client.HTTPSConnection(
                self._host, self._port, timeout=wait, context=self._ssl_context
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=wait)

    def post(
        self,
        body: bytes,
        *,
        soap_action: str | None = '""',
        gzip_body: bool = False,
        accept_gzip: bool = True,
        content_type: str = SOAP_CONTENT_TYPE,
        extra_headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        path: str | None = None,
    ) -> HttpResult:
        """POST ``body``; ``soap_action=None`` sends no SOAPAction header at all."""
        headers = {"Content-Type": content_type, "User-Agent": USER_AGENT}
        if soap_action is not None:
            headers["SOAPAction"] = soap_action
        if accept_gzip:
            headers["Accept-Encoding"] = "gzip"
        if gzip_body:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        headers.update(extra_headers or {})
        return self._exchange("POST", path or self._path, body, headers, timeout)

    def get(self, path_and_query: str, *, timeout: float | None = None) -> HttpResult:
        """GET another resource of the same server, e.g. ``/xmlvend?wsdl``."""
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip"}
        return self._exchange("GET", path_and_query, None, headers, timeout)

    def abandon(self, body: bytes, *, soap_action: str | None = '""') -> None:
        """Send a complete POST and close the connection without reading the answer: what
        a client that timed out looks like to the server."""
        headers = {"Content-Type": SOAP_CONTENT_TYPE, "User-Agent": USER_AGENT}
        if soap_action is not None:
            headers["SOAPAction"] = soap_action
        conn = self._connection(None)
        try:
            conn.request("POST", self._path, body, headers)
        except (OSError, http.client.HTTPException) as exc:
            raise TransportError(_describe(exc)) from None
        finally:
            conn.close()

    def _exchange(
        self,
        method: str,
        path: str,
        body: bytes | None,
        headers: dict[str, str],
        timeout: float | None,
    ) -> HttpResult:
        conn = self._connection(timeout)
        started = time.monotonic()
        try:
            # The server may answer (413) and close before it read everything we sent; its
            # answer can still be waiting in our receive buffer.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                conn.request(method, path, body, headers)
            response = conn.getresponse()
            raw = response.read(MAX_BODY + 1)
        except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
            raise TransportError(_describe(exc)) from None
        finally:
            conn.close()
        elapsed = time.monotonic() - started
        if len(raw) > MAX_BODY:
            raise TransportError(f"answer larger than {MAX_BODY} bytes")
        found = {name.lower(): value for name, value in response.getheaders()}
        encoding = found.get("content-encoding", "").strip().lower()
        try:
            decoded = _decode(raw, encoding)
        except (OSError, zlib.error, EOFError) as exc:
            raise TransportError(f"cannot decode {encoding} body: {exc}") from None
        return HttpResult(
            status=response.status,
            reason=response.reason,
            headers=found,
            body=decoded,
            content_encoding=encoding,
            elapsed=elapsed,
        )


def _decode(raw: bytes, encoding: str) -> bytes:
    if encoding in ("", "identity"):
        return raw
    if encoding in ("gzip", "x-gzip"):
        return gzip.decompress(raw)
    if encoding == "deflate":
        return zlib.decompress(raw)
    raise OSError(f"unknown content encoding {encoding!r}")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out waiting for the server"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return f"{type(exc).__name__}: {exc}"
