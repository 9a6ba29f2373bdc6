"""The admin suite assembled around the built application (``vending.services.wiring``):
its services (access, four-eyes, the network), the Klein UI with every screen registered,
and the resource ``evd serve`` mounts at ``/admin`` (the ``evd.web`` entry point).

Tests build it with :func:`build_admin` around their world's application (passwords then
hash inline); ``evd serve`` hashes on a pool of its own, like the XMLVend logins."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred, ensureDeferred, succeed
from twisted.internet.threads import deferToThread
from twisted.web.resource import Resource

from admin.screens import register_all
from admin.services import AdminServices
from admin.web import AdminUI
from vending.services.approvals import FourEyes, FourEyesSettings
from vending.services.catalogue_admin import CatalogueAdmin
from vending.services.network_admin import NetworkAdmin
from vending.services.staff import AccessSettings, CallHashing, StaffAccess
from vending.services.stock_uploads import build_stock_uploads

SEGMENT = b"admin"
# How often ended and expired sessions are deleted.
PRUNE_SECONDS = 3600.0

log = logging.getLogger(__name__)


@dataclass
class AdminMount:
    ui: AdminUI
    services: AdminServices
    resource: Resource
    segment: bytes = SEGMENT
    _pruning: Any = None

    def start(self, reactor: Any, every_seconds: float = PRUNE_SECONDS) -> None:
        """Delete ended and expired sessions now and then (one worker does it)."""
        from twisted.internet.task import LoopingCall

        def prune() -> Deferred:
            return ensureDeferred(self.services.access.prune_sessions())

        self._pruning = LoopingCall(prune)
        self._pruning.clock = reactor
        self._pruning.start(every_seconds, now=True).addErrback(_log_prune_failure)

    def stop(self) -> Deferred:
        if self._pruning is not None and self._pruning.running:
            self._pruning.stop()
        return succeed(None)


def _log_prune_failure(failure: Any) -> None:
    log.error("admin session pruning stopped: %s", failure.getErrorMessage())


def build_services(app: Any, *, call_hashing: CallHashing | None = None) -> AdminServices:
    config, clock = app.config, app.services.clock
    access = StaffAccess(
        app.runner,
        app.keyring,
        clock,
        AccessSettings.from_config(config),
        call_hashing=call_hashing,
    )
    four_eyes = FourEyes(app.runner, clock, access, FourEyesSettings.from_config(config))
    network = NetworkAdmin(
        app.runner, clock, access, four_eyes, password_log_n=config.security.scrypt_log_n
    )
    catalogue = CatalogueAdmin(
        app.runner, clock, access, expiring_days=config.vouchers.expiring_days
    )
    services = AdminServices(
        access=access,
        four_eyes=four_eyes,
        network=network,
        catalogue=catalogue,
        app=app,
        clock=clock,
    )
    # gpg and the import's own transactions block: they run in the reactor's thread pool.
    services.extra["stock_uploads"] = build_stock_uploads(app, access, four_eyes, deferToThread)
    return services


def build_admin(
    app: Any,
    *,
    call_hashing: CallHashing | None = None,
    screens: list[str] | None = None,
    extend: Callable[[AdminUI], None] | None = None,
) -> AdminMount:
    """``screens``: the screen modules to register (default: all of
    :data:`admin.screens.SCREENS`); ``extend(ui)``: more, for tests."""
    services = build_services(app, call_hashing=call_hashing)
    ui = AdminUI(services, secure_cookies=app.config.admin.secure_cookies)
    register_all(ui, screens)
    if extend is not None:
        extend(ui)
    return AdminMount(ui, services, ui.resource())


def _pool_hashing(reactor: Any, security: Any) -> CallHashing:
    """Password hashes on the XMLVend server's kind of hashing pool (its own threads at a
    lower CPU priority, bounded: beyond ``security.hash_queue`` a login is refused at once),
    never the reactor or the database threads."""
    from xmlvend.server.auth import BoundedCaller, ThreadCaller, hashing_executor

    caller = BoundedCaller(
        ThreadCaller(reactor, hashing_executor(security.hash_threads)), security.hash_queue
    )

    async def call(fn: Callable[..., Any], *args: Any) -> Any:
        return await caller(fn, *args)

    return call


def build_for_serve(app: Any, *, reactor: Any, background: bool = True) -> AdminMount:
    """The ``evd.web`` entry point: the admin suite at ``/admin`` (with ``background``, this
    worker also prunes old sessions)."""
    built = build_admin(app, call_hashing=_pool_hashing(reactor, app.config.security))
    if background:
        built.start(reactor)
    return built


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def banner_lines(base_url: str, curl_options: str = "") -> list[str]:
    """``evd serve``'s banner: the admin URL and, when the server listens on loopback only
    (``make run``), the demo users ``evd demo`` seeds (demo data only)."""
    from urllib.parse import urlsplit

    from staff.demo import DEMO_ADMIN, DEMO_DEALER

    lines = [f"Admin     {base_url}/admin/", ""]
    host = urlsplit(base_url).netloc.rsplit(":", 1)[0]
    if host not in LOOPBACK_HOSTS:
        return lines
    username, password, secret = DEMO_ADMIN
    return [
        *lines,
        "Demo administrator (`evd demo`; demo data only, shown on loopback only):",
        f"  user {username}  password {password}  TOTP secret {secret}",
        "  two-factor code: add the secret to an authenticator app, or run",
        f"  .venv/bin/python -c \"import pyotp; print(pyotp.TOTP('{secret}').now())\"",
        f"Demo dealer user: {DEMO_DEALER[0]} / {DEMO_DEALER[1]} (same TOTP secret)",
        "",
    ]
