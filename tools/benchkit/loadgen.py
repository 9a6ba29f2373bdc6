"""A cheap XMLVend (and JSON API) load generator: asyncio protocols on keep-alive HTTP/1.1
connections, requests pre-rendered once per (vendor, target) with only the msgID (or the
Idempotency-Key) substituted.

It shares the machine's two cores with the server and PostgreSQL, so it does as little as
it can per request: one ``bytes.join``, one ``write``, a header scan of the answer, one
clock read. Two shapes:

* **closed loop** (:func:`closed_loop`): ``connections`` clients each send their next request
  as soon as the previous one is answered -- the peak throughput;
* **open loop** (:func:`open_loop`): requests are *due* at a constant rate whatever the
  server does; a due request waits for a free connection when all are busy, and its
  latency counts from when it was due (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import itertools
import math
import re
import time
from array import array
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from tools.conformance import builders
from tools.conformance.profile import Credentials
from vending.clock import system_clock
from xmlvend.codec import render_request
from xmlvend.codec.types_base import BaseReq, MsgID

_PLACEHOLDER_DT = "20991231235959"
_PLACEHOLDER_UN = "999999"
_MSG_ID = f'dateTime="{_PLACEHOLDER_DT}" uniqueNumber="{_PLACEHOLDER_UN}"'.encode()
_UNIQUE_MAX = 999_999


@dataclass(frozen=True)
class Template:
    """One request's bytes split around its msgID."""

    head: bytes  # HTTP request line and headers up to "Content-Length: "
    before: bytes
    after: bytes
    kind: str  # electricity or voucher

    @classmethod
    def of(cls, request: BaseReq, kind: str, host: str) -> Template:
        body = render_request(request)
        before, found, after = body.partition(_MSG_ID)
        if not found:
            raise ValueError("the msgID placeholder is not in the rendered request")
        head = (
            b"POST /xmlvend HTTP/1.1\r\nHost: %s\r\nContent-Type: text/xml; charset=utf-8\r\n"
            b'SOAPAction: ""\r\nContent-Length: ' % host.encode()
        )
        return cls(head, before, after, kind)

    def render(self, msg_id: bytes) -> bytes:
        length = len(self.before) + len(msg_id) + len(self.after)
        return b"".join((self.head, b"%d\r\n\r\n" % length, self.before, msg_id, self.after))


def vend_templates(
    vendors: Sequence[Credentials],
    meters: Sequence[str],
    voucher_product: str | None,
    *,
    host: str,
    electricity_amount: str = "20.00",
    voucher_amount: str = "10.00",
) -> dict[str, list[Template]]:
    """creditVendReq templates: vendors and meters in turn, and every vendor with the
    voucher product."""
    from decimal import Decimal

    placeholder = MsgID(date_time=_PLACEHOLDER_DT, unique_number=_PLACEHOLDER_UN)
    out: dict[str, list[Template]] = {"electricity": [], "voucher": []}
    headers = [builders.request_header(vendor, placeholder) for vendor in vendors]
    # Consecutive requests go to different vendors and different meters: each vendor's
    # float and each meter is a row its vends lock, and a generator that sent its next
    # hundred requests for one vendor would measure that row lock, not the server.
    for k in range(max(len(vendors), len(meters))):
        header, msno = headers[k % len(headers)], meters[k % len(meters)]
        request = builders.credit_vend(header, msno, Decimal(electricity_amount), "ZAR")
        out["electricity"].append(Template.of(request, "electricity", host))
    if voucher_product:
        for header in headers:
            request = builders.voucher_vend(header, voucher_product, Decimal(voucher_amount), "ZAR")
            out["voucher"].append(Template.of(request, "voucher", host))
    return out


@dataclass(frozen=True)
class JsonTemplate:
    """One JSON API sale (``POST /api/v1/sales``): the same body for every request of a
    (vendor, target) pair, the msgID of the run turned into its Idempotency-Key."""

    head: bytes  # request line and headers up to "Idempotency-Key: "
    tail: bytes  # the rest of the headers and the body
    kind: str

    @classmethod
    def of(cls, api_key: str, document: dict[str, str], kind: str, host: str) -> JsonTemplate:
        import json

        body = json.dumps(document, separators=(",", ":")).encode()
        head = (
            b"POST /api/v1/sales HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer %s\r\nIdempotency-Key: " % (host.encode(), api_key.encode())
        )
        tail = b"\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        return cls(head, tail, kind)

    def render(self, msg_id: bytes) -> bytes:
        return b"".join((self.head, msg_id.translate(None, b'" ='), self.tail))


