"""What one fuzz case runs through, and how its outcome is classified.

* **codec**: ``parse_request(body)``; a codec error is answered with
  ``render_codec_error`` (the server does the same), so rendering the fault is tried too.
  Outcomes: ``parsed <operation>``, ``unsupported <operation>``, ``fault <class>``, or
  ``UNHANDLED <exception>`` for anything else that escapes.
* **server**: the whole XMLVend server (transport, codec, auth, handlers, utilities,
  vouchers, ledger) in this process, on a fresh SQLite database seeded with the demo data,
  a fake reactor (``task.Clock``) and synchronous database calls, reached through an
  in-memory connection per case -- no process or socket per case. Outcomes: ``answered
  <status>``, ``fault <class>``, ``http <status>`` (a refusal before XMLVend: 400, 413 ...).
  Unhandled: an exception out of the protocol, an error logged by the server (its generic
  ``SystemEx`` with an incident number is how it answers an exception nothing mapped), an
  HTTP 500 whose body is not a SOAP fault, a traceback in a body, no answer at all after the
  deadline, or a SOAP answer that is not valid against the strict schema.
"""

from __future__ import annotations

import logging
import re
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lxml import etree
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock

from tools.fuzz.seeds import VOUCHER_PRODUCT
from tools.gen_stock import ProductSpec, generate_rows, render_csv
from utilities.demo import seed_utilities
from utilities.demo_behaviours import DemoBehaviours
from utilities.embedded import EmbeddedBackend
from utilities.service import Routing, UtilityServiceImpl, embedded_settings
from vending.config import Config, SecurityConfig, ServerConfig, UtilitiesConfig
from vending.demo import seed_core
from vending.keyring import Keyring, MasterKey
from vending.money import Money
from vending.services.wiring import build_application
from vending.storage import migrate
from vending.storage.database import Database, Txn
from vending.vendors import adjust_vendor_balance
from vending.vouchers.importer import StockImporter, StockUpload
from vending.vouchers.suppliers import add_supplier
from xmlvend.codec import parse_request, render_codec_error
from xmlvend.codec.envelope import is_fault, open_envelope, read_fault
from xmlvend.codec.errors import CodecError
from xmlvend.codec.faults import SoapFault
from xmlvend.codec.messages import UnsupportedRequest
from xmlvend.codec.namespaces import BASE
from xmlvend.codec.schema import strict_schema
from xmlvend.codec.types_base import EANDeviceID
from xmlvend.server.accesslog import AccessLog
from xmlvend.server.app import build_server
from xmlvend.server.auth import call_now
from xmlvend.server.parsing import parse_now
from xmlvend.transport.asyncdb import ImmediateDatabase

FUZZ_FLOAT = Money.parse("1000000000.00", "ZAR")  # no fuzz run spends it
START = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)  # a fixed moment in the STS 2014 TID era
SERVER_ID = EANDeviceID(ean="6004708000007")
# The client's own msgIDs are echoed verbatim (the one documented schema exception).
_ECHOED_MSG_ID = re.compile(
    rb'(<b:(?:reqMsgID|adviceReqMsgID)) dateTime="[^"]*" uniqueNumber="[^"]*"'
)


class _ErrorLog(logging.Handler):
    """Counts the ERROR records the server logs while a case runs."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class FuzzClock:
    """The server's clock: one second further for each case."""

    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def tick(self) -> None:
        self.now += timedelta(seconds=1)


class _Transport:
    """The server side of an in-memory connection (see tests/xmlvend/server)."""

    disconnecting = False

    def __init__(self) -> None:
        self.written = bytearray()
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


@dataclass
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: bytes


def parse_http(data: bytes) -> HttpAnswer | None:
    """The first complete HTTP/1.1 response in ``data`` (Content-Length framed)."""
    head, sep, rest = bytes(data).partition(b"\r\n\r\n")
    if not sep:
        return None
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", len(rest)))
    if len(rest) < length:
        return None
    return HttpAnswer(int(lines[0].split()[1]), headers, rest[:length])


