"""Helpers of the XMLVend server tests: a seeded world (core demo data, test meters, voucher
stock), the server built around it with a fake clock and reactor, an in-memory HTTP client
that checks every SOAP response against the strict schema, and request builders."""

from __future__ import annotations

import gzip
import itertools
import queue
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from lxml import etree
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock

from tools.gen_stock import ProductSpec, generate_rows, render_csv
from utilities.demo import seed_utilities
from utilities.demo_behaviours import DemoBehaviours
from utilities.embedded import EmbeddedBackend
from utilities.service import Routing, UtilityServiceImpl, embedded_settings
from vending.config import Config, SecurityConfig, ServerConfig, UtilitiesConfig
from vending.demo import seed_core
from vending.keyring import Keyring
from vending.money import Money
from vending.services.wiring import build_application
from vending.storage.database import Database, Txn
from vending.storage.schema import accounts, vendors
from vending.vouchers.importer import StockImporter, StockUpload
from vending.vouchers.suppliers import add_supplier
from xmlvend.codec import parse_response, render_request
from xmlvend.codec import types_base as b
from xmlvend.codec import types_ext as ext
from xmlvend.codec import types_meter as m
from xmlvend.codec import types_revenue as r
from xmlvend.codec.envelope import is_fault, open_envelope, read_fault
from xmlvend.codec.namespaces import BASE
from xmlvend.codec.schema import strict_schema
from xmlvend.server.app import XMLVendServer, build_server
from xmlvend.server.auth import call_now
from xmlvend.server.parsing import parse_now
from xmlvend.transport.asyncdb import ImmediateDatabase

CAFE = "6004708000090"
CAFE_OPERATOR = ("cashier1", "demo1234")
PLATFORM = "6004708000106"
PLATFORM_OPERATOR = ("platform", "demo5678")

NORMAL_METER = "04100000019"
MISTY_METER = "04100000027"
BLOCKED_METER = "04100000035"
UNKNOWN_METER = "04100000043"
BAD_CHECK_DIGIT_METER = "04100000040"
KEY_CHANGE_METER = "04100000050"
FBE_METER = "04100000068"
DEBT_METER = "04100000076"
SERVICE_METER = "04100000084"
SLOW_METER = "04100000092"
FAILING_METER = "04100000100"
RESTRICTED_METER = "04100000118"

VOUCHER_PRODUCT = "AIR-DEMO-10"
# A fixed moment in the STS 2014 TID era.
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


# --- the world -----------------------------------------------------------------------------------


def seed_vouchers(txn: Txn) -> None:
    add_supplier(
        txn,
        code="DEMO",
        name="Demo Airtime Distributor",
        account_code="supplier:VOUCHERS",
        currency="ZAR",
        key=None,
        require_signature=False,
        actor="test",
    )


def import_vouchers(
    database: Database, keyring: Keyring, product: str, count: int, sentinel: Any
) -> list[str]:
    """Import ``count`` fresh PINs of ``product`` (registered as secrets); the PINs."""
    length = {"DATA-DEMO-1GB": 12}.get(product, 16)
    denomination = {"AIR-DEMO-10": "10.00", "AIR-DEMO-30": "30.00"}.get(product, "1GB")
    serial = 7_700_000_000_000_000 + uuid.uuid4().int % 10**12 * 1000
    rows = list(
        generate_rows([ProductSpec(product, denomination, length)], count, serial_start=serial)
    )
    pins = [row.pin for row in rows]
    sentinel.register(*pins)
    upload = StockUpload("DEMO", f"{uuid.uuid4().hex}.csv", uuid.uuid4().hex * 2, render_csv(rows))
    StockImporter(database, keyring, None, low_stock_threshold=1).import_upload(
        upload, actor="test"
    )
    return pins


class ThreadedClock(Clock):
    """``task.Clock`` that also takes ``callFromThread``: calls made on other threads (the
    parse pool's results) wait in a queue until the test runs them."""

    def __init__(self) -> None:
        super().__init__()
        self._from_threads: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...]]] = (
            queue.SimpleQueue()
        )

    def callFromThread(self, fn: Callable[..., Any], *args: Any) -> None:
        self._from_threads.put((fn, args))

    def run_thread_calls(self, until: Callable[[], object], timeout: float = 30.0) -> None:
        """Run the calls other threads make, in order, until ``until()`` is true. Waiting
        for the next call is bounded by ``timeout`` (a safety net: raises queue.Empty)."""
        while not until():
            fn, args = self._from_threads.get(timeout=timeout)
            fn(*args)


