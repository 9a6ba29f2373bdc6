"""The upstream route in memory: our utility service, its real XMLVend client and the utility
simulator (our own server on its own database, behind the simulator's latency/fault/outage
wrapper) joined by an in-memory network, all on one ``task.Clock``. No thread, no socket,
no sleep: a test moves time with :meth:`UpstreamLoop.run` / :meth:`UpstreamLoop.advance`,
and the wall clock every side stamps with is the fixed NOW plus the reactor's seconds.

The upstream client and the simulator are imported here only."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ConnectionAborted, ConnectionDone, ConnectionRefusedError
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.web.iweb import IAgentEndpointFactory
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Site
from utilities_support import NOW, World, make_context
from zope.interface import implementer

from tools.simulator import SimulatedUtility, SimulatorSettings, build_simulated_utility
from utilities.demo import seed_utilities
from utilities.interface import MeterQuery, Purchase
from utilities.service import Routing, UtilityServiceImpl
from utilities.tables import upstream_vends
from vending.config import Config, ServerConfig, UpstreamRoute, UtilitiesConfig
from vending.demo import seed_core
from vending.keyring import Keyring, MasterKey
from vending.money import Money
from vending.storage.database import Database, Txn
from vending.storage.schema import sales
from xmlvend.server.auth import call_now
from xmlvend.transport.asyncdb import ImmediateDatabase
from xmlvend.upstream.backend import UpstreamBackend

ROUTED_SGC = "123456"  # our demo meters of this supply group are vended by the utility
METER = "04100000019"
TIMEOUT = 0.5
UTILITY_URL = "http://utility.test/xmlvend"


class ReactorClock:
    """The wall clock of an in-memory world: the fixed NOW plus the reactor's seconds."""

    def __init__(self, reactor: Clock) -> None:
        self._reactor = reactor

    def __call__(self) -> datetime:
        return NOW + timedelta(seconds=self._reactor.seconds())


# --- the in-memory network ------------------------------------------------------------------


class _Pipe:
    """One end of an in-memory connection. Bytes reach the other end on the reactor's next
    turn (``callLater(0)``), in order; closing reaches both protocols the same way."""

    def __init__(self, reactor: Clock, host: IPv4Address, peer: IPv4Address) -> None:
        self._reactor = reactor
        self._host, self._peer = host, peer
        self.protocol: Any = None
        self.other: _Pipe | None = None
        self.disconnecting = False
        self.closed = False
        self.producer: Any = None

    def write(self, data: bytes) -> None:
        if data and not self.disconnecting and self.other is not None:
            self._reactor.callLater(0, self.other._receive, data)

    def writeSequence(self, data: Any) -> None:
        self.write(b"".join(data))

    def _receive(self, data: bytes) -> None:
        if not self.closed:
            self.protocol.dataReceived(data)

    def loseConnection(self) -> None:
        if not self.disconnecting:
            self.disconnecting = True
            self._reactor.callLater(0, self._close, ConnectionDone)

    def abortConnection(self) -> None:
        self.disconnecting = True
        self._close(ConnectionAborted)

    def _close(self, reason: type[Exception]) -> None:
        for side in (self, self.other):
            if side is not None and not side.closed:
                side.closed = side.disconnecting = True
                side.protocol.connectionLost(Failure(reason()))

    def getPeer(self) -> IPv4Address:
        return self._peer

    def getHost(self) -> IPv4Address:
        return self._host

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        self.producer = producer

    def unregisterProducer(self) -> None:
        self.producer = None

    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        self.loseConnection()


@implementer(IAgentEndpointFactory)
class MemoryNetwork:
    """Connects every client connection to ``site`` in memory; refuses them while the
    simulator is in a "refuse" outage (its port would be closed)."""

    def __init__(self, reactor: Clock, site: Site, utility: SimulatedUtility) -> None:
        self._reactor = reactor
        self._site = site
        self._utility = utility
        self.connections = 0

    def endpointForURI(self, uri: Any) -> IStreamClientEndpoint:
        return _MemoryEndpoint(self)

    def connect(self, factory: Any) -> Deferred:
        if self._utility.settings.outage == "refuse":
            return fail(ConnectionRefusedError("simulated utility refuses connections"))
        self.connections += 1
        ours = IPv4Address("TCP", "10.0.0.1", 40000 + self.connections)
        theirs = IPv4Address("TCP", "10.0.0.2", 80)
        client_end, server_end = (
            _Pipe(self._reactor, ours, theirs),
            _Pipe(self._reactor, theirs, ours),
        )
        client_end.other, server_end.other = server_end, client_end
        client = factory.buildProtocol(theirs)
        server = self._site.buildProtocol(ours)
        client_end.protocol, server_end.protocol = client, server
        server.makeConnection(server_end)
        client.makeConnection(client_end)
        return succeed(client)


@implementer(IStreamClientEndpoint)
class _MemoryEndpoint:
    def __init__(self, network: MemoryNetwork) -> None:
        self._network = network

    def connect(self, protocolFactory: Any) -> Deferred:
        return self._network.connect(protocolFactory)


class TokenMangler(Resource):
    """In front of the simulator: while ``on``, the utility's answers carry a token that
    is not 20 digits (an answer our side cannot deliver)."""

    isLeaf = True
    # A 3-digit token, padded after the element so the body keeps its Content-Length.
    _TOKEN = re.compile(rb"(<(?:\w+:)?stsCipher>)\d{20}(</(?:\w+:)?stsCipher>)")
    _MANGLED = rb"\g<1>123\g<2>" + b" " * 17

    def __init__(self, inner: Resource) -> None:
        super().__init__()
        self.inner = inner
        self.on = False

    def render(self, request: Any) -> Any:
        if not self.on:
            return self.inner.render(request)
        request.requestHeaders.removeHeader(b"accept-encoding")  # rewrite plain XML
        real_write = request.write

        def write(data: bytes) -> None:
            real_write(self._TOKEN.sub(self._MANGLED, data))

        request.write = write
        result = self.inner.render(request)
        if result is NOT_DONE_YET:
            return result
        return self._TOKEN.sub(self._MANGLED, result)


