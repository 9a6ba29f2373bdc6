"""The admin suite assembled around the built application (``vending.services.wiring``):
its services (access, four-eyes, the network), the Klein UI with every screen registered,
and the resource ``evd serve`` mounts at ``/admin`` (the ``evd.web`` entry point).

Tests build it with :func:`build_admin` around their world's application (passwords then
hash inline); ``evd serve`` hashes on a pool of its own, like the XMLVend logins."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.web.resource import Resource

from admin.screens import register_all
from admin.services import AdminServices
from admin.web import AdminUI
from vending.services.approvals import FourEyes, FourEyesSettings
from vending.services.catalogue_admin import CatalogueAdmin
from vending.services.network_admin import NetworkAdmin
from vending.services.staff import AccessSettings, CallHashing, StaffAccess

SEGMENT = b"admin"


@dataclass
class AdminMount:
    ui: AdminUI
    services: AdminServices
    resource: Resource
    segment: bytes = SEGMENT

    def stop(self) -> Deferred:
        return succeed(None)


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
    return AdminServices(
        access=access,
        four_eyes=four_eyes,
        network=network,
        catalogue=catalogue,
        app=app,
        clock=clock,
    )


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


def _pool_hashing(reactor: Any, threads: int) -> CallHashing:
    """Password hashes on threads of their own at a lower priority (the XMLVend server's
    kind of pool), never the reactor or the database threads."""
    from twisted.internet.threads import deferToThreadPool
    from twisted.python.threadpool import ThreadPool

    pool = ThreadPool(minthreads=0, maxthreads=max(1, threads), name="evd-admin-hash")
    pool.start()
    reactor.addSystemEventTrigger("during", "shutdown", pool.stop)

    async def call(fn: Callable[..., Any], *args: Any) -> Any:
        return await deferToThreadPool(reactor, pool, fn, *args)

    return call


def build_for_serve(app: Any, *, reactor: Any, background: bool = True) -> AdminMount:
    """The ``evd.web`` entry point: the admin suite at ``/admin``."""
    return build_admin(app, call_hashing=_pool_hashing(reactor, app.config.security.hash_threads))


def banner_lines(base_url: str, curl_options: str = "") -> list[str]:
    """``evd serve``'s banner: the admin URL, and the demo administrator when ``evd demo``
    seeded it (demo data only; the server listens on loopback in ``make run``)."""
    from staff.demo import DEMO_ADMIN, DEMO_DEALER

    username, password, secret = DEMO_ADMIN
    return [
        f"Admin     {base_url}/admin/",
        "",
        "Demo administrator (`evd demo`; demo data only, loopback):",
        f"  user {username}  password {password}  TOTP secret {secret}",
        "  (add the secret to an authenticator app, or: "
        f"python -c \"import pyotp; print(pyotp.TOTP('{secret}').now())\")",
        f"Demo dealer user: {DEMO_DEALER[0]} / {DEMO_DEALER[1]} (same TOTP secret)",
        "",
    ]