@dataclass
class MutableClock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def make_config(**server: Any) -> Config:
    """The test world is the demo configuration: the demo meters' test behaviours are on
    (utilities.demo_behaviours)."""
    settings = {"deadline_seconds": 8.0, **server}
    return Config(
        server=ServerConfig(**settings),
        security=SecurityConfig(scrypt_log_n=10),
        utilities=UtilitiesConfig(test_behaviours=True),
    )


@dataclass
class World:
    database: Database
    keyring: Keyring
    config: Config
    reactor: Clock
    clock: MutableClock
    service: Any
    server: XMLVendServer
    sentinel: Any
    pins: list[str] = field(default_factory=list)
    _msg_ids: Any = field(default_factory=lambda: itertools.count(100001))

    # --- HTTP -------------------------------------------------------------------------------

    def connect(self, transport: MemoryTransport | None = None) -> Connection:
        return Connection(self, transport)

    def post(self, body: bytes, **kwargs: Any) -> HTTPResponse:
        """POST to /xmlvend on a fresh connection; the complete response."""
        return self.connect().post(body, **kwargs)

    def call(self, request: b.BaseReq, **kwargs: Any) -> HTTPResponse:
        return self.post(render_request(request), **kwargs)

    def get(self, path: str, **kwargs: Any) -> HTTPResponse:
        return self.connect().get(path, **kwargs)

    # --- requests --------------------------------------------------------------------------

    def msg_id(self) -> b.MsgID:
        return b.MsgID(
            date_time=self.clock.now.strftime("%Y%m%d%H%M%S"),
            unique_number=str(next(self._msg_ids)),
        )

    def header(
        self,
        client_id: str = CAFE,
        operator: tuple[str, str] | None = CAFE_OPERATOR,
        msg_id: b.MsgID | None = None,
    ) -> b.RequestHeader:
        return b.RequestHeader(
            client_id=b.EANDeviceID(ean=client_id),
            terminal_id=b.GenericDeviceID(id="1"),
            msg_id=msg_id or self.msg_id(),
            auth_cred=None
            if operator is None
            else b.AuthCred(op_name=operator[0], password=operator[1]),
        )

    def balance(self, client_id: str = CAFE) -> Money:
        def load(txn: Txn) -> Money:
            row = txn.execute(
                accounts.select()
                .with_only_columns(accounts.c.balance, accounts.c.currency)
                .join(vendors, vendors.c.account_id == accounts.c.id)
                .where(vendors.c.client_id == client_id)
            ).one()
            return Money(row.balance, row.currency)

        return self.database.run_txn("test_balance", load)


def build_world(
    database: Database,
    keyring: Keyring,
    sentinel: Any,
    *,
    vouchers: int = 6,
    config: Config | None = None,
    service: Any = None,
    seed: bool = True,
    parse_pool: bool = False,
    **build: Any,
) -> World:
    """The demo world and its server; ``seed=False``: a fresh server on an already seeded
    database (a restart). Request bodies are parsed synchronously (``parse_now``) unless
    ``parse_pool``: then the server's real parse pool (threads) is used and the reactor is a
    :class:`ThreadedClock` whose thread calls the test runs."""
    if seed:
        database.run_txn("seed_core", seed_core, password_log_n=10)
        database.run_txn("seed_utilities", seed_utilities, keyring)
        database.run_txn("seed_vouchers", seed_vouchers)
    pins = (
        import_vouchers(database, keyring, VOUCHER_PRODUCT, vouchers, sentinel) if vouchers else []
    )
    config = config or make_config()
    reactor = ThreadedClock() if parse_pool else Clock()
    if not parse_pool:
        build.setdefault("parse", parse_now)
    clock = MutableClock()
    runner = ImmediateDatabase(database)
    if service is None:
        service = UtilityServiceImpl(
            runner,
            keyring,
            EmbeddedBackend(keyring, embedded_settings(config)),
            reactor=reactor,
            routing=Routing(),
            clock=clock,
        )
        if config.utilities.test_behaviours:
            service = DemoBehaviours.from_config(config, service, runner, keyring, reactor)
    app = build_application(
        config,
        reactor=reactor,
        runner=build.pop("runner", runner),
        database=database,
        keyring=keyring,
        utility=service,
        clock=clock,
    )
    server = build_server(
        config,
        reactor=reactor,
        app=app,
        call_blocking=build.pop("call_blocking", call_now),
        clock=clock,
        **build,
    )
    server.start()
    return World(database, keyring, config, reactor, clock, service, server, sentinel, pins)


