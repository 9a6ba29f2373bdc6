"""The kit's standard-library HTTP client: headers it sends, gzip both ways, timeouts,
hanging up without reading, a 413 sent before the body was read."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

import pytest
from conformance_http import Answer, Seen, serve

from tools.conformance.transport import HttpClient, TransportError


def test_post_sends_soap_headers_and_decodes_gzip() -> None:
    def handler(seen: Seen) -> Answer:
        return Answer(body=b"<ok/>", headers={"Content-Type": "text/xml", "X-Gzip": "1"})

    with serve(handler) as server:
        client = HttpClient(server.url, timeout=5)
        result = client.post(b"<x/>")
        assert result.body == b"<ok/>" and result.content_encoding == "gzip"
        plain = client.post(b"<x/>", accept_gzip=False, soap_action=None)
        assert plain.content_encoding == ""
        zipped = client.post(b"<zipped/>", gzip_body=True)
        assert zipped.status == 200
    first, second, third = server.seen
    assert first.headers["soapaction"] == '""'
    assert first.headers["content-type"] == "text/xml; charset=utf-8"
    assert "soapaction" not in second.headers
    assert second.headers["accept-encoding"] == "identity"  # http.client says so itself
    assert third.body == b"<zipped/>" and third.headers["content-encoding"] == "gzip"


def test_get_resolves_against_the_same_server() -> None:
    with serve(lambda seen: Answer(body=seen.path.encode())) as server:
        result = HttpClient(server.url).get("/xmlvend?wsdl")
    assert result.body == b"/xmlvend?wsdl"


def test_timeout_is_a_transport_error() -> None:
    def slow(seen: Seen) -> Answer:
        time.sleep(1.0)
        return Answer(body=b"late")

    with serve(slow) as server, pytest.raises(TransportError, match="timed out"):
        HttpClient(server.url, timeout=0.2).post(b"<x/>")


def test_refused_connection_is_a_transport_error() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(TransportError, match="refused"):
        HttpClient(f"http://127.0.0.1:{port}/xmlvend", timeout=1).post(b"<x/>")


def test_abandon_sends_the_request_and_hangs_up() -> None:
    with serve(lambda seen: Answer(body=b"unread")) as server:
        HttpClient(server.url).abandon(b"<vend/>")
        deadline = time.monotonic() + 2
        while not server.seen and time.monotonic() < deadline:
            time.sleep(0.01)
    assert server.seen[0].body == b"<vend/>"


def test_an_early_413_is_read_even_if_the_upload_breaks() -> None:
    """A server that answers 413 after the headers and closes: the kit still sees 413."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]

    def refuse() -> None:
        conn, _ = listener.accept()
        conn.recv(4096)
        conn.sendall(b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n\r\n")
        conn.shutdown(socket.SHUT_WR)
        time.sleep(0.2)
        conn.close()

    thread = threading.Thread(target=refuse, daemon=True)
    thread.start()
    try:
        result = HttpClient(f"http://127.0.0.1:{port}/xmlvend", timeout=5).post(b" " * 8_000_000)
        assert result.status == 413
    finally:
        thread.join(2)
        listener.close()


def test_rejects_non_http_urls() -> None:
    with pytest.raises(ValueError, match="not an http"):
        HttpClient("ftp://example/xmlvend")


def test_the_kit_stays_off_twisted() -> None:
    """A command-line tool on the standard library (and the sans-IO codec)."""
    code = (
        "import sys, tools.conformance.cli, tools.client.cli; "
        "print(any(m.startswith('twisted') for m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
