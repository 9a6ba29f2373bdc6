"""The 10-second bound, on a fake clock: every request is answered at the deadline at the
latest; a vend still running then is answered "delayed" and completes (or fails, refunded)
in the background, and a later last-response advice returns its definitive answer."""

from __future__ import annotations

import dataclasses
from typing import Any

from server_support import (
    NORMAL_METER,
    PLATFORM,
    PLATFORM_OPERATOR,
    SLOW_METER,
    World,
    advice,
    build_world,
    confirm_meter,
    credit_vend,
    make_config,
)
from twisted.internet.defer import Deferred, fail

from utilities.errors import UpstreamUnavailable
from utilities.service import Routing, UtilityServiceImpl
from vending.config import UpstreamRoute, UtilitiesConfig
from vending.money import Money
from xmlvend.client import XMLVendConnectError, XMLVendTimeout
from xmlvend.codec import SoapFault, parse_response, render_request
from xmlvend.codec import types_base as b
from xmlvend.codec import types_revenue as r
from xmlvend.transport.asyncdb import ImmediateDatabase
from xmlvend.upstream.backend import UpstreamBackend
from xmlvend.upstream.messages import MoneyReader

DEADLINE = 8.0


def delayed_fault(response: Any) -> SoapFault:
    fault = response.parsed()
    assert isinstance(fault, SoapFault)
    assert fault.fault_class == "TransactionDelayedEx", fault.desc
    return fault


def last_response(world: World, original: b.MsgID) -> Any:
    return world.call(advice(b.LastRespAdviceReq, world.header(), original))


# --- a service of our own that answers only when released -----------------------------------------


