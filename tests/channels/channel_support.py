"""The SMS/USSD test world: the XMLVend test world's data and server (demo vendors, test
meters, voucher stock, task.Clock), the /sms and /ussd resources mounted in its Site as
``evd serve`` does, a registered SMS merchant, and an in-memory gateway that records every
MT handed to it and answers as told."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

from server_support import CAFE, MemoryTransport, World, build_world, parse_http
from twisted.internet.address import IPv4Address
from twisted.internet.defer import ensureDeferred

from sms.app import SmsMount, build_sms
from ussd.app import UssdMount, build_ussd
from ussd.menu import MAX_SCREEN
from vending.config import SmsConfig
from vending.money import Money
from vending.sms_outbox import OutgoingSms
from vending.storage.schema import sales
from xmlvend.server.mounts import mount

MERCHANT = "27820000001"
MERCHANT_PIN = "4321"
CONSUMER = "27831234567"


@dataclass
class FakeGateway:
    """Kannel's sendsms as the deliverer sees it: records MTs, answers the next outcomes
    ("accepted" when none is queued)."""

    outcomes: list[str] = field(default_factory=list)
    sent: list[OutgoingSms] = field(default_factory=list)
    calls: int = 0

    async def __call__(self, message: OutgoingSms) -> tuple[str, str | None]:
        self.calls += 1
        outcome = self.outcomes.pop(0) if self.outcomes else "accepted"
        if outcome == "accepted":
            self.sent.append(message)
            return "accepted", None
        return outcome, f"test: {outcome}"

    def texts_to(self, msisdn: str) -> list[str]:
        return [m.text for m in self.sent if m.msisdn == msisdn]


@dataclass
class ChannelWorld:
    xml: World
    sms: SmsMount
    ussd: UssdMount
    gateway: FakeGateway
    sentinel: Any
    _ids: Any = field(default_factory=lambda: iter(range(1, 10**9)))

    @property
    def database(self) -> Any:
        return self.xml.database

    def wait(self, coroutine: Any) -> Any:
        results: list[Any] = []
        ensureDeferred(coroutine).addBoth(results.append)
        assert results, "not finished"
        if hasattr(results[0], "raiseException"):
            results[0].raiseException()
        return results[0]

    def mo(self, text: str, sender: str = MERCHANT, message_id: str | None = None) -> str:
        """An MO as Kannel delivers it (GET /sms/mo); the HTTP answer's body."""
        message_id = message_id or f"mo-{next(self._ids)}"
        status, body = self.http_get(
            "/sms/mo?" + urlencode({"from": sender, "to": "12345", "text": text, "id": message_id})
        )
        assert status == 200, (status, body)
        return body

    def ussd_step(self, session: str, text: str, phone: str = MERCHANT) -> str:
        status, body = self.http_get(
            "/ussd?"
            + urlencode(
                {
                    "sessionId": session,
                    "serviceCode": "*120*55#",
                    "phoneNumber": phone,
                    "text": text,
                }
            )
        )
        assert status == 200, (status, body)
        return body

    def http_get(self, path: str) -> tuple[int, str]:
        transport = MemoryTransport()
        protocol = self.xml.server.site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 5000))
        protocol.makeConnection(transport)
        protocol.dataReceived(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        found = parse_http(transport.value())
        assert found, transport.value()[:300]
        return found[-1].status, found[-1].raw_body.decode("utf-8")

    def deliver(self) -> None:
        """Let the deliverer run what is due now (the reactor's pending calls)."""
        self.xml.reactor.advance(0)
        self.wait(self.sms.deliverer.drain())

    def advance(self, seconds: float) -> None:
        self.xml.clock.advance(seconds)
        self.xml.reactor.advance(seconds)

    def sale_count(self) -> int:
        return self.database.run_txn("t_sales", lambda txn: len(txn.execute(sales.select()).all()))

    def balance(self, client_id: str = CAFE) -> Money:
        return self.xml.balance(client_id)


def build_channel_world(database: Any, keyring: Any, sentinel: Any, **kwargs: Any) -> ChannelWorld:
    xml = build_world(database, keyring, sentinel, **kwargs)
    # Group commit off: every step answers at once on the in-memory runner.
    config = dataclasses.replace(
        xml.config, sms=SmsConfig(enabled=True, pin_lock_seconds=600, batch_seconds=0)
    )
    app = SimpleNamespace(
        config=config,
        runner=xml.server.services.runner,
        keyring=keyring,
        services=xml.server.services,
    )
    gateway = FakeGateway()
    sms = build_sms(app, reactor=xml.reactor, clock=xml.clock, send=gateway)
    ussd = build_ussd(app, clock=xml.clock)
    mount(xml.server.site, sms.segment, sms.resource)
    mount(xml.server.site, ussd.segment, ussd.resource)
    world = ChannelWorld(xml, sms, ussd, gateway, sentinel)
    world.wait(sms.merchants.register(MERCHANT, CAFE, "cashier1", MERCHANT_PIN))
    sentinel.register(MERCHANT_PIN)
    return world


def ussd_pages(
    world: ChannelWorld,
    session: str,
    inputs: list[str],
    *,
    phone: str = MERCHANT,
    title_lines: int = 1,
) -> tuple[list[str], list[str]]:
    """Every page of the USSD list that ``inputs`` open, "98 More" followed to the last one:
    the pages' items (numbers checked: 1.. on each page, each screen within MAX_SCREEN) and
    the pages' screens."""
    screens = [world.ussd_step(session, "*".join(inputs), phone=phone)]
    while screens[-1].endswith(("98 More", "98 More\n0 Back")):
        inputs = [*inputs, "98"]
        screens.append(world.ussd_step(session, "*".join(inputs), phone=phone))
    items: list[str] = []
    for screen in screens:
        assert len(screen) <= MAX_SCREEN and screen.startswith("CON "), screen
        body = screen.splitlines()[title_lines:]
        lines = [line for line in body if line not in ("98 More", "0 Back")]
        for number, line in enumerate(lines, start=1):
            shown, _, name = line.partition(" ")
            assert shown == str(number), screen
            items.append(name)
    return items, screens