# --- the world: our service and the simulated utility -------------------------------------


@dataclass
class UpstreamLoop:
    world: World
    reactor: Clock
    clock: ReactorClock
    sim_db: Database
    utility: SimulatedUtility
    mangler: TokenMangler
    network: MemoryNetwork
    services: list[UtilityServiceImpl] = field(default_factory=list)

    # --- time -----------------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass, running everything due on the way."""
        end = self.reactor.seconds() + seconds
        self.reactor.advance(0)
        while True:
            due = [call.getTime() for call in self.reactor.getDelayedCalls()]
            upcoming = min((t for t in due if t <= end), default=None)
            if upcoming is None:
                break
            self.reactor.advance(max(upcoming - self.reactor.seconds(), 0))
        self.reactor.advance(end - self.reactor.seconds())

    def run(self, d: Deferred, *, limit: float = 600.0) -> Any:
        """Move time on until ``d`` fires (at most ``limit`` seconds); its result."""
        box: list[Any] = []
        d.addBoth(box.append)
        end = self.reactor.seconds() + limit
        self.reactor.advance(0)
        while not box:
            due = [call.getTime() for call in self.reactor.getDelayedCalls()]
            assert due, "nothing left to happen and the call has not finished"
            upcoming = min(due)
            assert upcoming <= end, f"the call did not finish within {limit} s"
            self.reactor.advance(max(upcoming - self.reactor.seconds(), 0))
        if isinstance(box[0], Failure):
            box[0].raiseException()
        return box[0]

    def now(self) -> float:
        return self.reactor.seconds()

    # --- our side -------------------------------------------------------------------------

    def service(self, *, recovery: bool = True, runner: Any = None) -> UtilityServiceImpl:
        """A utility service (one "process" of ours) routing ROUTED_SGC to the utility;
        ``runner``: its transaction runner (default: one transaction at once, in order)."""
        route = UpstreamRoute(
            sgc=ROUTED_SGC, name="sim", url=UTILITY_URL, client_id="6004708000106",
            op_name="platform", password="demo5678", timeout_seconds=TIMEOUT,
        )  # fmt: skip
        config = Config(
            server=ServerConfig(deadline_seconds=2.0),
            utilities=UtilitiesConfig(
                routes=(route,), recovery_poll_seconds=0.25, recovery_max_delay_seconds=0.5
            ),
        )
        runner = runner or ImmediateDatabase(self.world.database)
        # The production construction, connected to the simulator in memory.
        backend = UpstreamBackend.from_config(
            route,
            config,
            runner,
            self.world.keyring,
            self.reactor,
            clock=self.clock,
            endpoint_factory=self.network,
        )
        service = UtilityServiceImpl(
            runner,
            self.world.keyring,
            self.world.service.embedded,
            reactor=self.reactor,
            routing=Routing((route,)),
            upstreams={"sim": backend},
            clock=self.clock,
        )
        if recovery:
            service.start(self.world.renderer)
            self.services.append(service)
        return service

    def start_vend(
        self, service: UtilityServiceImpl, request_id: str, amount: str = "100.00"
    ) -> Deferred:
        ctx = make_context(self.world.cafe, request_id=request_id)
        purchase = Purchase(MeterQuery(METER), amount=Money.parse(amount, "ZAR"))
        return service.credit_vend(ctx, purchase, self.world.renderer)

    def vend(self, service: UtilityServiceImpl, request_id: str, amount: str = "100.00") -> Any:
        return self.run(self.start_vend(service, request_id, amount))

    def rows(self) -> list[Any]:
        def read(txn: Txn) -> list[Any]:
            return list(txn.execute(select(upstream_vends).order_by(upstream_vends.c.id)).all())

        return self.world.database.run_txn("rows", read)

    # --- the utility's side ---------------------------------------------------------------

    def utility_sales(self) -> list[str]:
        def read(txn: Txn) -> list[str]:
            return [row.state for row in txn.execute(select(sales.c.state).order_by(sales.c.id))]

        return self.sim_db.run_txn("sim_sales", read)

    def close(self) -> None:
        for service in self.services:
            service.stop()
        self.sim_db.close()


def build_loop(world: World, sqlite_template: Path, tmp_path: Path) -> UpstreamLoop:
    """Our world (its database and keys) and a simulated utility on its own SQLite database
    with the same public demo keys and meters, on one fake reactor."""
    reactor = Clock()
    clock = ReactorClock(reactor)
    sim_path = tmp_path / "simulated-utility.db"
    shutil.copyfile(sqlite_template, sim_path)
    sim_db = Database(f"sqlite:///{sim_path}", pool_size=2)
    sim_keyring = Keyring(MasterKey.generate(), clock=clock)
    sim_db.run_txn("seed_core", seed_core, now=NOW, password_log_n=10)
    sim_db.run_txn("seed_utilities", seed_utilities, sim_keyring, now=NOW)
    utility, server = build_simulated_utility(
        Config(server=ServerConfig(deadline_seconds=3.0)),
        reactor,
        sim_db,
        sim_keyring,
        SimulatorSettings(),
        clock=clock,
        runner=ImmediateDatabase(sim_db),
        call_blocking=call_now,
    )
    server.start()
    mangler = TokenMangler(utility)
    network = MemoryNetwork(reactor, Site(mangler, reactor=reactor), utility)
    return UpstreamLoop(world, reactor, clock, sim_db, utility, mangler, network)
