"""The XMLVend adapter assembled around an already built application
(:func:`vending.services.wiring.build_application`: the database, keyring, utility side and
services are wired there, not here)::

    from vending.services.wiring import build_application
    from xmlvend.server.app import build_server
    from xmlvend.server.listen import listen

    app = build_application(config, reactor=reactor, runner_factory=...)
    server = build_server(config, reactor=reactor, app=app)
    server.start()                         # registers our renderer, starts recovery
    port = listen(reactor, server.site, "127.0.0.1", 0)
    ...
    yield server.stop()                    # drain in-flight requests, stop recovery

Everything time-related is injected: ``reactor`` (deadlines, timeouts) and
the application's one clock (``app.services.clock``, from ``build_application(clock=...)``:
everything the server stamps, respDateTime, sales, ledger, audit; ``evd serve`` passes
:func:`vending.clock.system_clock`, tests their own); ``call_blocking`` defaults to the
database's thread pool (password hashing has its own, ``call_hashing``) and may be replaced by
a synchronous one in tests (:func:`xmlvend.server.auth.call_now`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall

from vending.auth import Authenticator
from vending.config import Config
from vending.services.wiring import Application, SchemaOutOfDate
from vending.services.wiring import Services as ApplicationServices
from xmlvend.codec import warm_up
from xmlvend.server.accesslog import AccessLog, AccessRecord
from xmlvend.server.auth import (
    BlockingCaller,
    BoundedCaller,
    Gatekeeper,
    ThreadCaller,
    hashing_executor,
)
from xmlvend.server.convert import Currencies
from xmlvend.server.endpoint import Endpoint
from xmlvend.server.handlers import Services
from xmlvend.server.handlers.base import CHANNEL
from xmlvend.server.http import XMLVendSite
from xmlvend.server.metrics import Metrics
from xmlvend.server.parsing import ParsePool, RequestParser, parse_now
from xmlvend.server.renderer import XMLVendRenderer
from xmlvend.server.resource import HealthProblem, XMLVendResource

log = logging.getLogger("evd.xmlvend")


@dataclass
class XMLVendServer:
    """The assembled server. ``site`` is the Twisted factory to listen with."""

    config: Config
    site: XMLVendSite
    resource: XMLVendResource
    endpoint: Endpoint
    renderer: XMLVendRenderer
    metrics: Metrics
    authenticator: Authenticator
    services: ApplicationServices
    reactor: IReactorTime
    # The threads request bodies are parsed on (None when build_server was given a parser).
    parse_pool: ParsePool | None = None

    @property
    def utility_service(self) -> Any:
        return self.services.utility

    def start(self, *, recovery: bool = True) -> None:
        """Register our renderer for the ``xmlvend`` channel and start the services'
        background work (recovery of pending requests of earlier runs). With several
        worker processes only one should run it (``recovery=False`` elsewhere)."""
        warm_up()
        if self.parse_pool is not None:
            self.parse_pool.start()
        self.services.register_renderer(CHANNEL, self.renderer)
        if recovery:
            self.services.start(every=self._every)

    def _every(self, seconds: float, work: Callable[[], Any]) -> Callable[[], None]:
        """The services' periodic timer, on our reactor (a LoopingCall, now and then every
        ``seconds``); a failed run is logged and the next one still happens."""

        def run() -> Deferred:
            d = ensureDeferred(work())
            d.addErrback(lambda failure: log.error("background work failed: %s", failure.value))
            return d

        loop = LoopingCall(run)
        loop.clock = self.reactor
        loop.start(seconds, now=True)
        return lambda: loop.running and loop.stop()

    def tls_handshake_failed(self, peer: str, reason: str, detail: str) -> None:
        """A client's TLS handshake failed (``listen(on_tls_failure=...)``): logged with
        its address and counted by reason in ``evd_tls_handshake_failures_total``."""
        self.metrics.tls_handshake_failed(reason)
        log.warning("TLS handshake failed: peer %s, reason %s (%s)", peer or "?", reason, detail)

    def stop(self, grace_seconds: float | None = None) -> Deferred:
        """Stop background work; fires when in-flight requests have ended, or after
        ``grace_seconds`` (default: the deadline plus one second)."""
        self.services.stop()
        if self.parse_pool is not None:
            self.parse_pool.stop()
        grace = (
            self.config.server.deadline_seconds + 1.0 if grace_seconds is None else grace_seconds
        )
        drained = self.endpoint.drain()
        # Wait, never cancel: cancelling would abandon work whose transaction may still
        # commit on a database thread.
        done: Deferred = Deferred()

        def finish(_: object = None) -> None:
            if not done.called:
                done.callback(None)

        timer = self.reactor.callLater(grace, finish)
        drained.addBoth(lambda _: (timer.active() and timer.cancel(), finish()))
        return done


def build_server(
    config: Config,
    *,
    reactor: Any,
    app: Application,
    call_blocking: BlockingCaller | None = None,
    call_hashing: BlockingCaller | None = None,
    denied_operations: Callable[[str], Collection[str]] | None = None,
    access_log: AccessLog | None = None,
    metrics: Metrics | None = None,
    parse: RequestParser | None = None,
    health_details: dict[str, Any] | None = None,
) -> XMLVendServer:
    """Assemble the adapter around ``app`` (see the module docstring).
    ``denied_operations(client_id)`` names operations a vendor may not use (answered
    RequestAuthorisationEx); default: none.
    ``parse`` reads request bodies; default: a :class:`ParsePool` of
    ``server.parse_threads`` threads (:func:`parse_now` on a reactor without
    ``callFromThread``, i.e. ``task.Clock`` in tests).
    ``health_details`` are added to every healthy ``/healthz`` answer (``evd serve``: the
    exposure found at start, vending.exposure). ``call_hashing`` runs password checks
    (default: a pool of ``security.hash_threads`` threads; ``call_blocking`` when given).
    """
    # The one clock the application was wired with: nothing here reads the time itself.
    clock = app.services.clock
    database = app.database
    injected_caller = call_blocking is not None
    call_blocking = call_blocking or ThreadCaller(reactor, database.executor)
    metrics = metrics or Metrics(database_stats=lambda: dict(database.stats.by_name))
    access_log = access_log or AccessLog()
    currencies = Currencies(config.currency)
    parse_pool = None
    if parse is None and not hasattr(reactor, "callFromThread"):
        # A fake reactor (task.Clock) cannot take results from other threads: tests and
        # tools on one parse on the calling thread. Every real reactor gets the pool.
        parse = parse_now
    if parse is None:
        parse = parse_pool = ParsePool(
            reactor,
            threads=config.server.parse_threads,
            wait_seconds=config.server.parse_wait_seconds,
            inline_max_bytes=config.server.inline_parse_max_bytes,
        )
    renderer = XMLVendRenderer(
        server_id=config.server.server_id, currencies=currencies, clock=clock
    )
    authenticator = app.authenticator
    app.services.register_renderer(CHANNEL, renderer)
    services = Services(app=app.services, renderer=renderer, currencies=currencies, clock=clock)
    security = config.security
    if call_hashing is None:
        if injected_caller:  # tests and tools: hash the way they run everything else
            call_hashing = call_blocking
        else:  # scrypt on threads of its own, never the database pool
            call_hashing = ThreadCaller(reactor, hashing_executor(security.hash_threads))
    call_hashing = BoundedCaller(call_hashing, security.hash_queue)
    endpoint = Endpoint(
        services,
        Gatekeeper(
            authenticator,
            call_blocking,
            call_hashing=call_hashing,
            denied_operations=denied_operations,
            reactor=reactor,
            throttled_delay=security.login_throttled_delay_seconds,
        ),
        reactor=reactor,
        deadline_seconds=config.server.deadline_seconds,
        metrics=metrics,
        clock=clock,
        parse=parse,
    )

    def check_database() -> dict[str, str]:
        try:
            return {**app.schema_status(), **(health_details or {})}
        except SchemaOutOfDate as problem:
            raise HealthProblem(str(problem)) from None

    resource = XMLVendResource(
        endpoint,
        metrics=metrics,
        access_log=access_log,
        health=lambda: call_blocking(check_database),
        max_body_bytes=config.server.max_body_bytes,
        client_id_field=config.tls.client_id_field,
        public_url=config.server.public_url,
    )

    def refused(status: int, peer: str) -> None:
        metrics.refused(status)
        access_log.write(
            AccessRecord(
                client_id=None,
                msg_id=None,
                operation="none",
                outcome=f"refused_{status}",
                fault_class=None,
                latency_ms=0.0,
                http_status=status,
                peer=peer or None,
            )
        )

    site = XMLVendSite(
        resource,
        max_body_bytes=config.server.max_body_bytes,
        read_timeout=config.server.read_timeout_seconds,
        reactor=reactor,
        on_refused=refused,
    )
    return XMLVendServer(
        config=config,
        site=site,
        resource=resource,
        endpoint=endpoint,
        renderer=renderer,
        metrics=metrics,
        authenticator=authenticator,
        services=app.services,
        reactor=reactor,
        parse_pool=parse_pool,
    )


__all__ = ["XMLVendServer", "build_server"]
