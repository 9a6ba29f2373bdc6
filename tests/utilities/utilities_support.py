"""Fixtures of the utility-side tests: a seeded world (core demo data + the utility demo:
keys, tariffs, test meters), a recording renderer, a controllable clock, and a reactor
running in a background thread for the loopback tests."""

from __future__ import annotations

import hashlib
import itertools
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.python.failure import Failure

from utilities.demo import seed_utilities
from utilities.demo_behaviours import DemoBehaviours
from utilities.embedded import EmbeddedBackend
from utilities.interface import (
    CreditVendResult,
    EngineeringToken,
    MeterQuery,
    PaymentResult,
    Purchase,
    RequestContext,
)
from utilities.service import Routing, UtilityServiceImpl, embedded_settings
from vending.auth import Principal
from vending.config import Config, ServerConfig, UtilitiesConfig
from vending.demo import seed_core
from vending.keyring import Keyring
from vending.money import Money
from vending.requests import RequestKey, StoredResponse
from vending.sales import Sale
from vending.storage.database import Database, Txn
from vending.storage.schema import accounts, vendors
from vending.vendors import parse_privileges
from xmlvend.transport.asyncdb import ImmediateDatabase

CORNER_CAFE = "6004708000090"
PLATFORM = "6004708000106"
# A fixed moment in the 2014 TID era (the 1993 era ended 2024-11-24).
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def result_of(d: Deferred) -> Any:
    """The result of an already fired Deferred (ImmediateDatabase); raises its failure."""
    box: list[Any] = []
    d.addBoth(box.append)
    assert box, "the Deferred has not fired"
    if isinstance(box[0], Failure):
        box[0].raiseException()
    return box[0]


@dataclass
class Rendered:
    kind: str
    request: Any
    result: Any
    sale: Sale | None = None
    balance: Money | None = None


class RecordingRenderer:
    """A ResponseRenderer that remembers what it rendered; the body names the entry."""

    def __init__(self) -> None:
        self.rendered: list[Rendered] = []
        self._lock = threading.Lock()

    def _store(self, entry: Rendered, status: int = 200) -> StoredResponse:
        with self._lock:
            self.rendered.append(entry)
            index = len(self.rendered) - 1
        return StoredResponse(f"{entry.kind}:{index}".encode(), status)

    def vend(
        self, request: Any, result: CreditVendResult, sale: Sale | None, balance: Money | None
    ) -> StoredResponse:
        return self._store(Rendered("vend", request, result, sale, balance))

    def engineering(self, request: Any, token: EngineeringToken) -> StoredResponse:
        return self._store(Rendered("engineering", request, token))

    def payment(
        self, request: Any, result: PaymentResult, sale: Sale, balance: Money
    ) -> StoredResponse:
        return self._store(Rendered("payment", request, result, sale, balance))

    def failure(self, request: Any, error: Exception) -> StoredResponse:
        return self._store(Rendered("failure", request, error), 500)

    def load(self, request_body: bytes) -> Any:
        return {"loaded": request_body}

    def entry(self, response: StoredResponse) -> Rendered:
        kind, _, index = response.body.decode().partition(":")
        entry = self.rendered[int(index)]
        assert entry.kind == kind
        return entry


@dataclass
class MutableClock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


_request_ids = itertools.count(1)


def principal_for(database: Database, client_id: str) -> Principal:
    def load(txn: Txn) -> Principal:
        row = txn.execute(
            vendors.select()
            .with_only_columns(
                vendors.c.id,
                vendors.c.name,
                vendors.c.address,
                vendors.c.account_id,
                vendors.c.privileges,
            )
            .where(vendors.c.client_id == client_id)
        ).one()
        currency = txn.execute(
            accounts.select()
            .with_only_columns(accounts.c.currency)
            .where(accounts.c.id == row.account_id)
        ).scalar_one()
        return Principal(
            vendor_id=row.id,
            client_id=client_id,
            vendor_name=row.name,
            vendor_address=row.address,
            account_id=row.account_id,
            currency=currency,
            operator_id=None,
            operator_name=None,
            privileges=parse_privileges(row.privileges),
        )

    return database.run_txn("test_principal", load)