# --- in-memory HTTP ------------------------------------------------------------------------------


@dataclass
class HTTPResponse:
    status: int
    headers: dict[str, str]
    raw_body: bytes

    @property
    def body(self) -> bytes:
        if self.headers.get("content-encoding") == "gzip":
            return gzip.decompress(self.raw_body)
        return self.raw_body

    def parsed(self) -> Any:
        return parse_response(self.body)

    def fault_class(self) -> str | None:
        return getattr(self.parsed(), "fault_class", None)


def parse_http(data: bytes) -> list[HTTPResponse]:
    """Every complete HTTP/1.1 response in ``data`` (Content-Length framed)."""
    responses = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", len(rest)))
        responses.append(HTTPResponse(status, headers, rest[:length]))
        data = rest[length:]
    return responses


class MemoryTransport:
    """The server side of an in-memory connection: what the server writes, and whether it
    closed. (Twisted's StringTransport would do, but importing twisted.internet.testing
    marks collections.abc classes through zope.interface, which breaks xmlschema later in
    the same test run.)"""

    def __init__(self) -> None:
        self.written = bytearray()
        self.disconnecting = False
        self.producer: Any = None

    def write(self, data: bytes) -> None:
        self.written += data

    def writeSequence(self, data: Any) -> None:
        self.written += b"".join(data)

    def loseConnection(self) -> None:
        self.disconnecting = True

    def abortConnection(self) -> None:
        self.disconnecting = True

    def getPeer(self) -> IPv4Address:
        return IPv4Address("TCP", "10.0.0.7", 50000)

    def getHost(self) -> IPv4Address:
        return IPv4Address("TCP", "127.0.0.1", 8080)

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        self.producer = producer

    def unregisterProducer(self) -> None:
        self.producer = None

    def value(self) -> bytes:
        return bytes(self.written)


class Connection:
    """One in-memory client connection to the world's site."""

    def __init__(self, world: World, transport: MemoryTransport | None = None) -> None:
        self.world = world
        self.transport = transport or MemoryTransport()
        self.protocol = world.server.site.buildProtocol(IPv4Address("TCP", "10.0.0.7", 50000))
        self.protocol.makeConnection(self.transport)
        self.lenient_msg_id = False

    def send(self, data: bytes) -> None:
        self.protocol.dataReceived(data)

    def responses(self) -> list[HTTPResponse]:
        found = parse_http(self.transport.value())
        for response in found:
            check_response(response, lenient_msg_id=self.lenient_msg_id)
        return found

    def post(
        self,
        body: bytes,
        *,
        headers: dict[str, str] | None = None,
        path: str = "/xmlvend",
        lenient_msg_id: bool = False,
        wait: bool = True,
    ) -> HTTPResponse:
        self.lenient_msg_id = lenient_msg_id
        all_headers = {"Host": "vend.example:8080", "Content-Type": "text/xml; charset=utf-8"}
        all_headers.update(headers or {})
        all_headers.setdefault("Content-Length", str(len(body)))
        head = f"POST {path} HTTP/1.1\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in all_headers.items()
        )
        self.send(head.encode("latin-1") + b"\r\n" + body)
        return self.last() if wait else None  # type: ignore[return-value]

    def get(self, path: str, headers: dict[str, str] | None = None) -> HTTPResponse:
        all_headers = {"Host": "vend.example:8080", **(headers or {})}
        head = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in all_headers.items())
        self.send(head.encode("latin-1") + b"\r\n")
        return self.last()

    def last(self) -> HTTPResponse:
        found = self.responses()
        assert found, f"no response yet; written: {self.transport.value()[:200]!r}"
        return found[-1]


# --- response checks -----------------------------------------------------------------------------

