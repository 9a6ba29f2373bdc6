"""A simulated utility vending server: any XMLVend server resource (normally ours on the
embedded backend, ``evd simulate-utility``) behind a wrapper that injects latency, faults
and outages, switchable at run time. Used to test the upstream route end to end.

* latency: the inner server answers at once (the vend is done) but the answer is held back
  ``latency`` (+ up to ``jitter``) seconds - a utility slower than our deadline;
* faults: a SystemEx fault *instead of* processing, for a share of requests
  (``fault_rate``) or for given meters (``fault_meters``);
* outage: ``"503"`` answers every request with HTTP 503 without processing; ``"refuse"``
  closes the listening port (connections are refused) until the outage is switched off.

Run-time control: ``GET /_simulator`` shows the settings; ``POST /_simulator?latency=2&
fault_rate=0.1&fault_meters=04100000019,...&outage=503|refuse|off&outage_seconds=5``
changes them (a refused port comes back after ``outage_seconds`` when given).
"""

from __future__ import annotations

import argparse
import json
import random
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from twisted.internet.interfaces import IReactorTCP, IReactorTime
from twisted.web.resource import IResource, Resource
from twisted.web.server import NOT_DONE_YET, Site

from xmlvend.codec import render_fault, response_header, salvage_header
from xmlvend.codec import types_base as b

_MSNO = re.compile(rb'msno="([^"]{1,20})"')
CONTROL_PATH = b"/_simulator"


@dataclass
class SimulatorSettings:
    latency: float = 0.0
    jitter: float = 0.0
    fault_rate: float = 0.0
    fault_meters: set[str] = field(default_factory=set)
    fault_class: str = "SystemEx"
    outage: str | None = None  # None, "503" or "refuse"

    def as_json(self) -> bytes:
        data = asdict(self)
        data["fault_meters"] = sorted(self.fault_meters)
        return json.dumps(data).encode()


class SimulatedUtility(Resource):
    """Wraps ``inner`` (an XMLVend server resource) with the simulator's misbehaviour."""

    isLeaf = True

    def __init__(
        self,
        inner: IResource,
        reactor: IReactorTime,
        settings: SimulatorSettings | None = None,
        *,
        server_id: str = "6004708000007",
        rng: random.Random | None = None,
    ) -> None:
        super().__init__()
        self.inner = inner
        self.settings = settings or SimulatorSettings()
        self._reactor = reactor
        self._server_id = b.EANDeviceID(ean=server_id)
        self._rng = rng or random.Random()
        self.server: SimulatorServer | None = None

    def render(self, request: Any) -> Any:
        if request.path == CONTROL_PATH:
            return self._control(request)
        settings = self.settings
        if settings.outage == "503":
            request.setResponseCode(503)
            return b"simulated outage"
        body = request.content.read()
        request.content.seek(0)
        if self._fault_due(body):
            header = salvage_header(body)
            request.setResponseCode(500)
            request.setHeader(b"Content-Type", b"text/xml; charset=utf-8")
            return render_fault(
                settings.fault_class,
                "simulated utility fault",
                header=None
                if header is None
                else response_header(header, server_id=self._server_id),
                server_id=self._server_id,
            )
        delay = settings.latency + (self._rng.uniform(0, settings.jitter) if settings.jitter else 0)
        if delay <= 0:
            return self.inner.render(request)
        return self._delayed(request, delay)

    def _fault_due(self, body: bytes) -> bool:
        settings = self.settings
        if settings.fault_meters:
            match = _MSNO.search(body)
            if match and match.group(1).decode("ascii", "replace") in settings.fault_meters:
                return True
        return settings.fault_rate > 0 and self._rng.random() < settings.fault_rate

    def _delayed(self, request: Any, delay: float) -> Any:
        """Let the inner server answer now, but hold its answer back ``delay`` seconds."""
        parts: list[bytes] = []
        real_write, real_finish = request.write, request.finish

        def write(data: bytes) -> None:
            parts.append(data)

        def release() -> None:
            if getattr(request, "_disconnected", False):
                return  # the client gave up: the vend happened, the answer is lost
            for part in parts:
                real_write(part)
            real_finish()

        def finish() -> None:
            self._reactor.callLater(delay, release)  # type: ignore[attr-defined]

        request.write, request.finish = write, finish
        result = self.inner.render(request)
        if result is not NOT_DONE_YET:
            write(result)
            finish()
        return NOT_DONE_YET

    def _control(self, request: Any) -> bytes:
        request.setHeader(b"Content-Type", b"application/json")
        if request.method == b"POST":
            args = {k.decode(): v[-1].decode() for k, v in request.args.items()}
            settings = self.settings
            for name in ("latency", "jitter", "fault_rate"):
                if name in args:
                    setattr(settings, name, float(args[name]))
            if "fault_meters" in args:
                settings.fault_meters = {m for m in args["fault_meters"].split(",") if m}
            if "fault_class" in args:
                settings.fault_class = args["fault_class"]
            if "outage" in args:
                outage = None if args["outage"] in ("", "off") else args["outage"]
                seconds = float(args.get("outage_seconds", "0") or 0)
                self._reactor.callLater(0, self.set_outage, outage, seconds)  # type: ignore[attr-defined]
        return self.settings.as_json()

    def set_outage(self, outage: str | None, seconds: float = 0.0) -> None:
        """Switch the outage mode; ``seconds`` > 0 ends it again after that long."""
        if outage not in (None, "503", "refuse"):
            raise ValueError(f"outage must be None, '503' or 'refuse', not {outage!r}")
        self.settings.outage = outage
        if self.server is not None:
            if outage == "refuse":
                self.server.close()
            else:
                self.server.open()
        if outage is not None and seconds > 0:
            self._reactor.callLater(seconds, self.set_outage, None)  # type: ignore[attr-defined]


