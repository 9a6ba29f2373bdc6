"""The campaign's clients: concurrent creditVendReqs with unique request keys (mixed
electricity on our engine, vouchers and electricity routed to the simulated utility), one
HTTP connection per request, every send and answer recorded in a :class:`Sent`.

A request the server refused to connect (it is down) was never sent: the client waits and
tries the same request again. A request whose bytes were written but that got no answer
(connection reset by the kill, or no answer within the timeout) is *unanswered*: the load
moves on, and the replay phase sends it again after the restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tools.conformance import builders
from tools.conformance.profile import Credentials
from tools.crashtest.checks import Answer, Sent, classify
from xmlvend.codec import render_request
from xmlvend.codec.types_base import MsgID

CAFE = Credentials("6004708000090", "1", "cashier1", "demo1234")
PLATFORM = Credentials("6004708000106", "1", "platform", "demo5678")
VENDORS = (CAFE, PLATFORM)
# Our own engine's normal demo meters (docs/TEST-METERS.md); each vend locks its meter row.
EMBEDDED_METERS = ("04100000019", "04100000126", "04100000068", "04100000076", "04100000050")
UPSTREAM_METER = "04100000027"  # SGC 123457, routed to the simulated utility
SLOW_METER = "04100000092"  # the demo's deliberately slow meter (only with --slow-meter)
VOUCHER_PRODUCT = "CRASH-AIR-10"  # made by the campaign (cli.py), with its own stock
REQUEST_TIMEOUT = 15.0  # above the server's 8 s deadline: every live request is answered


@dataclass(frozen=True)
class Mix:
    electricity: float = 0.45
    voucher: float = 0.30
    upstream: float = 0.25
    slow: float = 0.0

    def pick(self, rng: random.Random) -> str:
        kinds = ("electricity", "voucher", "upstream", "slow")
        weights = (self.electricity, self.voucher, self.upstream, self.slow)
        return rng.choices(kinds, weights)[0]


class RequestFactory:
    """Unique request keys: one dateTime for the run, uniqueNumber counting up (then the
    next second)."""

    def __init__(self, rng: random.Random, mix: Mix, start: datetime | None = None) -> None:
        self._rng = rng
        self._mix = mix
        self._start = (start or datetime.now(UTC)).replace(microsecond=0)
        self._count = 0

    def _msg_id(self) -> MsgID:
        self._count += 1
        second, unique = divmod(self._count - 1, 999_999)
        stamp = (self._start + timedelta(seconds=second)).strftime("%Y%m%d%H%M%S")
        return MsgID(date_time=stamp, unique_number=str(unique + 1))

    def next(self) -> Sent:
        rng = self._rng
        kind = self._mix.pick(rng)
        vendor = rng.choice(VENDORS)
        msg_id = self._msg_id()
        header = builders.request_header(vendor, msg_id)
        if kind == "voucher":
            request = builders.voucher_vend(header, VOUCHER_PRODUCT, Decimal("10.00"), "ZAR")
        else:
            msno = {
                "electricity": rng.choice(EMBEDDED_METERS),
                "upstream": UPSTREAM_METER,
                "slow": SLOW_METER,
            }[kind]
            amount = Decimal(rng.randrange(2000, 6000)) / 100
            request = builders.credit_vend(header, msno, amount, "ZAR")
        return Sent(
            client_id=vendor.client_id,
            request_id=f"{msg_id.date_time}/{msg_id.unique_number}",
            kind=kind,
            body=render_request(request),
        )


class NotSent(Exception):
    """The connection was refused: the request never reached the server."""


async def post(
    host: str, port: int, body: bytes, timeout: float = REQUEST_TIMEOUT
) -> Answer | None:
    """POST ``body``; its :class:`Answer`, or None when it was sent but not answered.
    Raises :class:`NotSent` when the server could not be reached."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5.0)
    except (TimeoutError, OSError) as exc:
        raise NotSent(str(exc)) from None
    try:
        head = (
            f"POST /xmlvend HTTP/1.1\r\nHost: {host}:{port}\r\n"
            'Content-Type: text/xml; charset=utf-8\r\nSOAPAction: ""\r\n'
            f"Connection: close\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode("latin-1")
        try:
            writer.write(head + body)
            await writer.drain()
        except OSError as exc:
            raise NotSent(str(exc)) from None
        try:
            return await asyncio.wait_for(_read_answer(reader), timeout)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            return None
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _read_answer(reader: asyncio.StreamReader) -> Answer:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    body = await (reader.readexactly(length) if length is not None else reader.read())
    return classify(status, body)


async def send(
    host: str, port: int, record: Sent, stop: asyncio.Event | None = None
) -> Answer | None:
    """Send ``record`` until it reaches the server (waiting out restarts); its answer, or
    None when it got none."""
    while True:
        try:
            answer = await post(host, port, record.body)
        except NotSent:
            if stop is not None and stop.is_set():
                return None
            await asyncio.sleep(0.2)
            continue
        if answer is None:
            record.unanswered += 1
        else:
            record.answers.append(answer)
        return answer


async def drive(
    host: str,
    port: int,
    factory: RequestFactory,
    records: list[Sent],
    stop: asyncio.Event,
    connections: int,
) -> None:
    """``connections`` clients, each sending its next request once the last is done, until
    ``stop`` is set."""

    async def client() -> None:
        while not stop.is_set():
            record = factory.next()
            await send(host, port, record, stop)
            if record.answers or record.unanswered:  # else never sent: the load stopped
                records.append(record)

    await asyncio.gather(*(client() for _ in range(connections)))
