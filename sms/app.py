"""The SMS channel assembled around the built application (``vending.services.wiring``):
its services (merchants, outbox), the SMS renderer registered for the ``sms`` channel, the
``/sms`` resources and the MT deliverer on the reactor.

``evd serve`` finds :func:`build_for_serve` through the ``evd.web`` entry point and mounts
``/sms`` in the XMLVend server's Site. With ``[sms] enabled = false`` (the default) the
resource only says the channel is off, nothing is sent, and the banner says how to turn it
on. Tests build it with :func:`build_sms` around ``task.Clock`` and their own sender.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred, ensureDeferred, succeed
from twisted.web.resource import Resource

from sms.batching import BatchingRunner
from sms.channel import SmsChannel
from sms.kannel import KannelSendsms, MtDeliverer, Sender
from sms.resource import DlrResource, MoResource, SmsRoot
from vending.services.sms import SmsMerchants, SmsOutbox

SEGMENT = b"sms"


@dataclass
class SmsMount:
    channel: SmsChannel
    merchants: SmsMerchants
    outbox: SmsOutbox
    deliverer: MtDeliverer
    resource: Resource
    segment: bytes = SEGMENT
    enabled: bool = True

    wakeup: Any = None

    def start(self) -> None:
        self.deliverer.start()

    def stop(self) -> Deferred:
        if self.wakeup is not None:
            self.wakeup.disconnect(self.deliverer.kick)
        return self.deliverer.stop()


def callback_base_url(config: Any) -> str:
    if config.sms.callback_base_url:
        return config.sms.callback_base_url
    host = config.server.host if config.server.host not in ("0.0.0.0", "") else "127.0.0.1"
    scheme = "https" if config.tls.enabled else "http"
    return f"{scheme}://{host}:{config.server.port}"


def shared_merchants(app: Any, clock: Any = None, batch_runner: Any = None) -> SmsMerchants:
    """One :class:`SmsMerchants` per application, shared by the SMS and USSD channels (a
    PIN changed on one is forgotten by the other's cache at once)."""
    merchants = getattr(app, "_evd_sms_merchants", None)
    if merchants is None:
        config = app.config
        merchants = SmsMerchants(
            app.runner,
            app.keyring,
            clock or app.services.clock,
            lock_seconds=config.sms.pin_lock_seconds,
            pin_log_n=config.security.scrypt_log_n,
            cache_seconds=config.security.auth_cache_seconds,
            batch_runner=batch_runner,
        )
        app._evd_sms_merchants = merchants
    return merchants


def build_sms(
    app: Any,
    *,
    reactor: Any,
    clock: Any = None,
    send: Sender | None = None,
    merchants: SmsMerchants | None = None,
) -> SmsMount:
    """``app``: a ``vending.services.wiring.Application`` (or what tests give of it)."""
    config = app.config
    services = app.services
    clock = clock or services.clock
    batch = (
        BatchingRunner(app.runner, reactor, delay=config.sms.batch_seconds)
        if config.sms.batch_seconds > 0
        else None
    )
    merchants = merchants or shared_merchants(app, clock, batch)
    outbox = SmsOutbox(app.runner, app.keyring, clock, config.sms.short_code, batch_runner=batch)
    if send is None:
        send = KannelSendsms(
            reactor,
            url=config.sms.sendsms_url,
            username=config.sms.username,
            password=config.sms.password,
            dlr_base_url=callback_base_url(config),
            gateway_token=config.sms.gateway_token,
            timeout_seconds=config.sms.timeout_seconds,
        )
    deliverer = MtDeliverer(outbox, send, reactor, poll_seconds=config.sms.poll_seconds)
    channel = SmsChannel(
        services,
        merchants,
        outbox,
        currency=config.currency.default,
        country_code=config.sms.country_code,
        on_queued=deliverer.kick,
    )
    services.register_renderer("sms", channel.renderer)
    # A sale on any channel that queued a consumer's PIN or token wakes the deliverer on
    # its commit (vending.recipient_sms); the poll is only for other processes' work.
    wakeup = getattr(services, "sms_queued", None)
    if wakeup is not None:
        wakeup.connect(deliverer.kick)
    token = config.sms.gateway_token
    root = SmsRoot(MoResource(channel, token), DlrResource(outbox, token))
    return SmsMount(channel, merchants, outbox, deliverer, root, wakeup=wakeup)


class _Off(Resource):
    isLeaf = True

    def render(self, request: Any) -> bytes:
        request.setResponseCode(503)
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        return b"The SMS channel is off: set [sms] enabled = true (docs/SMS.md).\n"


@dataclass
class _OffMount:
    resource: Resource
    segment: bytes = SEGMENT
    enabled: bool = False

    def stop(self) -> Deferred:
        return succeed(None)


def build_for_serve(app: Any, *, reactor: Any, background: bool = True) -> Any:
    """The ``evd.web`` entry point: ``/sms`` (and the MT deliverer in one worker)."""
    if not app.config.sms.enabled:
        return _OffMount(_Off())
    built = build_sms(app, reactor=reactor)
    if background:
        ensureDeferred(built.deliverer.release_stale(app.services.clock()))
        built.start()
    return built


def banner_lines(base_url: str, curl_options: str = "", config: Any = None) -> list[str]:
    if config is None or not config.sms.enabled:
        return [
            "SMS/USSD  off. To try them: `evd kannel` starts a local Kannel with a fake",
            "          SMSC, then set EVD__SMS__ENABLED=true and `evd sms send` (docs/SMS.md).",
            "",
        ]
    return [
        f"SMS       MO {base_url}/sms/mo  (Kannel get-url), delivery reports {base_url}/sms/dlr",
        f"USSD      {base_url}/ussd  (gateway callback)",
        '          try: evd sms send 27820000001 "1234 BAL"',
        "",
    ]
