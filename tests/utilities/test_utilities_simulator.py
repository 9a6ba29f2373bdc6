"""End to end over loopback: our utility service on the upstream route -> the simulated
utility (our XMLVend server on the embedded backend, own database) with latency, faults
and outages. The tokens come from the simulator's engine and the meter simulator accepts
them; no vend is lost and the vendor is refunded on definitive failure."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from twisted.internet.threads import blockingCallFromThread
from twisted.python.failure import Failure
from utilities_support import World, build_world, make_context
from utility_meters import simulator_for

from tools.simulator import SimulatorServer, SimulatorSettings, build_simulated_utility
from utilities.demo import seed_utilities
from utilities.errors import UpstreamFault, UpstreamUnavailable
from utilities.interface import MeterQuery, Purchase
from utilities.service import Routing, UtilityServiceImpl
from vending.config import Config, ServerConfig, UpstreamRoute, UtilitiesConfig
from vending.demo import seed_core
from vending.keyring import Keyring, MasterKey
from vending.money import Money
from vending.storage.database import Database, Txn
from vending.storage.schema import sales
from xmlvend.transport.asyncdb import ImmediateDatabase
from xmlvend.upstream.backend import UpstreamBackend

TIMEOUT = 0.5


@dataclass
class Loop:
    world: World
    reactor: Any
    sim_db: Database
    resource: Any
    listener: SimulatorServer
    service: UtilityServiceImpl

    def start_vend(self, msno: str, request_id: str, amount: str = "100.00") -> Any:
        """Start a vend; returns a function waiting (bounded) for its outcome."""
        ctx = make_context(self.world.cafe, request_id=request_id)
        purchase = Purchase(MeterQuery(msno), amount=Money.parse(amount, "ZAR"))
        done = threading.Event()
        box: list[Any] = []

        def start() -> None:
            d = self.service.credit_vend(ctx, purchase, self.world.renderer)
            d.addBoth(lambda outcome: (box.append(outcome), done.set()))

        self.reactor.callFromThread(start)

        def wait(timeout: float = 20.0) -> Any:
            assert done.wait(timeout), "the vend did not finish"
            if isinstance(box[0], Failure):
                box[0].raiseException()
            return box[0]

        return wait

    def vend(self, msno: str, request_id: str, amount: str = "100.00") -> Any:
        return self.start_vend(msno, request_id, amount)()

    def simulator_sales(self) -> list[str]:
        def read(txn: Txn) -> list[str]:
            return [row.state for row in txn.execute(select(sales.c.state))]

        return self.sim_db.run_txn("sim_sales", read)


@pytest.fixture
def loop(
    database: Database,
    keyring: Keyring,
    running_reactor: Any,
    sqlite_template: Path,
    tmp_path: Path,
) -> Iterator[Loop]:
    world = build_world(database, keyring)
    # The utility: its own database, keys and meters (the same public demo keys).
    sim_path = tmp_path / "simulated-utility.db"
    shutil.copyfile(sqlite_template, sim_path)
    sim_db = Database(f"sqlite:///{sim_path}", pool_size=4)
    sim_keyring = Keyring(MasterKey.generate())
    sim_db.run_txn("seed_core", seed_core, password_log_n=10)
    sim_db.run_txn("seed_utilities", seed_utilities, sim_keyring)
    sim_config = Config(server=ServerConfig(deadline_seconds=3.0))
    resource, server = blockingCallFromThread(
        running_reactor,
        build_simulated_utility,
        sim_config,
        running_reactor,
        sim_db,
        sim_keyring,
        SimulatorSettings(),
    )
    listener = SimulatorServer(running_reactor, resource, 0, "127.0.0.1")
    blockingCallFromThread(running_reactor, listener.open)
    blockingCallFromThread(running_reactor, server.start)
    # We route supply group 123456 to it, as platform vendor with its operator.
    route = UpstreamRoute(
        sgc="123456", name="sim", url=f"http://127.0.0.1:{listener.port}/xmlvend",
        client_id="6004708000106", op_name="platform", password="demo5678",
        timeout_seconds=TIMEOUT,
    )  # fmt: skip
    config = Config(
        server=ServerConfig(deadline_seconds=2.0),
        utilities=UtilitiesConfig(
            routes=(route,), recovery_poll_seconds=0.25, recovery_max_delay_seconds=0.5
        ),
    )
    runner = ImmediateDatabase(database)
    backend = UpstreamBackend.from_config(route, config, runner, keyring, running_reactor)
    service = UtilityServiceImpl(
        runner,
        keyring,
        world.service.embedded,
        reactor=running_reactor,
        routing=Routing((route,)),
        upstreams={"sim": backend},
    )
    blockingCallFromThread(running_reactor, service.start, world.renderer)
    try:
        yield Loop(world, running_reactor, sim_db, resource, listener, service)
    finally:
        blockingCallFromThread(running_reactor, service.stop)
        blockingCallFromThread(running_reactor, server.stop, 0.1)
        blockingCallFromThread(running_reactor, listener.close)
        sim_db.close()


def test_vend_through_the_simulated_utility(loop: Loop) -> None:
    before = loop.world.balance()
    entry = loop.world.rendered(loop.vend("04100000019", "sim-ok"))
    assert entry.kind == "vend", entry.result
    result = entry.result
    meter = simulator_for("04100000019")
    outcome = meter.enter(result.token.token)
    assert outcome.accepted, outcome.message
    assert outcome.credited == int(result.token.units * 10)
    assert result.utility_receipt_no and entry.sale.external_ref == result.utility_receipt_no
    assert loop.world.balance() == before - Money.parse("98.00", "ZAR")
    assert loop.simulator_sales() == ["completed"]


def test_slow_utility_past_the_deadline_loses_no_vend(loop: Loop) -> None:
    loop.resource.settings.latency = TIMEOUT * 2.5
    before = loop.world.balance()
    started = time.monotonic()
    wait = loop.start_vend("04100000019", "sim-slow")
    # The utility vends at once and answers late; our call times out. Its next answers
    # (our last-response advices) come in time again.
    deadline = time.monotonic() + 10
    while loop.simulator_sales() != ["completed"] and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(TIMEOUT)
    loop.resource.settings.latency = 0.0
    entry = loop.world.rendered(wait())
    assert time.monotonic() - started > TIMEOUT
    assert entry.kind == "vend", entry.result
    assert simulator_for("04100000019").enter(entry.result.token.token).accepted
    assert loop.world.balance() == before - Money.parse("98.00", "ZAR")
    assert loop.simulator_sales() == ["completed"]


def test_utility_down_refunds(loop: Loop) -> None:
    blockingCallFromThread(loop.reactor, loop.resource.set_outage, "refuse")
    before = loop.world.balance()
    entry = loop.world.rendered(loop.vend("04100000019", "sim-down"))
    assert entry.kind == "failure" and isinstance(entry.result, UpstreamUnavailable)
    assert loop.world.balance() == before
    assert loop.simulator_sales() == []


def test_outage_then_no_such_vend_refunds(loop: Loop) -> None:
    # 503 without processing; when the utility is back it has no such vend: refund.
    blockingCallFromThread(loop.reactor, loop.resource.set_outage, "503", TIMEOUT * 3)
    before = loop.world.balance()
    started = time.monotonic()
    entry = loop.world.rendered(loop.vend("04100000019", "sim-503"))
    assert time.monotonic() - started >= TIMEOUT * 3
    assert entry.kind == "failure"
    assert loop.world.balance() == before
    assert loop.simulator_sales() == []


def test_injected_fault_then_recovery_refunds(loop: Loop) -> None:
    loop.resource.settings.fault_meters = {"04100000019"}
    before = loop.world.balance()
    entry = loop.world.rendered(loop.vend("04100000019", "sim-fault"))
    assert entry.kind == "failure"
    assert loop.world.balance() == before
    loop.resource.settings.fault_meters = set()


def test_utility_business_fault_is_passed_on_and_refunded(loop: Loop) -> None:
    # Block the meter at the utility only: it answers BlockedMeterEx.
    from utilities.registry import set_blocked

    loop.sim_db.run_txn("block", set_blocked, "04100000019", True)
    before = loop.world.balance()
    entry = loop.world.rendered(loop.vend("04100000019", "sim-blocked"))
    assert entry.kind == "failure" and isinstance(entry.result, UpstreamFault)
    assert entry.result.fault_class == "BlockedMeterEx"
    assert loop.world.balance() == before

    def pending(txn: Txn) -> int:
        from utilities.tables import upstream_vends

        return txn.execute(
            select(func.count())
            .select_from(upstream_vends)
            .where(upstream_vends.c.state == "pending")
        ).scalar_one()

    assert loop.world.database.run_txn("pending", pending) == 0
