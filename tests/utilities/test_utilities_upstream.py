"""The upstream route over loopback against a scripted utility server: settled, refused,
slow past the timeout, down, unusable answers, and recovery after a restart. No vend is
lost: the vendor pays once for a delivered vend and is refunded for a definitive failure."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from fake_utility import TOKEN, FakeUtility, Script
from sqlalchemy import select
from twisted.internet.threads import blockingCallFromThread
from twisted.web.server import Site
from utilities_support import CORNER_CAFE, RecordingRenderer, World, build_world, make_context

from utilities.errors import UpstreamFault, UpstreamUnavailable
from utilities.interface import MeterQuery, Purchase
from utilities.service import Routing, UtilityServiceImpl
from utilities.tables import upstream_vends
from vending.config import Config, ServerConfig, UpstreamRoute, UtilitiesConfig
from vending.keyring import Keyring
from vending.money import Money
from vending.sales import get_sale
from vending.storage.database import Database, Txn
from xmlvend.transport.asyncdb import ImmediateDatabase
from xmlvend.upstream.backend import UpstreamBackend

UPSTREAM_METER = "47500150231"  # not in our registry: served by the "*" route
TIMEOUT = 0.4


@dataclass
class Upstream:
    world: World
    fake: FakeUtility
    reactor: Any
    url: str
    port: Any

    def service(self, url: str | None = None) -> UtilityServiceImpl:
        route = UpstreamRoute(
            sgc="*", name="fake", url=url or self.url, client_id="6004708000999",
            timeout_seconds=TIMEOUT,
        )  # fmt: skip
        config = Config(
            server=ServerConfig(deadline_seconds=2.0),
            utilities=UtilitiesConfig(
                routes=(route,), recovery_poll_seconds=0.2, recovery_max_delay_seconds=0.4
            ),
        )
        runner = ImmediateDatabase(self.world.database)
        backend = UpstreamBackend.from_config(
            route, config, runner, self.world.keyring, self.reactor
        )
        return UtilityServiceImpl(
            runner,
            self.world.keyring,
            self.world.service.embedded,
            reactor=self.reactor,
            routing=Routing((route,)),
            upstreams={"fake": backend},
        )

    def vend(self, service: UtilityServiceImpl, request_id: str, amount: str = "100.00") -> Any:
        ctx = make_context(self.world.cafe, request_id=request_id)
        purchase = Purchase(MeterQuery(UPSTREAM_METER), amount=Money.parse(amount, "ZAR"))
        return blockingCallFromThread(
            self.reactor, service.credit_vend, ctx, purchase, self.world.renderer
        )

    def rows(self) -> list[Any]:
        def read(txn: Txn) -> list[Any]:
            return list(txn.execute(select(upstream_vends)).all())

        return self.world.database.run_txn("rows", read)


@pytest.fixture
def upstream(database: Database, keyring: Keyring, running_reactor: Any) -> Iterator[Upstream]:
    world = build_world(database, keyring)
    fake = FakeUtility(running_reactor)
    port = blockingCallFromThread(
        running_reactor, running_reactor.listenTCP, 0, Site(fake), interface="127.0.0.1"
    )
    url = f"http://127.0.0.1:{port.getHost().port}/xmlvend"
    try:
        yield Upstream(world, fake, running_reactor, url, port)
    finally:
        blockingCallFromThread(running_reactor, port.stopListening)


def sale_of(upstream: Upstream, processed: Any) -> Any:
    entry = upstream.world.rendered(processed)
    if entry.sale is not None:
        return entry.sale
    (row,) = upstream.rows()
    return upstream.world.database.run_txn("sale", get_sale, row.sale_id)


def test_settled_vend(upstream: Upstream) -> None:
    service = upstream.service()
    before = upstream.world.balance()
    processed = upstream.vend(service, "up-ok")
    entry = upstream.world.rendered(processed)
    assert entry.kind == "vend"
    result = entry.result
    assert result.token.token == TOKEN and result.utility_receipt_no == "UP000001"
    assert result.credit + result.credit_tax == Money.parse("100.00", "ZAR")
    assert entry.sale.state == "completed" and entry.sale.external_ref == "UP000001"
    assert upstream.world.balance() == before - Money.parse("98.00", "ZAR")
    assert [row.state for row in upstream.rows()] == ["settled"]
    replay = upstream.vend(service, "up-ok")
    assert replay.replayed and replay.response == processed.response
    assert len(upstream.fake.vends) == 1


def test_refused_vend_is_refunded(upstream: Upstream) -> None:
    upstream.fake.script = Script(mode="fault", fault_class="UnknownMeterEx")
    before = upstream.world.balance()
    processed = upstream.vend(upstream.service(), "up-refused")
    entry = upstream.world.rendered(processed)
    assert entry.kind == "failure" and isinstance(entry.result, UpstreamFault)
    assert entry.result.fault_class == "UnknownMeterEx"
    assert sale_of(upstream, processed).state == "failed"
    assert upstream.world.balance() == before
    assert [row.state for row in upstream.rows()] == ["failed"]


def test_slow_utility_past_the_timeout_is_recovered_with_an_advice(upstream: Upstream) -> None:
    upstream.fake.script = Script(answer_delay=TIMEOUT * 3)
    service = upstream.service()
    blockingCallFromThread(upstream.reactor, service.start, upstream.world.renderer)
    try:
        before = upstream.world.balance()
        started = time.monotonic()
        processed = upstream.vend(service, "up-slow")
        assert time.monotonic() - started > TIMEOUT
    finally:
        blockingCallFromThread(upstream.reactor, service.stop)
    entry = upstream.world.rendered(processed)
    assert entry.kind == "vend" and entry.result.token.token == TOKEN
    assert upstream.fake.advices >= 1 and len(upstream.fake.vends) == 1
    assert upstream.world.balance() == before - Money.parse("98.00", "ZAR")
    assert [row.state for row in upstream.rows()] == ["settled"]


def test_utility_down_refunds_at_once(upstream: Upstream) -> None:
    before = upstream.world.balance()
    service = upstream.service(url="http://127.0.0.1:1/xmlvend")
    processed = upstream.vend(service, "up-down")
    entry = upstream.world.rendered(processed)
    assert entry.kind == "failure" and isinstance(entry.result, UpstreamUnavailable)
    assert upstream.world.balance() == before
    assert [row.state for row in upstream.rows()] == ["failed"]


def test_unknown_outcome_then_no_such_vend_is_refunded(upstream: Upstream) -> None:
    # 503 to the vend (it may or may not have been processed), then the utility says it
    # has no such transaction: definitive, refund.
    upstream.fake.script = Script(mode="down503", advice_mode="lastresponse_ex")
    service = upstream.service()
    blockingCallFromThread(upstream.reactor, service.start, upstream.world.renderer)
    try:
        before = upstream.world.balance()
        processed = upstream.vend(service, "up-503")
    finally:
        blockingCallFromThread(upstream.reactor, service.stop)
    assert upstream.world.rendered(processed).kind == "failure"
    assert upstream.world.balance() == before
    assert upstream.fake.vends == []


def test_undeliverable_answer_is_refunded_and_reversed(upstream: Upstream) -> None:
    upstream.fake.script = Script(mode="notoken")
    service = upstream.service()
    before = upstream.world.balance()
    processed = upstream.vend(service, "up-notoken")
    assert upstream.world.rendered(processed).kind == "failure"
    assert upstream.world.balance() == before
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and upstream.rows()[0].reversal != "reversed":
        time.sleep(0.05)
    (row,) = upstream.rows()
    assert row.reversal == "reversed"
    assert upstream.fake.reversals == [(row.upstream_date_time, row.upstream_unique_number)]


def test_pending_vend_is_recovered_after_a_restart(upstream: Upstream) -> None:
    upstream.fake.script = Script(answer_delay=TIMEOUT * 2, advice_mode="down503")
    first = upstream.service()
    backend = first.upstreams["fake"]
    backend._schedule = lambda *args: None  # this "process" dies before recovering
    ctx = make_context(upstream.world.cafe, request_id="up-restart")
    purchase = Purchase(MeterQuery(UPSTREAM_METER), amount=Money.parse("50.00", "ZAR"))
    # Not waited for: its Deferred would only fire after a recovery this process never does.
    upstream.reactor.callFromThread(first.credit_vend, ctx, purchase, upstream.world.renderer)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not (upstream.fake.vends and upstream.rows()):
        time.sleep(0.05)
    time.sleep(TIMEOUT * 2.5)  # the vend timed out and its late answer went nowhere
    (row,) = upstream.rows()
    assert row.state == "pending"

    upstream.fake.script = Script()
    renderer = RecordingRenderer()
    second = upstream.service()
    blockingCallFromThread(upstream.reactor, second.start, renderer)
    try:
        while time.monotonic() < deadline + 5 and upstream.rows()[0].state == "pending":
            time.sleep(0.05)
    finally:
        blockingCallFromThread(upstream.reactor, second.stop)
    (row,) = upstream.rows()
    assert row.state == "settled"
    (entry,) = renderer.rendered
    assert entry.kind == "vend" and entry.request == {"loaded": b"<request id='up-restart'/>"}
    assert entry.result.token.token == TOKEN
    assert len(upstream.fake.vends) == 1
    assert upstream.world.balance(CORNER_CAFE) == upstream.world.balance(CORNER_CAFE)


def test_verify_is_forwarded_to_the_issuing_utility(upstream: Upstream) -> None:
    service = upstream.service()
    upstream.vend(service, "up-verify")
    query = MeterQuery(UPSTREAM_METER)
    result = blockingCallFromThread(
        upstream.reactor, service.verify_token, upstream.world.cafe, query, TOKEN
    )
    assert upstream.fake.verifies == 1
    assert result.meter.msno == UPSTREAM_METER and result.meter.sgc == "777777"
    assert result.token_info.token == TOKEN and result.token_info.tid == 1234567
    assert (result.token_info.token_class, result.token_info.subclass) == (0, 0)
    assert result.kind == "sale" and result.units == Decimal("40.2")
    assert result.credit == Money.parse("86.96", "ZAR")
    assert result.credit_tax == Money.parse("13.04", "ZAR") and result.tax_rate == Decimal(15)
    assert result.receipt_no == "UP000001" and result.tariff_name == "Upstream Flat"


def test_verify_of_a_token_the_utility_did_not_issue_is_its_fault(upstream: Upstream) -> None:
    service = upstream.service()
    with pytest.raises(UpstreamFault) as raised:
        blockingCallFromThread(
            upstream.reactor,
            service.verify_token,
            upstream.world.cafe,
            MeterQuery(UPSTREAM_METER),
            "11112222333344445555",
        )
    assert raised.value.fault_class == "VerifyTokenEx"


def test_verify_with_the_utility_down_is_unavailable(upstream: Upstream) -> None:
    service = upstream.service(url="http://127.0.0.1:1/xmlvend")
    with pytest.raises(UpstreamUnavailable):
        blockingCallFromThread(
            upstream.reactor,
            service.verify_token,
            upstream.world.cafe,
            MeterQuery(UPSTREAM_METER),
            TOKEN,
        )