_LENIENT_MSG_ID = re.compile(
    rb'(<b:(?:reqMsgID|adviceReqMsgID)) dateTime="[^"]*" uniqueNumber="[^"]*"'
)


def payload_of(document: bytes) -> etree._Element:
    """The XMLVend element of a response envelope (the xmlvendFaultResp of a fault)."""
    _, payload = open_envelope(etree.fromstring(document))
    if is_fault(payload):
        detail = read_fault(payload)[3]
        assert detail is not None, "a fault without detail"
        found = detail.find(f"{{{BASE}}}xmlvendFaultResp")
        assert found is not None, "a fault without xmlvendFaultResp"
        return found
    return payload


def assert_strictly_valid(document: bytes, *, lenient_msg_id: bool = False) -> None:
    """Every response we send validates against strict_schema(); with ``lenient_msg_id``
    the client's own msgIDs echoed verbatim are the one documented exception."""
    if lenient_msg_id:
        document = _LENIENT_MSG_ID.sub(rb'\1 dateTime="20250101000000" uniqueNumber="1"', document)
    schema = strict_schema()
    if not schema.validate(payload_of(document)):
        raise AssertionError(f"not schema-valid: {schema.error_log}\n{document.decode()}")


def check_response(response: HTTPResponse, *, lenient_msg_id: bool = False) -> None:
    """The checks every SOAP response of the server passes (see the module docstring)."""
    content_type = response.headers.get("content-type", "")
    if "xml" not in content_type or response.status not in (200, 500):
        return  # WSDL/XSD documents, plain-text refusals
    body = response.body
    if body.lstrip().startswith(b"<?xml") and b"Envelope" in body[:400]:
        assert_strictly_valid(body, lenient_msg_id=lenient_msg_id)
        assert b"Traceback" not in body
        if response.status == 500:
            assert b"Fault>" in body, "HTTP 500 without a SOAP Fault"


# --- request builders ----------------------------------------------------------------------------


def zar(value: str) -> b.Currency:
    return b.Currency(value=Decimal(value), symbol="ZAR")


def vend_id(msno: str) -> b.VendIDMethod:
    return b.VendIDMethod(meter_identifier=b.MeterNumber(msno=msno))


def credit_vend(
    header: b.RequestHeader, msno: str, amount: str = "100.00", *, symbol: str = "ZAR", **kw: Any
) -> r.CreditVendReq:
    return r.CreditVendReq(
        header=header,
        resource=b.Electricity(),
        id_method=vend_id(msno),
        purchase_value=r.PurchaseValueCurrency(
            amt=b.Currency(value=Decimal(amount), symbol=symbol)
        ),
        **kw,
    )


def trial_vend(header: b.RequestHeader, msno: str, amount: str = "100.00") -> r.TrialCreditVendReq:
    return r.TrialCreditVendReq(
        header=header,
        resource=b.Electricity(),
        id_method=vend_id(msno),
        purchase_value=r.PurchaseValueCurrency(amt=zar(amount)),
    )


def voucher_vend(
    header: b.RequestHeader, product: str = VOUCHER_PRODUCT, amount: str = "10.00", *, trial=False
) -> r.AbstractCreditVendReq:
    cls = r.TrialCreditVendReq if trial else r.CreditVendReq
    return cls(
        header=header,
        resource=ext.Voucher(product_code=product),
        id_method=b.VendIDMethod(meter_identifier=ext.ProductIdentifier(product_code=product)),
        purchase_value=r.PurchaseValueCurrency(amt=zar(amount)),
    )


def confirm_customer(header: b.RequestHeader, msno: str) -> r.ConfirmCustomerReq:
    return r.ConfirmCustomerReq(header=header, id_method=vend_id(msno))


def confirm_meter(header: b.RequestHeader, msno: str) -> m.ConfirmMeterReq:
    return m.ConfirmMeterReq(header=header, id_method=vend_id(msno))


def advice(cls: type, header: b.RequestHeader, original: b.MsgID) -> b.AdviceReq:
    return cls(header=header, advice_req_msg_id=original)


def reprint(header: b.RequestHeader, msno: str) -> r.ReprintReq:
    return r.ReprintReq(header=header, id_method=vend_id(msno))


def with_msg_id(request: b.BaseReq, msg_id: b.MsgID) -> b.BaseReq:
    return replace(request, header=replace(request.header, msg_id=msg_id))
