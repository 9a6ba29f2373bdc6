"""``make run`` for real, JSON side: ``evd db upgrade``, ``evd demo`` and ``evd serve`` in
subprocesses; the JSON API answers beside /xmlvend on the same port, the banner's JSON sale
works as pasted, and a webhook reaches a real loopback HTTP receiver, signed."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.request import Request, urlopen

import pytest
from live_support import ServerProcess, evd, write_config

from jsonapi.webhooks import verify_signature
from vending.api_demo import DEMO_API_KEY

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    directory = tmp_path_factory.mktemp("evd-live-api")
    # Demo behaviours on: the slow test meter answers 2 s after the (short) deadline.
    config = write_config(
        directory, '[vouchers]\ngnupg_home = "var/gnupg"\n\n[utilities]\ntest_behaviours = true\n'
    )
    text = config.read_text().replace(
        "[server]\n", "[server]\ndeadline_seconds = 1.0\nparse_wait_seconds = 0.5\n"
    )
    config.write_text(text)
    evd(config, "db", "upgrade")
    evd(config, "demo")
    server = ServerProcess.start(config)
    try:
        yield server
    finally:
        server.kill()


def _call(url: str, method: str = "GET", body: Any = None, **headers: str) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {DEMO_API_KEY}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    for name, value in headers.items():
        request.add_header(name.replace("_", "-"), value)
    try:
        with urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except Exception as exc:  # HTTPError carries the problem
        return exc.code, json.loads(exc.read())  # type: ignore[attr-defined]


def _api(live: ServerProcess) -> str:
    return live.url.rsplit("/xmlvend", 1)[0] + "/api/v1"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_printed_json_sale_works_as_pasted(live: ServerProcess) -> None:
    banner = "".join(live.stdout)
    line = next(text for text in banner.splitlines() if "/api/v1/sales" in text)
    done = subprocess.run(["bash", "-c", line], check=False, capture_output=True, timeout=30)
    sale = json.loads(done.stdout)
    assert sale["status"] == "completed" and len(sale["tokens"][0]["token"]) == 20


def test_a_delayed_sale_is_pushed_to_a_real_receiver(live: ServerProcess) -> None:
    received: list[tuple[Any, bytes]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers, body))  # case-insensitive
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    receiver = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        api = _api(live)
        status, hook = _call(
            f"{api}/webhook",
            "PUT",
            {"callback_url": f"http://127.0.0.1:{receiver.server_port}/hook"},
        )
        assert status == 200, hook
        status, pending = _call(
            f"{api}/sales",
            "POST",
            {"product": "ELEC-DEMO", "meter": "04100000092", "amount": "20.00"},
            Idempotency_Key=f"live-{time.time_ns()}",
        )
        assert status == 202, pending
        deadline = time.monotonic() + 30
        while not received and time.monotonic() < deadline:
            time.sleep(0.1)
        assert received, "no webhook arrived"
        headers, body = received[0]
        assert verify_signature(
            hook["secret"].encode(), headers.get("EVD-Signature"), body, now=time.time()
        )
        pushed = json.loads(body)
        assert pushed["event"] == "sale.completed" and pushed["result"]["tokens"]
        status, final = _call(api + pending["location"].removeprefix("/api/v1"))
        assert status == 200 and final == pushed["result"]
    finally:
        receiver.shutdown()


def test_xmlvend_and_json_share_the_port(live: ServerProcess) -> None:
    with urlopen(live.url + "?wsdl", timeout=30) as response:
        assert response.status == 200
    status, account = _call(f"{_api(live)}/account?with=query")
    assert status == 200 and account["currency"] == "ZAR"
    # The JSON API's request is on the access stream (stdout) as XMLVend's are: one JSON line.
    line = _access_line(live, "/api/v1/account")
    assert line["event"] == "request" and line["method"] == "GET" and line["http_status"] == 200
    assert "query" not in json.dumps(line)


def _access_line(live: ServerProcess, path: str) -> dict[str, Any]:
    """The first access line for ``path`` on the server's stdout."""
    line = live.stdout_line(lambda text: text.startswith("{") and f'"path":"{path}"' in text)
    assert line is not None, f"no access line for {path}:\n{live.output()}"
    return dict(json.loads(line))
