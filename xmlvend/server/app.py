"""The composition root: an XMLVend server from a Config, a reactor, a Database, a Keyring
and a UtilityService.

``evd serve`` uses it with the real utility service; the utility side's ``evd
simulate-utility`` (or any test) can build the same server around its own, wrapped service::

    from xmlvend.server.app import build_server
    from xmlvend.server.listen import listen

    server = build_server(config, reactor=reactor, database=database, keyring=keyring,
                          utility_service=my_service)
    server.start()                         # the utility service's recovery loops
    port = listen(reactor, server.site, "127.0.0.1", 0)
    ...
    yield server.stop()                    # drain in-flight requests, stop recovery

Everything time-related is injected: ``reactor`` (deadlines, timeouts), ``clock``
(everything the server stamps: respDateTime, sales, ledger, audit; ``evd serve`` passes
:func:`vending.clock.system_clock`, tests their own); ``runner``/``call_blocking`` default to
the database's thread pool and may be replaced by synchronous ones in tests (``ImmediateDatabase``,
:func:`xmlvend.server.auth.call_now`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime

from utilities.interface import TxnRunner, UtilityService
from vending.auth import Authenticator
from vending.clock import Clock
from vending.config import Config
from vending.keyring import Keyring
from vending.storage import migrate
from vending.storage.database import Database
from xmlvend.codec import warm_up
from xmlvend.server.accesslog import AccessLog, AccessRecord
from xmlvend.server.auth import BlockingCaller, Gatekeeper, ThreadCaller
from xmlvend.server.convert import Currencies
from xmlvend.server.endpoint import Endpoint
from xmlvend.server.handlers import Services
from xmlvend.server.http import XMLVendSite
from xmlvend.server.metrics import Metrics
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
    utility_service: UtilityService
    reactor: IReactorTime

    def start(self, *, recovery: bool = True) -> None:
        """Start the utility service's background work (recovery of pending upstream
        sales, with our renderer for the ``xmlvend`` channel). With several worker
        processes only one should run it (``recovery=False`` elsewhere)."""
        warm_up()
        start = getattr(self.utility_service, "start", None)
        if recovery and start is not None:
            start({"xmlvend": self.renderer})

    def stop(self, grace_seconds: float | None = None) -> Deferred:
        """Stop background work; fires when in-flight requests have ended, or after
        ``grace_seconds`` (default: the deadline plus one second)."""
        stop = getattr(self.utility_service, "stop", None)
        if stop is not None:
            stop()
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
    database: Database,
    keyring: Keyring,
    utility_service: UtilityService,
    runner: TxnRunner | None = None,
    call_blocking: BlockingCaller | None = None,
    clock: Clock,
    denied_operations: Callable[[str], Collection[str]] | None = None,
    access_log: AccessLog | None = None,
    metrics: Metrics | None = None,
) -> XMLVendServer:
    """Assemble the server (see the module docstring). ``denied_operations(client_id)``
    names operations a vendor may not use (answered RequestAuthorisationEx); default: none.
    """
    from xmlvend.transport.asyncdb import AsyncDatabase

    runner = runner or AsyncDatabase(reactor, database)
    call_blocking = call_blocking or ThreadCaller(reactor, database.executor)
    metrics = metrics or Metrics(database_stats=lambda: dict(database.stats.by_name))
    access_log = access_log or AccessLog()
    currencies = Currencies(config.currency)
    renderer = XMLVendRenderer(
        server_id=config.server.server_id, currencies=currencies, clock=clock
    )
    authenticator = Authenticator(
        database,
        clock=clock,
        require_auth=config.server.require_operator_auth,
        cache_seconds=config.security.auth_cache_seconds,
        password_log_n=config.security.scrypt_log_n,
    )
    services = Services(
        runner=runner,
        keyring=keyring,
        utility=utility_service,
        renderer=renderer,
        currencies=currencies,
        clock=clock,
        electricity_product=config.utilities.product_code,
        reprint_count=config.server.reprint_count,
        statement_lines=config.server.statement_lines,
    )
    endpoint = Endpoint(
        services,
        Gatekeeper(authenticator, call_blocking, denied_operations=denied_operations),
        reactor=reactor,
        deadline_seconds=config.server.deadline_seconds,
        metrics=metrics,
        clock=clock,
    )
    head = migrate.head_revision()

    def check_database() -> dict[str, str]:
        revision = migrate.current_revision(database.engine)
        if revision != head:
            raise HealthProblem(f"database schema {revision or 'empty'} is not {head}")
        return {"database": "ok", "schema": revision}

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
        utility_service=utility_service,
        reactor=reactor,
    )


__all__ = ["XMLVendServer", "build_server"]
