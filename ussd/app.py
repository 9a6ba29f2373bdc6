"""The USSD channel assembled around the built application, mounted by ``evd serve`` at
``/ussd`` (the ``evd.web`` entry point) when ``[sms] enabled`` (it shares the SMS
merchants, PINs and MT outbox: a recipient's PIN goes out by SMS)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.web.resource import Resource

from sms.app import _Off, shared_merchants
from ussd.menu import UssdChannel
from ussd.resource import UssdResource
from vending.services.channel_products import ChannelProducts
from vending.services.sms import SmsOutbox

SEGMENT = b"ussd"


@dataclass
class UssdMount:
    channel: UssdChannel
    resource: Resource
    segment: bytes = SEGMENT

    def stop(self) -> Deferred:
        return succeed(None)


def build_ussd(app: Any, *, clock: Any = None) -> UssdMount:
    config = app.config
    clock = clock or app.services.clock
    channel = UssdChannel(
        app.services,
        shared_merchants(app, clock),
        SmsOutbox(app.runner, app.keyring, clock, config.sms.short_code),
        ChannelProducts(app.runner),
        currency=config.currency.default,
        country_code=config.sms.country_code,
        session_seconds=config.sms.ussd_session_seconds,
    )
    app.services.register_renderer("ussd", channel.renderer)
    return UssdMount(channel, UssdResource(channel, config.sms.gateway_token))


@dataclass
class _OffMount:
    resource: Resource
    segment: bytes = SEGMENT

    def stop(self) -> Deferred:
        return succeed(None)


def build_for_serve(app: Any, *, reactor: Any, background: bool = True) -> Any:
    if not app.config.sms.enabled:
        return _OffMount(_Off())
    return build_ussd(app)


def banner_lines(base_url: str, curl_options: str = "") -> list[str]:
    return []  # the SMS adapter's lines cover USSD
