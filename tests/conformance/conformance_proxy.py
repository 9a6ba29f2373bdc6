"""A deliberately broken XMLVend server: a proxy in front of our correct server that injects
one defect into what passes through, so that the matching conformance cases must fail.

Each defect is a small object with two hooks: ``request`` (may rewrite the body going to the
real server) and ``response`` (may rewrite status and body coming back). Everything else is
passed through untouched, so a defect breaks exactly one rule.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from tools.conformance.reply import read_reply
from tools.conformance.transport import HttpResult

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


@dataclass
class Exchange:
    """What the defect sees of one request and its answer (bodies never gzipped here)."""

    method: str
    path: str
    request: bytes
    request_headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    status: int = 0
    response: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    notes: dict[str, object] = field(default_factory=dict)  # for the defect's own use


class Defect:
    """No defect: a transparent proxy. Subclasses override one or both hooks."""

    name = "none"

    def request(self, exchange: Exchange) -> None:
        """Rewrite ``exchange.request`` before it goes to the real server."""

    def response(self, exchange: Exchange) -> None:
        """Rewrite ``exchange.status`` / ``.response`` / ``.headers`` on the way back."""


def is_fault(body: bytes) -> bool:
    return b":Fault>" in body or b"<Fault>" in body


def element_of(body: bytes) -> str:
    """Local name of the Body's first element (``creditVendReq``...), '' when unreadable."""
    match = re.search(rb"<(?:\w+:)?Body[^>]*>\s*<(?:\w+:)?(\w+)", body)
    return match.group(1).decode() if match else ""


def status_for(body: bytes) -> int:
    try:
        reply = read_reply(HttpResult(200, "", {}, body))
    except ValueError:
        return 200
    return 500 if reply.is_fault else 200


@contextmanager
def broken_server(upstream: str, defect: Defect) -> Iterator[str]:
    """Serve ``defect`` in front of ``upstream`` (the real endpoint URL); yields the URL to
    point the kit at (same path as upstream)."""
    target = urlsplit(upstream)
    lock = threading.Lock()  # defects keep state; one exchange at a time is enough here

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _forward(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            headers = {
                k.lower(): v
                for k, v in self.headers.items()
                if k.lower() not in HOP_BY_HOP | {"content-encoding"}
            }
            exchange = Exchange(method, self.path, body, headers)
            with lock:
                defect.request(exchange)
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                try:
                    # A server refusing an oversized body answers (413) and closes while
                    # the body is still being sent: read its answer anyway.
                    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                        conn.request(
                            method, self.path, exchange.request or None, exchange.request_headers
                        )
                    answer = conn.getresponse()
                    exchange.status = answer.status
                    exchange.response = answer.read()
                    exchange.headers = {
                        k: v for k, v in answer.getheaders() if k.lower() not in HOP_BY_HOP
                    }
                finally:
                    conn.close()
                zipped = exchange.headers.pop("Content-Encoding", "") == "gzip"
                if zipped:
                    exchange.response = gzip.decompress(exchange.response)
                defect.response(exchange)
                if zipped:  # as the real server answered: the client accepted gzip
                    exchange.response = gzip.compress(exchange.response)
                    exchange.headers["Content-Encoding"] = "gzip"
            self.send_response(exchange.status)
            for name, value in exchange.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(exchange.response)))
            self.end_headers()
            self.wfile.write(exchange.response)

        def do_POST(self) -> None:
            self._forward("POST")

        def do_GET(self) -> None:
            self._forward("GET")

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}{target.path}"
    finally:
        httpd.shutdown()
        httpd.server_close()
