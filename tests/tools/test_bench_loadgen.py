"""The bench's load generator names each refused answer's fault, so that a run's errors say
what they were (an XMLVend fault class, a JSON problem type), not only an HTTP status."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from tools.benchkit.loadgen import _Client
from xmlvend.codec import render_fault


def _answers(*chunks: bytes) -> list[tuple[int, str]]:
    got: list[tuple[int, str]] = []

    async def feed() -> None:
        client = _Client(lambda _client, status, fault: got.append((status, fault)))
        for chunk in chunks:
            client.data_received(chunk)

    # On a thread of its own: the suite may already run an event loop on this one.
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, feed()).result()
    return got


def _http(status: int, body: bytes) -> bytes:
    return b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n\r\n%s" % (status, len(body), body)


def test_each_refusal_is_named_by_its_fault() -> None:
    fault = render_fault("SystemEx", "boom", header=None)
    problem = b'{"type":"/api/v1/problems/business-rule","title":"Refused","status":422}'
    ok = b'<ok xsi:type="b:SystemEx"/>'  # a success's body is not looked at
    # One request in flight per connection: each answer arrives alone, in pieces.
    pieces = [part for answer in (_http(500, fault), _http(422, problem), _http(200, ok))
              for part in (answer[:37], answer[37:])]  # fmt: skip
    assert _answers(*pieces) == [(500, "SystemEx"), (422, "business-rule"), (200, "")]
