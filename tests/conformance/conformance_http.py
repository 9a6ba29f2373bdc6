"""A tiny threaded HTTP server for the kit's tests: each POST is answered by a function of
the request (path, headers, body), so a test can play any server, correct or broken."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Seen:
    """A request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/xml"})


Handler = Callable[[Seen], Answer]


@dataclass
class Served:
    url: str
    seen: list[Seen]


@contextmanager
def serve(handler: Handler, *, path: str = "/xmlvend") -> Iterator[Served]:
    """Run ``handler`` behind http://127.0.0.1:PORT``path`` until the block ends."""
    seen: list[Seen] = []

    class RequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _handle(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            request = Seen(method, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            seen.append(request)
            try:
                answer = handler(request)
            except ConnectionAbortedError:
                self.close_connection = True
                return
            payload = answer.body
            headers = dict(answer.headers)
            if "gzip" in (self.headers.get("Accept-Encoding") or "") and headers.pop(
                "X-Gzip", None
            ):
                payload = gzip.compress(payload)
                headers["Content-Encoding"] = "gzip"
            try:
                self.send_response(answer.status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client hung up (abandon test)

        def do_POST(self) -> None:
            self._handle("POST")

        def do_GET(self) -> None:
            self._handle("GET")

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield Served(f"http://127.0.0.1:{httpd.server_address[1]}{path}", seen)
    finally:
        httpd.shutdown()
        httpd.server_close()