def vendor_balance(database: Database, client_id: str) -> Money:
    def load(txn: Txn) -> Money:
        row = txn.execute(
            accounts.select()
            .with_only_columns(accounts.c.balance, accounts.c.currency)
            .join(vendors, vendors.c.account_id == accounts.c.id)
            .where(vendors.c.client_id == client_id)
        ).one()
        return Money(row.balance, row.currency)

    return database.run_txn("test_balance", load)


def make_context(
    principal: Principal,
    operation: str = "creditVend",
    request_id: str | None = None,
    fingerprint: bytes | None = None,
    request: Any = None,
) -> RequestContext:
    request_id = request_id or f"req-{next(_request_ids)}"
    return RequestContext(
        key=RequestKey(
            channel="xmlvend",
            client_id=principal.client_id,
            request_id=request_id,
            operation=operation,
            fingerprint=fingerprint or hashlib.sha256(request_id.encode()).digest(),
        ),
        principal=principal,
        terminal_id="1",
        request=request if request is not None else {"id": request_id},
        request_body=f"<request id='{request_id}'/>".encode(),
        received_at=NOW,
    )


def make_config(**utilities: Any) -> Config:
    """The test world is the demo configuration: the demo meters' test behaviours are on
    (utilities.demo_behaviours), unless a test says otherwise."""
    utilities.setdefault("test_behaviours", True)
    return Config(
        server=ServerConfig(deadline_seconds=2.0),
        utilities=UtilitiesConfig(**utilities),
    )


@dataclass
class World:
    database: Database
    keyring: Keyring
    clock: MutableClock
    reactor: Clock
    service: UtilityServiceImpl
    renderer: RecordingRenderer
    cafe: Principal
    platform: Principal
    config: Config
    extra: dict[str, Any] = field(default_factory=dict)

    def vend(
        self,
        msno: str,
        amount: str | None = "100.00",
        *,
        principal: Principal | None = None,
        units: str | None = None,
        query: MeterQuery | None = None,
        request_id: str | None = None,
        tender: str | None = None,
    ) -> Any:
        from decimal import Decimal

        ctx = make_context(principal or self.cafe, request_id=request_id)
        purchase = Purchase(
            meter=query or MeterQuery(msno),
            amount=None if amount is None else Money.parse(amount, "ZAR"),
            units=None if units is None else Decimal(units),
            tender=None if tender is None else Money.parse(tender, "ZAR"),
        )
        return result_of(self.service.credit_vend(ctx, purchase, self.renderer))

    def rendered(self, processed: Any) -> Rendered:
        return self.renderer.entry(processed.response)

    def balance(self, client_id: str = CORNER_CAFE) -> Money:
        return vendor_balance(self.database, client_id)


def build_world(database: Database, keyring: Keyring, **utilities: Any) -> World:
    database.run_txn("seed_core", seed_core, password_log_n=10)
    database.run_txn("seed_utilities", seed_utilities, keyring)
    config = make_config(**utilities)
    clock = MutableClock()
    reactor = Clock()
    embedded = EmbeddedBackend(keyring, embedded_settings(config))
    runner = ImmediateDatabase(database)
    service: Any = UtilityServiceImpl(
        runner,
        keyring,
        embedded,
        reactor=reactor,
        routing=Routing(config.utilities.routes, config.utilities.default_backend),
        clock=clock,
    )
    if config.utilities.test_behaviours:
        service = DemoBehaviours.from_config(config, service, runner, keyring, reactor)
    return World(
        database=database,
        keyring=keyring,
        clock=clock,
        reactor=reactor,
        service=service,
        renderer=RecordingRenderer(),
        cafe=principal_for(database, CORNER_CAFE),
        platform=principal_for(database, PLATFORM),
        config=config,
    )