def codec_outcome(body: bytes) -> tuple[str, str | None]:
    """(outcome, traceback text or None) of ``body`` through the codec alone."""
    try:
        request = parse_request(body)
    except CodecError as error:
        try:
            render_codec_error(error, server_id=SERVER_ID)
        except Exception as exc:  # rendering our own fault failed
            return f"UNHANDLED rendering {type(exc).__name__}", _traceback()
        return f"fault {error.fault_class}", None
    except Exception as exc:
        return f"UNHANDLED {type(exc).__name__}", _traceback()
    if isinstance(request, UnsupportedRequest):
        return f"unsupported {request.operation}", None
    return f"parsed {request.operation}", None


def _traceback() -> str:
    import traceback

    return traceback.format_exc()


@dataclass
class ServerTarget:
    """The in-process server (see the module docstring). ``close()`` when done."""

    vouchers: int = 2000
    directory: tempfile.TemporaryDirectory = field(
        default_factory=lambda: tempfile.TemporaryDirectory(prefix="evd-fuzz-")
    )

    def __post_init__(self) -> None:
        path = Path(self.directory.name) / "fuzz.db"
        self.database = Database(f"sqlite:///{path}", pool_size=2)
        migrate.upgrade(self.database.engine)
        self.keyring = Keyring(MasterKey.generate())
        self._seed()
        # The demo configuration: the demo meters' test behaviours (slow, upstream failure)
        # are on, so their paths are fuzzed too.
        self.config = Config(
            server=ServerConfig(deadline_seconds=8.0),
            security=SecurityConfig(scrypt_log_n=10),
            utilities=UtilitiesConfig(test_behaviours=True),
        )
        self.reactor = Clock()
        self.clock = FuzzClock()
        runner = ImmediateDatabase(self.database)
        service: Any = UtilityServiceImpl(
            runner,
            self.keyring,
            EmbeddedBackend(self.keyring, embedded_settings(self.config)),
            reactor=self.reactor,
            routing=Routing(),
            clock=self.clock,
        )
        service = DemoBehaviours.from_config(
            self.config, service, runner, self.keyring, self.reactor
        )
        app = build_application(
            self.config,
            reactor=self.reactor,
            runner=runner,
            database=self.database,
            keyring=self.keyring,
            utility=service,
            clock=self.clock,
        )
        quiet = logging.getLogger("evd.fuzz.access")
        quiet.propagate = False
        quiet.setLevel(logging.WARNING)
        self.server = build_server(
            self.config,
            reactor=self.reactor,
            app=app,
            call_blocking=call_now,
            clock=self.clock,
            access_log=AccessLog(quiet),
            parse=parse_now,
        )
        self.server.start()
        self.errors = _ErrorLog()
        logging.getLogger().addHandler(self.errors)
        # The server's own INFO lines (delayed vends ...) are noise at 100 000 cases; the
        # level is given back at close (the target also runs inside the test suite).
        evd_logger = logging.getLogger("evd")
        self._evd_level = evd_logger.level
        evd_logger.setLevel(logging.ERROR)

    def _seed(self) -> None:
        def float_up(txn: Txn) -> None:
            for client_id in ("6004708000090", "6004708000106"):
                adjust_vendor_balance(txn, client_id, FUZZ_FLOAT, reason="fuzz", actor="fuzz")
            add_supplier(
                txn,
                code="FUZZ",
                name="Fuzz airtime",
                account_code="supplier:VOUCHERS",
                currency="ZAR",
                key=None,
                require_signature=False,
                actor="fuzz",
            )

        self.database.run_txn("fuzz_core", seed_core, password_log_n=10)
        self.database.run_txn("fuzz_utilities", seed_utilities, self.keyring)
        self.database.run_txn("fuzz_float", float_up)
        if self.vouchers:
            rows = generate_rows([ProductSpec(VOUCHER_PRODUCT, "10.00", 16)], self.vouchers)
            import hashlib

            plaintext = render_csv(rows)
            upload = StockUpload(
                "FUZZ", "fuzz.csv", hashlib.sha256(plaintext).hexdigest(), plaintext
            )
            StockImporter(self.database, self.keyring).import_upload(upload, actor="fuzz")

    def close(self) -> None:
        logging.getLogger().removeHandler(self.errors)
        logging.getLogger("evd").setLevel(self._evd_level)
        self.server.stop()
        self.database.close()
        self.directory.cleanup()

    # --- one case -------------------------------------------------------------------------

    def post(self, body: bytes, content_type: str = "text/xml; charset=utf-8") -> HttpAnswer | None:
        transport = _Transport()
        protocol = self.server.site.buildProtocol(IPv4Address("TCP", "10.0.0.7", 50000))
        protocol.makeConnection(transport)
        head = (
            "POST /xmlvend HTTP/1.1\r\nHost: vend.example:8080\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        protocol.dataReceived(head.encode("latin-1") + body)
        answer = parse_http(transport.written)
        waited = 0.0
        while answer is None and waited < self.config.server.deadline_seconds + 4:
            self.reactor.advance(1.0)  # the deadline and slow vends run on the fake reactor
            waited += 1.0
            answer = parse_http(transport.written)
        protocol.connectionLost(_closed())
        return answer

    def outcome(
        self, body: bytes, content_type: str = "text/xml; charset=utf-8"
    ) -> tuple[str, str | None]:
        """(outcome, details for an unhandled one) of ``body`` through the server."""
        self.clock.tick()
        self.errors.records.clear()
        try:
            answer = self.post(body, content_type)
        except Exception as exc:
            return f"UNHANDLED {type(exc).__name__} out of the server", _traceback()
        if self.errors.records:
            record = self.errors.records[0]
            text = record.getMessage()
            if record.exc_info:
                import traceback

                text += "\n" + "".join(traceback.format_exception(*record.exc_info))
            kind = type(record.exc_info[1]).__name__ if record.exc_info else "error logged"
            return f"UNHANDLED {kind} (logged)", text
        if answer is None:
            return "UNHANDLED no answer", None
        if b"Traceback" in answer.body:
            return "UNHANDLED traceback in the answer", answer.body.decode("utf-8", "replace")
        if "xml" not in answer.headers.get("content-type", ""):
            return f"http {answer.status}", None
        return self._soap_outcome(answer)

    def _soap_outcome(self, answer: HttpAnswer) -> tuple[str, str | None]:
        try:
            root = etree.fromstring(answer.body)
            _, payload = open_envelope(root)
        except Exception:
            return f"UNHANDLED http {answer.status}, not SOAP", answer.body[:2000].decode(
                "utf-8", "replace"
            )
        if is_fault(payload):
            detail = read_fault(payload)[3]
            found = None if detail is None else detail.find(f"{{{BASE}}}xmlvendFaultResp")
            if found is None:
                return "UNHANDLED a fault without xmlvendFaultResp", answer.body.decode()
            checked = found
            fault_class = _fault_class(answer.body)
        elif answer.status == 500:
            return "UNHANDLED http 500 without a SOAP fault", answer.body.decode()
        else:
            checked, fault_class = payload, None
        if not _strictly_valid(answer.body, checked):
            return "INVALID answer (strict schema)", str(strict_schema().error_log)[
                :2000
            ] + "\n" + (answer.body[:3000].decode("utf-8", "replace"))
        if fault_class is not None:
            return f"fault {fault_class}", None
        return f"answered {etree.QName(payload).localname}", None


def _fault_class(body: bytes) -> str:
    from xmlvend.codec import parse_response

    parsed = parse_response(body)
    return parsed.fault_class if isinstance(parsed, SoapFault) else "?"


def _strictly_valid(body: bytes, element: etree._Element) -> bool:
    if _ECHOED_MSG_ID.search(body):
        cleaned = _ECHOED_MSG_ID.sub(rb'\1 dateTime="20250101000000" uniqueNumber="1"', body)
        _, payload = open_envelope(etree.fromstring(cleaned))
        if is_fault(payload):
            detail = read_fault(payload)[3]
            payload = detail.find(f"{{{BASE}}}xmlvendFaultResp") if detail is not None else payload
        element = payload
    return bool(strict_schema().validate(element))


def _closed() -> Any:
    from twisted.internet.error import ConnectionDone
    from twisted.python.failure import Failure

    return Failure(ConnectionDone())
