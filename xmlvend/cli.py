"""``evd serve`` and ``evd certs dev`` (entry point ``evd.commands: xmlvend``).

``evd serve [--workers N] [--host H] [--port P]`` runs the XMLVend server: it refuses an
unmigrated database, and a non-loopback address while demo credentials work or vendors sell
without authentication and client certificates (``--allow-insecure`` overrides; see
:mod:`vending.exposure`), starts the utility service's recovery of pending sales, prints the URL
and a first vend to paste, and stops cleanly on SIGTERM/SIGINT (in-flight requests are
finished first). With ``--workers N`` (PostgreSQL only) N processes share the port.

``evd certs dev`` writes a development CA, a server certificate for localhost and client
certificates whose subject carries the clientID, for mutual TLS.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import logging
import os
import sys
from pathlib import Path
from typing import Any

from vending.cli.context import CommandError, Context
from vending.cli.groups import Subparsers, command_group
from vending.config import Config

log = logging.getLogger("evd.xmlvend")


def register(subparsers: Subparsers) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="run the XMLVend 2.1 server",
        description="Run the XMLVend 2.1 server (settings: [server] and [tls] in the config).",
    )
    serve.add_argument("--host", help="address to listen on (default: server.host)")
    serve.add_argument("--port", type=int, help="port to listen on, 0 = any (server.port)")
    serve.add_argument(
        "--workers",
        type=int,
        help="processes sharing the port with SO_REUSEPORT, PostgreSQL only (server.workers)",
    )
    serve.add_argument(
        "--allow-insecure",
        action="store_true",
        help="listen on a non-loopback address even while demo operators keep their "
        "published passwords or vendors sell without authentication and client certificates "
        "(tests only)",
    )
    serve.add_argument("--worker-index", type=int, help=argparse.SUPPRESS)
    serve.add_argument("--ready-fd", type=int, help=argparse.SUPPRESS)
    serve.add_argument("--metrics-dir", help=argparse.SUPPRESS)
    serve.set_defaults(handler=_serve)

    certs = command_group(subparsers, "certs", "TLS certificates")
    dev = certs.add_parser(
        "dev",
        help="make a development CA, a localhost server certificate and client certificates",
    )
    dev.add_argument("--out", default="var/certs", help="directory (default: var/certs)")
    dev.add_argument(
        "--client-id",
        action="append",
        dest="client_ids",
        metavar="ID",
        help="clientID of a client certificate (repeatable; default: the demo vendors)",
    )
    dev.add_argument(
        "--host", action="append", dest="hosts", default=[], help="extra server host name or IP"
    )
    dev.set_defaults(handler=_certs_dev)


# --- serve ----------------------------------------------------------------------------------------


def _serve(context: Context, args: argparse.Namespace) -> int:
    from vending.keyring import Keyring, KeyringError, load_master_key
    from vending.services.wiring import SchemaOutOfDate, check_schema

    config = _with_overrides(context.config, args)
    server = config.server
    postgres = config.database.url.split(":", 1)[0].startswith("postgres")
    if server.workers > 1 and not postgres:
        raise CommandError("--workers above 1 needs PostgreSQL: SQLite supports one server process")
    database = context.database
    try:
        check_schema(database)
    except SchemaOutOfDate as exc:
        raise CommandError(str(exc)) from exc
    except Exception as exc:
        raise CommandError(f"cannot reach the database: {exc.__class__.__name__}: {exc}") from exc
    try:
        keyring = Keyring(load_master_key(config), clock=context.clock)
    except KeyringError as exc:
        raise CommandError(str(exc)) from exc
    exposure = _exposure(config, database, bool(getattr(args, "allow_insecure", False)))
    if exposure.refused and args.worker_index is None:
        raise CommandError(
            f"refusing to listen on {config.server.host or 'all addresses'}, which is not "
            "loopback: "
            + "; ".join(exposure.reasons)
            + ". Fix that, listen on 127.0.0.1, or start with --allow-insecure (tests only)."
        )
    if exposure.public and exposure.reasons:
        log.warning("listening on a public address insecurely: %s", "; ".join(exposure.reasons))
    tls_options = _tls_options(config)
    _configure_logging(config)

    if server.workers > 1 and args.worker_index is None:
        return _supervise(context, args, config)
    return _run(
        context,
        config,
        keyring,
        tls_options,
        args.worker_index,
        args.ready_fd,
        args.metrics_dir if args.worker_index is not None else None,
        exposure.health(),
    )


def _exposure(config: Config, database: Any, forced: bool) -> Any:
    """Demo credentials and vendors selling without authentication (vending.exposure)."""
    from vending.exposure import assess_exposure

    return assess_exposure(
        database,
        host=config.server.host,
        require_auth_default=config.server.require_operator_auth,
        client_certificates=config.tls.enabled and bool(config.tls.client_ca),
        forced=forced,
    )


def _with_overrides(config: Config, args: argparse.Namespace) -> Config:
    changes: dict[str, Any] = {}
    if args.host is not None:
        changes["host"] = args.host
    if args.port is not None:
        changes["port"] = args.port
    if args.workers is not None:
        changes["workers"] = args.workers
    if not changes:
        return config
    server = dataclasses.replace(config.server, **changes)
    try:
        server.validate("server")
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    return config.replace(server=server)


def _tls_options(config: Config) -> Any:
    if not config.tls.enabled:
        return None
    from xmlvend.server.tls import TLSSetupError, server_options

    try:
        return server_options(config)
    except TLSSetupError as exc:
        raise CommandError(str(exc)) from exc


# The access loggers whose records (one per request) go to stdout: XMLVend's, and the JSON
# API's mounted beside it (named here, not imported: adapters do not import each other).
JSON_API_ACCESS_LOGGER = "evd.jsonapi.access"


def _configure_logging(config: Config) -> None:
    """One line per request on stdout (JSON or key=value), XMLVend's and the JSON API's;
    the rest stays on stderr."""
    from xmlvend.server.accesslog import ACCESS_LOGGER, JSONLineFormatter, KeyValueFormatter

    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JSONLineFormatter() if config.logging.json else KeyValueFormatter())
    for name in (ACCESS_LOGGER, JSON_API_ACCESS_LOGGER):
        access = logging.getLogger(name)
        access.handlers.clear()
        access.addHandler(handler)
        access.setLevel(logging.INFO)
        access.propagate = False
    logging.getLogger("evd").setLevel(config.logging.level)


def _fulfilment_factory(reactor: Any, database: Any) -> Any:
    """Sales through providers (the catalogue), found by entry point so that xmlvend never
    imports it: ``evd.fulfilment`` names a ``factory(reactor, database)``."""
    from importlib.metadata import entry_points

    found = sorted(entry_points(group="evd.fulfilment"), key=lambda e: e.name)
    return found[0].load()(reactor, database) if found else None


def _url(config: Config, host: str, port: int) -> str:
    scheme = "https" if config.tls.enabled else "http"
    shown = "127.0.0.1" if host in ("", "0.0.0.0") else "[::1]" if host == "::" else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"{scheme}://{shown}:{port}/xmlvend"


def _curl_options(config: Config) -> str:
    if not config.tls.enabled:
        return ""
    options = "-k"
    if config.tls.client_ca:  # the files `evd certs dev` writes for the demo vendor
        client = "var/certs/client-6004708000090"
        options += f" --cert {client}.pem --key {client}.key"
    return options


def _run(
    context: Context,
    config: Config,
    keyring: Any,
    tls_options: Any,
    worker_index: int | None,
    ready_fd: int | None = None,
    metrics_dir: str | None = None,
    exposure: dict[str, Any] | None = None,
) -> int:
    from twisted.internet import reactor

    from vending.services.wiring import build_application
    from xmlvend.codec import compile_plans
    from xmlvend.server.app import build_server
    from xmlvend.server.banner import banner
    from xmlvend.server.heap import freeze_startup_heap
    from xmlvend.server.listen import listen
    from xmlvend.server.mounts import mount, web_adapters
    from xmlvend.transport.batching import worker_runner
    from xmlvend.upstream import upstream_backend

    app = build_application(
        config,
        reactor=reactor,
        runner_factory=lambda database: worker_runner(config, reactor, database),
        database=context.database,
        keyring=keyring,
        upstream_factory=upstream_backend,
        fulfilment_factory=_fulfilment_factory(reactor, context.database),
        clock=context.clock,
    )
    database = app.database
    server = build_server(
        config,
        reactor=reactor,
        app=app,
        health_details={"exposure": exposure} if exposure is not None else None,
    )
    # Other adapters (the JSON API at /api, SMS, USSD, card checkout) in the same Site,
    # found by entry point.
    mounted = [
        adapter.build_for_serve(app, reactor=reactor, background=worker_index in (None, 0))
        for adapter in web_adapters()
    ]
    for built in mounted:
        mount(server.site, built.segment, built.resource)
    publisher = None
    if metrics_dir is not None:  # a worker of evd serve --workers N: /metrics sums them all
        from xmlvend.server.metricsdir import SnapshotDirectory, SnapshotPublisher

        publisher = SnapshotPublisher(
            server.metrics,
            SnapshotDirectory(metrics_dir),
            config.server.metrics_snapshot_seconds,
            reactor,
        )
        publisher.start()
    server.start(recovery=worker_index in (None, 0))
    try:
        port = listen(
            reactor,
            server.site,
            config.server.host,
            config.server.port,
            tls_options=tls_options,
            reuse_port=worker_index is not None,
            on_tls_failure=server.tls_handshake_failed,
        )
    except OSError as exc:
        server.stop(0)
        if publisher is not None:
            publisher.stop()
        raise CommandError(
            f"cannot listen on {config.server.host}:{config.server.port}: {exc.strerror or exc}"
        ) from exc
    url = _url(config, config.server.host, port.getHost().port)
    database_url = database.engine.url.render_as_string(hide_password=True)
    if worker_index is None:
        print(
            banner(
                url,
                workers=1,
                database=database_url,
                curl_options=_curl_options(config),
                extra=_web_banner(url, config),
            ),
            flush=True,
        )
    else:
        print(f"evd serve: worker {worker_index} listening on {url}", flush=True)
    if ready_fd is not None:  # tell the supervisor (evd serve --workers N)
        os.write(ready_fd, b"1")
        os.close(ready_fd)

    def shutdown() -> Any:
        log.info("stopping: no new connections, finishing in-flight requests")
        port.stopListening()
        for adapter in mounted:
            adapter.stop()
        stopped = server.stop()
        if publisher is not None:  # after the drain: the last counts, nothing in flight
            stopped.addBoth(_then(publisher.stop))
        return stopped

    reactor.addSystemEventTrigger("before", "shutdown", shutdown)
    # Every codec plan compiled now, not on the reactor thread by each kind's first
    # request; and so frozen with the rest of the start-up heap.
    compiled = compile_plans()
    log.debug("%d codec plans compiled", compiled)
    frozen = freeze_startup_heap()  # xmlvend.server.heap: why
    log.debug("%d objects frozen out of garbage collection", frozen)
    reactor.run()
    return 0


def _web_banner(url: str, config: Config) -> list[str]:
    from xmlvend.server.mounts import web_adapters

    base = url.rsplit("/xmlvend", 1)[0]
    lines: list[str] = []
    for adapter in web_adapters():
        banner_lines = adapter.banner_lines
        # Adapters that switch on or off by config say which in the banner.
        if "config" in inspect.signature(banner_lines).parameters:
            lines += banner_lines(base, _curl_options(config), config=config)
        else:
            lines += banner_lines(base, _curl_options(config))
    return lines


def _then(action: Any) -> Any:
    """A Deferred callback that runs ``action()`` and passes the result on."""

    def callback(result: Any) -> Any:
        action()
        return result

    return callback


def _supervise(context: Context, args: argparse.Namespace, config: Config) -> int:
    from xmlvend.server.banner import banner
    from xmlvend.server.workers import Supervisor, worker_command

    server = config.server
    try:
        supervisor = Supervisor(
            server.host, server.port, server.workers, grace_seconds=server.deadline_seconds + 5
        )
    except OSError as exc:
        raise CommandError(f"cannot listen on {server.host}:{server.port}: {exc}") from exc
    # The workers open their own connections; this process needs none.
    context.close()
    supervisor.start(
        [
            worker_command(
                args.config,
                args.verbose,
                server.host,
                supervisor.port,
                server.workers,
                index,
                supervisor.ready_fd,
                supervisor.metrics_dir,
            )
            + (["--allow-insecure"] if args.allow_insecure else [])
            for index in range(server.workers)
        ]
    )
    if not supervisor.wait_ready(timeout=60):
        supervisor.stop()
        raise CommandError("the workers did not start; see the messages above")
    url = _url(config, server.host, supervisor.port)
    database_url = config.database.url.split("@")[-1]
    print(
        banner(
            url,
            workers=server.workers,
            database=f"...@{database_url}",
            curl_options=_curl_options(config),
            extra=_web_banner(url, config),
        ),
        flush=True,
    )
    return supervisor.run()


# --- certs ---------------------------------------------------------------------------------------


def _certs_dev(context: Context, args: argparse.Namespace) -> int:
    from vending.demo import DEMO_VENDORS
    from xmlvend.server.certs import P12_PASSWORD, write_dev_certificates

    config = context.config
    directory = config.path(args.out)
    client_ids = tuple(args.client_ids or (v.client_id for v in DEMO_VENDORS))
    field = config.tls.client_id_field
    written = write_dev_certificates(
        Path(directory), client_ids, field_name=field, hosts=tuple(args.hosts)
    )
    print(f"development certificates in {written.directory} (never use them in production):")
    print(f"  CA              {written.ca}")
    print(f"  server          {written.server_cert}  (key {written.server_key})")
    for client_id, (cert, key, bundle) in written.clients.items():
        print(f"  client {client_id}  {cert}  (key {key}; PKCS#12 {bundle}, password "
              f"{P12_PASSWORD.decode()})")  # fmt: skip
    print()
    print("Mutual TLS: put this in the config (or EVD__TLS__... variables):")
    print()
    print("[tls]")
    print("enabled = true")
    print(f'cert = "{written.server_cert}"')
    print(f'key = "{written.server_key}"')
    print(f'client_ca = "{written.ca}"')
    print(f'client_id_field = "{field}"')
    return 0