class SimulatorServer:
    """The listening port of a :class:`SimulatedUtility` (closed during a refuse outage)."""

    def __init__(self, reactor: IReactorTCP, resource: SimulatedUtility, port: int, host: str):
        self._reactor = reactor
        self._site = Site(resource)
        self._host = host
        self._port_number = port
        self._port: Any = None
        resource.server = self

    @property
    def port(self) -> int:
        return self._port_number

    def open(self) -> None:
        if self._port is None:
            self._port = self._reactor.listenTCP(
                self._port_number, self._site, interface=self._host
            )
            self._port_number = self._port.getHost().port

    def close(self) -> Any:
        port, self._port = self._port, None
        return None if port is None else port.stopListening()


def build_simulated_utility(
    config: Any,
    reactor: Any,
    database: Any,
    keyring: Any,
    settings: SimulatorSettings | None = None,
    *,
    runner: Any = None,
) -> tuple[SimulatedUtility, Any]:
    """Our XMLVend server on the embedded backend (routes ignored: the simulator is the
    utility), wrapped in a :class:`SimulatedUtility`. Returns (resource, server); call
    ``server.start()`` and serve the resource with a :class:`SimulatorServer`."""
    from dataclasses import replace

    from vending.services.wiring import build_application
    from xmlvend.server.app import build_server
    from xmlvend.transport.asyncdb import AsyncDatabase

    own = config.replace(utilities=replace(config.utilities, routes=(), default_backend="embedded"))
    runner = runner or AsyncDatabase(reactor, database)
    app = build_application(own, reactor=reactor, runner=runner, database=database, keyring=keyring)
    server = build_server(own, reactor=reactor, app=app)
    resource = SimulatedUtility(server.resource, reactor, settings, server_id=own.server.server_id)
    return resource, server


# --- ``evd simulate-utility`` ---------------------------------------------------------------------


def register(subparsers: Any) -> None:
    """The ``evd simulate-utility`` command (entry point ``evd.commands``: simulator)."""
    _register_simulator(subparsers)


def _register_simulator(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "simulate-utility",
        help="run a simulated utility XMLVend server on the embedded backend",
        description="A standalone XMLVend utility server (our server on the embedded STS "
        "engine, this configuration's database) with injectable latency, faults and "
        "outages; change them at run time with POST /_simulator?latency=...&outage=...",
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds answers are late")
    parser.add_argument("--jitter", type=float, default=0.0, help="extra random latency, s")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share answered SystemEx")
    parser.add_argument("--fault-meter", action="append", default=[], help="always fault")
    parser.add_argument("--outage", action="store_true", help="start in a 503 outage")
    parser.set_defaults(handler=_simulate_utility)


def _simulate_utility(context: Any, args: argparse.Namespace) -> int:
    from twisted.internet import reactor

    from tools.simulator import SimulatorServer, SimulatorSettings, build_simulated_utility
    from vending.cli.context import CommandError

    settings = SimulatorSettings(
        latency=args.latency,
        jitter=args.jitter,
        fault_rate=args.fault_rate,
        fault_meters=set(args.fault_meter),
        outage="503" if args.outage else None,
    )
    try:
        resource, server = build_simulated_utility(
            context.config, reactor, context.database, context.keyring, settings
        )
    except ImportError as exc:
        raise CommandError(f"the XMLVend server is not available: {exc}") from exc
    listener = SimulatorServer(reactor, resource, args.port, args.host)
    listener.open()
    server.start()
    print(
        f"simulated utility on http://{args.host}:{listener.port}/xmlvend "
        f"(control: POST /_simulator); latency {settings.latency} s, fault rate "
        f"{settings.fault_rate}, outage {settings.outage or 'off'}"
    )
    reactor.run()  # type: ignore[attr-defined]
    return 0
