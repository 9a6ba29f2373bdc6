"""Builds the catalogue's real parts from the provider registry: one client per active
provider (by its protocol), the reactor scheduler and the :class:`Fulfilment`. The process
composer (``evd serve``) passes :func:`fulfilment_factory` to ``build_application``;
providers added later are picked up at the next start."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from catalogue.adapters import insurance_json, travel_json
from catalogue.adapters.aeps_client import AepsJsonClient
from catalogue.adapters.bbps_client import BbpsXmlClient
from catalogue.adapters.dmt_client import DmtJsonClient
from catalogue.adapters.http import HttpChannel
from catalogue.adapters.insurance_client import InsuranceJsonClient
from catalogue.adapters.recharge_client import RechargeJsonClient
from catalogue.adapters.recharge_json import parse_callback
from catalogue.adapters.tasks import ReactorScheduler
from catalogue.adapters.travel_client import TravelJsonClient
from catalogue.fulfilment import Fulfilment, FulfilmentPolicy
from catalogue.providers import load_active_providers
from vending.keyring import Keyring

CALLBACK_PARSERS = {
    "recharge-json": parse_callback,
    "insurance-json": insurance_json.parse_callback,
    "travel-json": travel_json.parse_callback,
}


def build_clients(
    reactor: Any, database: Any, keyring: Keyring, clock: Callable[[], Any]
) -> dict[str, Any]:
    clients: dict[str, Any] = {}
    for provider, secret in load_active_providers(database, keyring):
        channel = HttpChannel(reactor, provider.url, provider.timeout_seconds)
        if provider.protocol == "recharge-json":
            clients[provider.name] = RechargeJsonClient(provider.name, channel, secret)
        elif provider.protocol == "bbps-xml":
            clients[provider.name] = BbpsXmlClient(provider.name, channel, clock)
        elif provider.protocol == "aeps-json":
            clients[provider.name] = AepsJsonClient(provider.name, channel)
        elif provider.protocol == "insurance-json":
            clients[provider.name] = InsuranceJsonClient(provider.name, channel, secret)
        elif provider.protocol == "travel-json":
            clients[provider.name] = TravelJsonClient(provider.name, channel, secret)
        elif provider.protocol == "dmt-json":
            clients[provider.name] = DmtJsonClient(provider.name, channel)
    return clients


def fulfilment_factory(
    reactor: Any, database: Any, *, policy: FulfilmentPolicy | None = None
) -> Callable[..., Fulfilment]:
    """``build_application(..., fulfilment_factory=fulfilment_factory(reactor, db))``."""

    def build(*, runner: Any, keyring: Keyring, clock: Any, renderers: Any) -> Fulfilment:
        return Fulfilment(
            runner,
            keyring,
            clock,
            ReactorScheduler(reactor),
            build_clients(reactor, database, keyring, clock),
            renderers,
            callback_parsers=CALLBACK_PARSERS,
            policy=policy,
        )

    return build