def json_templates(
    api_keys: Sequence[str],
    meters: Sequence[str],
    voucher_product: str | None,
    *,
    host: str,
    electricity_product: str = "ELEC-DEMO",
    electricity_amount: str = "20.00",
    voucher_amount: str = "10.00",
) -> dict[str, list[JsonTemplate]]:
    """The JSON API's sales in the same rotation as :func:`vend_templates` (one API key
    per bench vendor)."""
    out: dict[str, list[JsonTemplate]] = {"electricity": [], "voucher": []}
    for k in range(max(len(api_keys), len(meters))):
        document = {
            "product": electricity_product,
            "meter": meters[k % len(meters)],
            "amount": electricity_amount,
        }
        out["electricity"].append(
            JsonTemplate.of(api_keys[k % len(api_keys)], document, "electricity", host)
        )
    if voucher_product:
        for key in api_keys:
            document = {"product": voucher_product, "amount": voucher_amount}
            out["voucher"].append(JsonTemplate.of(key, document, "voucher", host))
    return out


class MsgIds:
    """Distinct msgIDs for the whole run: uniqueNumber counts to 999999, then dateTime
    steps one second (the key is clientID + dateTime + uniqueNumber)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._base = (start or system_clock()).replace(microsecond=0)
        self._count = 0
        self._stamp = b""
        self._stamp_of = -1

    def next(self) -> bytes:
        n = self._count
        self._count += 1
        second, unique = divmod(n, _UNIQUE_MAX)
        if second != self._stamp_of:
            self._stamp_of = second
            moment = self._base + timedelta(seconds=second)
            self._stamp = moment.strftime("%Y%m%d%H%M%S").encode()
        return b'dateTime="%s" uniqueNumber="%d"' % (self._stamp, unique + 1)


class Window(Protocol):
    """Told when the measured window opens and closes (e.g. a CPU meter)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass
class Result:
    """What one run measured."""

    seconds: float = 0.0
    latencies: array = field(default_factory=lambda: array("d"))  # seconds, OK answers
    by_kind: dict[str, int] = field(default_factory=dict)  # OK answers per kind
    errors: dict[str, int] = field(default_factory=dict)  # "http 500", "connection", ...
    sent: int = 0
    backlog_max: int = 0

    @property
    def ok(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def kind_rate(self, kind: str) -> float:
        return self.by_kind.get(kind, 0) / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """Latency percentile in milliseconds (nearest rank)."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        rank = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
        return ordered[rank] * 1000

    def error_total(self) -> int:
        return sum(self.errors.values())


# An XMLVend fault's class (``xsi:type="b:SystemEx"``), or a JSON problem's type.
_FAULT = re.compile(rb'type="\w+:(\w+Ex)"|"type":\s*"[^"]*/([\w-]+)"')


def _fault_of(answer: bytes) -> str:
    found = _FAULT.search(answer)
    if found is None:
        return ""
    return (found.group(1) or found.group(2)).decode("ascii", "replace")


class _Client(asyncio.Protocol):
    """One keep-alive connection with at most one request in flight."""

    def __init__(self, on_answer: Callable[[_Client, int, str], None]) -> None:
        self._on_answer = on_answer
        self._buffer = bytearray()
        self._need = -1  # bytes of the whole answer once the headers are in
        self._status = 0
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.started = 0.0
        self.kind = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, data: bytes, started: float, kind: str) -> None:
        self.started = started
        self.kind = kind
        assert self.transport is not None
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        if self._need < 0:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buffer[:end]).lower()
            self._status = int(head[9:12])
            at = head.find(b"content-length:")
            if at < 0:
                raise RuntimeError("an answer without Content-Length")
            stop = head.find(b"\r\n", at)
            length = int(head[at + 15 : stop if stop > 0 else len(head)])
            self._need = end + 4 + length
        if len(buffer) >= self._need:
            # The body of a success is not looked at (the status says enough); a refusal's
            # names its fault, so that a run's errors can be told apart.
            fault = "" if self._status < 300 else _fault_of(bytes(buffer[: self._need]))
            del buffer[: self._need]
            self._need = -1
            self._on_answer(self, self._status, fault)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)


class _Driver:
    """Connections, request sources and bookkeeping shared by both loop shapes."""

    def __init__(
        self, host: str, port: int, mix: Sequence[Template | JsonTemplate], msg_ids: MsgIds
    ) -> None:
        self.host = host
        self.port = port
        self._mix = itertools.cycle(mix)
        self._msg_ids = msg_ids
        self.result = Result()
        self.counting = False
        self.clock = time.perf_counter
        self.idle: list[_Client] = []
        self.on_free: Callable[[_Client], None] = self.idle.append
        self.in_flight = 0

    async def connect(self, count: int) -> list[_Client]:
        loop = asyncio.get_running_loop()
        clients = []
        for _ in range(count):
            _, client = await loop.create_connection(
                lambda: _Client(self._answered), self.host, self.port
            )
            clients.append(client)
        return clients

    def send(self, client: _Client, started: float) -> None:
        template = next(self._mix)
        client.send(template.render(self._msg_ids.next()), started, template.kind)
        self.in_flight += 1
        if self.counting:
            self.result.sent += 1

    def _answered(self, client: _Client, status: int, fault: str) -> None:
        self.in_flight -= 1
        if self.counting:
            result = self.result
            if status in (200, 201):  # XMLVend answers 200, a JSON API sale 201
                result.latencies.append(self.clock() - client.started)
                result.by_kind[client.kind] = result.by_kind.get(client.kind, 0) + 1
            else:
                key = f"http {status} {fault}" if fault else f"http {status}"
                result.errors[key] = result.errors.get(key, 0) + 1
        self.on_free(client)


async def closed_loop(
    host: str,
    port: int,
    mix: Sequence[Template | JsonTemplate],
    msg_ids: MsgIds,
    *,
    connections: int,
    seconds: float,
    warmup: float = 2.0,
    window: Window | None = None,
) -> Result:
    """Peak throughput: every connection sends its next request on each answer."""
    driver = _Driver(host, port, mix, msg_ids)
    clients = await driver.connect(connections)

    def again(client: _Client) -> None:
        driver.send(client, driver.clock())

    driver.on_free = again
    for client in clients:
        again(client)
    await asyncio.sleep(warmup)
    driver.counting = True
    started = driver.clock()
    if window is not None:
        window.start()
    await asyncio.sleep(seconds)
    driver.result.seconds = driver.clock() - started
    driver.counting = False
    if window is not None:
        window.stop()
    await _drain(driver, clients)
    return driver.result


async def open_loop(
    host: str,
    port: int,
    mix: Sequence[Template | JsonTemplate],
    msg_ids: MsgIds,
    *,
    rate: float,
    connections: int,
    seconds: float,
    warmup: float = 2.0,
    window: Window | None = None,
) -> Result:
    """Constant arrival rate; latency counted from each request's due time."""
    driver = _Driver(host, port, mix, msg_ids)
    clients = await driver.connect(connections)
    backlog: deque[float] = deque()  # due times of requests waiting for a connection
    idle = driver.idle
    idle.extend(clients)

    def free(client: _Client) -> None:
        if backlog:
            driver.send(client, backlog.popleft())
        else:
            idle.append(client)

    driver.on_free = free
    interval = 1.0 / rate
    clock = driver.clock
    begin = clock()
    counting_from = begin + warmup
    end = counting_from + seconds
    due = begin
    while True:
        now = clock()
        if now >= end:
            break
        if not driver.counting and now >= counting_from:
            driver.counting = True
            if window is not None:
                window.start()
        while due <= now:
            if idle and not backlog:
                driver.send(idle.pop(), due)
            else:
                backlog.append(due)
                if driver.counting and len(backlog) > driver.result.backlog_max:
                    driver.result.backlog_max = len(backlog)
            due += interval
        await asyncio.sleep(max(0.0, min(due - clock(), 0.002)))
    driver.result.seconds = clock() - counting_from
    driver.counting = False
    if window is not None:
        window.stop()
    unsent = len(backlog)
    backlog.clear()
    if unsent:
        # Due but never sent: the server fell behind the rate. They count as failures,
        # so an overloaded run cannot look fast.
        driver.result.errors["not sent (backlog)"] = unsent
    await _drain(driver, clients)
    return driver.result


async def _drain(driver: _Driver, clients: list[_Client], timeout: float = 15.0) -> None:
    """Let requests in flight finish (uncounted), then close the connections."""
    deadline = driver.clock() + timeout
    driver.on_free = lambda client: None
    while driver.in_flight > 0 and driver.clock() < deadline:
        await asyncio.sleep(0.02)
    for client in clients:
        if client.transport is not None:
            client.transport.close()
    await asyncio.sleep(0.05)