class HeldService:
    """Wraps the real utility service: ``confirm_meter`` and ``credit_vend`` answer only
    when the test releases them (an upstream that sleeps as long as it likes)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.held: list[tuple[Deferred, Any]] = []
        self.holding = True  # until released; then calls go straight through

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def confirm_meter(self, meter: Any) -> Deferred:
        if not self.holding:
            return self.inner.confirm_meter(meter)
        d: Deferred = Deferred()
        self.held.append((d, lambda: self.inner.confirm_meter(meter)))
        return d

    def credit_vend(self, ctx: Any, purchase: Any, renderer: Any) -> Deferred:
        if not self.holding:
            return self.inner.credit_vend(ctx, purchase, renderer)
        d: Deferred = Deferred()
        self.held.append((d, lambda: self.inner.credit_vend(ctx, purchase, renderer)))
        return d

    def release(self) -> None:
        self.holding = False
        for d, work in self.held:
            work().chainDeferred(d)
        self.held.clear()

    def fail(self, error: Exception) -> None:
        self.holding = False
        for d, _work in self.held:
            d.errback(error)
        self.held.clear()


def held_world(database: Any, keyring: Any, sentinel: Any) -> tuple[World, HeldService]:
    world = build_world(database, keyring, sentinel, vouchers=0)
    held = HeldService(world.service)
    services = dataclasses.replace(
        world.server.endpoint.services, app=world.server.endpoint.services.app.with_utility(held)
    )
    world.server.endpoint.services = services
    return world, held


def test_a_vend_past_the_deadline_is_answered_delayed_then_completes(
    database: Any, keyring: Any, secrets_sentinel: Any
) -> None:
    world, held = held_world(database, keyring, secrets_sentinel)
    request = credit_vend(world.header(), NORMAL_METER)
    connection = world.connect()
    connection.post(render_request(request), wait=False)
    world.reactor.advance(DEADLINE - 0.01)
    assert connection.transport.value() == b""  # still within the deadline
    world.reactor.advance(0.01)
    fault = delayed_fault(connection.last())
    assert "LastRespAdviceReq" in fault.desc
    assert request.header.msg_id.unique_number in fault.desc
    # Not claimed in the database yet, but running: the advice says so.
    delayed_fault(last_response(world, request.header.msg_id))

    world.reactor.advance(22)  # the upstream's 30 s are over
    held.release()
    vend = last_response(world, request.header.msg_id).parsed()
    assert isinstance(vend, b.LastRespAdviceResp)
    assert isinstance(vend.last_response, r.CreditVendResp)
    # And the retry of the original request gets the stored vend, not a second one.
    balance = world.balance()
    assert isinstance(world.call(request).parsed(), r.CreditVendResp)
    assert world.balance() == balance
    assert 'evd_xmlvend_late_completions_total{outcome="ok"} 1' in (
        world.server.metrics.render().decode()
    )


def test_a_vend_failing_after_the_deadline_stores_its_fault(
    database: Any, keyring: Any, secrets_sentinel: Any
) -> None:
    world, held = held_world(database, keyring, secrets_sentinel)
    balance = world.balance()
    request = credit_vend(world.header(), NORMAL_METER)
    connection = world.connect()
    connection.post(render_request(request), wait=False)
    world.reactor.advance(30)
    delayed_fault(connection.last())
    held.fail(UpstreamUnavailable("the utility's vending server is unavailable"))
    answer = last_response(world, request.header.msg_id).parsed()
    assert isinstance(answer, b.LastRespAdviceResp)
    stored = answer.last_response
    assert isinstance(stored, b.XMLVendFaultResp)
    assert type(stored.fault).__name__ == "SystemEx"
    assert world.balance() == balance


def test_a_read_only_request_gets_a_system_fault_at_the_deadline(
    database: Any, keyring: Any, secrets_sentinel: Any
) -> None:
    world, held = held_world(database, keyring, secrets_sentinel)
    connection = world.connect()
    connection.post(render_request(confirm_meter(world.header(), NORMAL_METER)), wait=False)
    world.reactor.advance(DEADLINE)
    fault = connection.last().parsed()
    assert fault.fault_class == "SystemEx"
    assert "nothing was changed" in fault.desc
    held.release()  # late: logged, nothing written to the closed exchange
    assert len(connection.responses()) == 1


def test_the_demo_slow_meter_completes_in_the_background(world: World) -> None:
    request = credit_vend(world.header(), SLOW_METER)
    connection = world.connect()
    connection.post(render_request(request), wait=False)
    world.reactor.advance(DEADLINE)
    delayed_fault(connection.last())
    # Claimed by the utility service: the advice sees it running, the retry too.
    delayed_fault(last_response(world, request.header.msg_id))
    delayed_fault(world.call(request))
    world.reactor.advance(3)
    vend = last_response(world, request.header.msg_id).parsed()
    assert isinstance(vend.last_response, r.CreditVendResp)


# --- through the real upstream route: the utility's answer sleeps 30 s ----------------------------


class InMemoryUtility:
    """An XMLVendClient stand-in: the utility is our own server (another world) called in
    memory; its answer comes ``latency`` seconds later on the shared fake clock, or the
    call times out after ``timeout`` like the real client."""

    def __init__(self, utility: World, reactor: Any, timeout: float) -> None:
        self.utility = utility
        self.reactor = reactor
        self.timeout = timeout
        self.latencies: list[float] = []
        self.down = False
        self.calls: list[str] = []

    def call(self, request: Any, *, timeout: float | None = None) -> Deferred:
        self.calls.append(type(request).__name__)
        if self.down:
            return fail(XMLVendConnectError("connection refused"))
        outcome = self.utility.server.endpoint.handle(render_request(request)).result
        latency = self.latencies.pop(0) if self.latencies else 0.0
        limit = timeout or self.timeout
        d: Deferred = Deferred()
        if latency > limit:
            self.reactor.callLater(limit, d.errback, XMLVendTimeout("no answer in time"))
        else:
            self.reactor.callLater(latency, d.callback, parse_response(outcome.body))
        return d


def upstream_world(
    database: Any, keyring: Any, sentinel: Any, utility: World
) -> tuple[World, InMemoryUtility]:
    route = UpstreamRoute(
        sgc="123456",
        name="demo-utility",
        url="http://utility.test/xmlvend",
        client_id=PLATFORM,
        op_name=PLATFORM_OPERATOR[0],
        password=PLATFORM_OPERATOR[1],
        timeout_seconds=5.0,
    )
    config = dataclasses.replace(
        make_config(),
        utilities=UtilitiesConfig(routes=(route,), recovery_poll_seconds=1.0),
    )
    front = build_world(database, keyring, sentinel, vouchers=0, config=config)
    client = InMemoryUtility(utility, front.reactor, route.timeout_seconds)
    runner = ImmediateDatabase(database)
    backend = UpstreamBackend(
        route,
        runner,
        keyring,
        client,  # type: ignore[arg-type]
        front.reactor,
        money=MoneyReader("ZAR", {"R": "ZAR"}),
        poll_seconds=1.0,
        clock=front.clock,
    )
    service = UtilityServiceImpl(
        runner,
        keyring,
        front.service.embedded,
        reactor=front.reactor,
        routing=Routing(config.utilities.routes, "embedded"),
        upstreams={route.route_name: backend},
        clock=front.clock,
    )
    front.server.endpoint.services = dataclasses.replace(
        front.server.endpoint.services, app=front.server.endpoint.services.app.with_utility(service)
    )
    front.service = service
    front.server.services = front.server.endpoint.services.app
    service.start({"xmlvend": front.server.renderer})
    return front, client


def test_an_upstream_answering_after_30_s(
    database: Any, keyring: Any, secrets_sentinel: Any, lite_world: World
) -> None:
    front, utility = upstream_world(database, keyring, secrets_sentinel, lite_world)
    balance = front.balance()
    utility.latencies = [30.0]  # the vend's answer sleeps 30 s; advices are answered at once
    request = credit_vend(front.header(), NORMAL_METER, "100.00")
    connection = front.connect()
    connection.post(render_request(request), wait=False)
    for _ in range(int(DEADLINE * 10) + 1):
        front.reactor.advance(0.1)
    delayed_fault(connection.last())
    assert front.balance() == balance - Money.parse("98.00", "ZAR")  # held, not lost
    for _ in range(200):  # the route recovers the vend with a last-response advice
        front.reactor.advance(0.1)
    assert "LastRespAdviceReq" in utility.calls
    vend = last_response(front, request.header.msg_id).parsed()
    assert isinstance(vend, b.LastRespAdviceResp), vend
    assert isinstance(vend.last_response, r.CreditVendResp)
    token = vend.last_response.credit_vend_receipt.transactions.tx[0].credit_token_issue.token
    assert len(token.sts_cipher) == 20 and token.sts_cipher != "0" * 20
    assert front.balance() == balance - Money.parse("98.00", "ZAR")


def test_an_unreachable_upstream_refunds_the_vendor(
    database: Any, keyring: Any, secrets_sentinel: Any, lite_world: World
) -> None:
    front, utility = upstream_world(database, keyring, secrets_sentinel, lite_world)
    balance = front.balance()
    utility.down = True
    request = credit_vend(front.header(), NORMAL_METER, "100.00")
    response = front.call(request)
    fault = response.parsed()
    assert isinstance(fault, SoapFault) and fault.fault_class == "SystemEx"
    assert front.balance() == balance
    # The definitive failure was stored: the retry and the advice replay it.
    assert front.call(request).body == response.body
    assert isinstance(
        last_response(front, request.header.msg_id).parsed().last_response, b.XMLVendFaultResp
    )


def test_stopping_waits_for_work_in_flight_without_abandoning_it(
    database: Any, keyring: Any, secrets_sentinel: Any
) -> None:
    world, held = held_world(database, keyring, secrets_sentinel)
    request = credit_vend(world.header(), NORMAL_METER)
    connection = world.connect()
    connection.post(render_request(request), wait=False)
    stopped = world.server.stop(grace_seconds=20)
    world.reactor.advance(DEADLINE)
    delayed_fault(connection.last())
    assert not stopped.called
    world.reactor.advance(20)  # the grace period is over: stop, but the work goes on
    assert stopped.called
    held.release()
    vend = last_response(world, request.header.msg_id).parsed()
    assert isinstance(vend.last_response, r.CreditVendResp)
