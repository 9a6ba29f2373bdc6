"""A merchant selling provider products by SMS and USSD in a channel test world: the demo
catalogue, an INR shop with its SMS number and PIN, and the scripted provider ``alpha``
selling the given ``(product, provider code)`` mappings."""

from __future__ import annotations

import sys
from pathlib import Path

from channel_support import ChannelWorld

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "catalogue"))

from catalogue_support import ScriptedProvider, attach_provider_sales, principal, seed_shop

from catalogue.interface import ProviderResult
from vending.money import Money
from vending.vendors import adjust_vendor_balance


def open_shop(
    world: ChannelWorld,
    shop: str,
    phone: str,
    pin: str,
    mappings: tuple[tuple[str, str], ...],
    *,
    extra_float: int = 0,
) -> ScriptedProvider:
    """The shop (Rs 1,000 + ``extra_float`` paise) registered for SMS; the provider."""
    xml = world.xml
    xml.database.run_txn("seed_provider_shop", seed_shop, xml.keyring, shop, mappings, xml.clock())
    if extra_float:
        xml.database.run_txn("float", adjust_vendor_balance, shop, Money(extra_float, "INR"),
                             reason="float", actor="t", now=xml.clock())  # fmt: skip
    world.wait(world.sms.merchants.register(phone, shop, "till", pin))
    world.sentinel.register(pin)
    provider = ScriptedProvider("alpha")
    attach_provider_sales(xml.server.services, xml.database, xml.keyring, xml.clock,
                          xml.reactor, {"alpha": provider})  # fmt: skip
    return provider


def close_by_poll(
    world: ChannelWorld, provider: ScriptedProvider, order_id: str, result: ProviderResult,
    phone: str,
) -> list[str]:  # fmt: skip
    """The provider answers ``result`` to the next status poll of a pending order; the poll
    closes it (the result SMS queued in its transaction) and the SMS are delivered. The
    texts sent to ``phone``."""
    provider.statuses[order_id] = result
    world.advance(1.0)
    world.deliver()
    return list(world.gateway.texts_to(phone))


__all__ = ["ScriptedProvider", "close_by_poll", "open_shop", "principal"]
