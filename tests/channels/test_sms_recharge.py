"""PIN-less recharge by SMS (``<PIN> RCH <number> <amount>``, issue 14 §7): done at once;
refused and refunded; pending, then the final result pushed to the merchant by SMS when a
status poll closes the order (and available by the order's status on every channel)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from channel_support import ChannelWorld

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "catalogue"))

from catalogue_support import ScriptedProvider

from catalogue.adapters.tasks import ReactorScheduler
from catalogue.demo import seed_catalogue
from catalogue.fulfilment import Fulfilment, FulfilmentPolicy
from catalogue.interface import Outcome, ProviderResult
from catalogue.providers import add_provider, map_product
from vending.money import Money
from vending.services.provider_push import ResultPush
from vending.services.recharge_sales import RechargeSales
from vending.vendors import adjust_vendor_balance, create_operator, create_vendor
from xmlvend.transport.asyncdb import ImmediateDatabase

SHOP, SHOP_PHONE, SHOP_PIN = "6004708000888", "919812300001", "5678"


@pytest.fixture
def shop(world: ChannelWorld) -> tuple[ChannelWorld, ScriptedProvider]:
    xml = world.xml
    now = xml.clock()

    def seed(txn: Any) -> None:
        seed_catalogue(txn, now=now)
        create_vendor(txn, client_id=SHOP, name="Sharma Mobile", currency="INR", now=now)
        adjust_vendor_balance(txn, SHOP, Money(100_000, "INR"), reason="float", actor="t",
                              now=now)  # fmt: skip
        create_operator(txn, name="till", password_hash="-", vendor_client_id=SHOP, now=now)
        add_provider(txn, xml.keyring, name="alpha", protocol="recharge-json",
                     url="http://127.0.0.1:9", actor="t", now=now)  # fmt: skip
        map_product(txn, product_code="RCH-AIRTEL", provider="alpha", provider_code="AT",
                    actor="t", now=now)  # fmt: skip

    xml.database.run_txn("seed_sms_recharge", seed)
    world.wait(world.sms.merchants.register(SHOP_PHONE, SHOP, "till", SHOP_PIN))
    world.sentinel.register(SHOP_PIN)
    provider = ScriptedProvider("alpha")
    services = xml.server.services
    runner = ImmediateDatabase(xml.database)
    fulfilment = Fulfilment(
        runner, xml.keyring, xml.clock, ReactorScheduler(xml.reactor), {"alpha": provider},
        services.renderers, policy=FulfilmentPolicy(first_poll_seconds=1.0),
        push=ResultPush(xml.keyring, "5555"),
    )  # fmt: skip
    services.fulfilment = fulfilment
    services.recharge = RechargeSales(runner, fulfilment, xml.clock)
    return world, provider


def test_recharge_by_sms_done_and_refused(shop: Any) -> None:
    world, _provider = shop
    done = world.mo(f"{SHOP_PIN} RCH 9810012340 199", sender=SHOP_PHONE)
    assert done.startswith("Recharge 9810012340 199.00 EV") and "done. Ref OPALPHA" in done
    assert world.balance(SHOP) == Money(100_000 - 19_900 + 398, "INR")
    refused = world.mo(f"{SHOP_PIN} RCH 9810012341 199", sender=SHOP_PHONE)
    assert "failed" in refused and "Refunded" in refused
    assert world.balance(SHOP) == Money(100_000 - 19_900 + 398, "INR")
    assert "RCH <mobile number" in world.mo(f"{SHOP_PIN} RCH 12 199", sender=SHOP_PHONE)


def test_pending_recharge_result_is_pushed_by_sms(shop: Any) -> None:
    world, provider = shop
    pending = world.mo(f"{SHOP_PIN} RCH 9810012342 199", sender=SHOP_PHONE, message_id="m1")
    assert "pending" in pending
    order_id = pending.split()[3]
    # The gateway's retry of the same MO gets the same pending answer, never a second sale.
    assert world.mo(f"{SHOP_PIN} RCH 9810012342 199", sender=SHOP_PHONE, message_id="m1") == pending
    provider.statuses[order_id] = ProviderResult(Outcome.SUCCESS, "X", "OPR9")
    world.advance(1.0)  # the status poll closes the order: the result SMS is queued
    world.deliver()
    texts = world.gateway.texts_to(SHOP_PHONE)
    assert any(t.startswith(f"Recharge {order_id} for 9810012342") and "SUCCESSFUL ref OPR9" in t
               for t in texts), texts  # fmt: skip
    assert any("SUCCESSFUL" in t for t in world.gateway.texts_to("919810012342"))
    final = world.mo(f"{SHOP_PIN} RCH 9810012342 199", sender=SHOP_PHONE, message_id="m1")
    assert "done. Ref OPR9" in final
