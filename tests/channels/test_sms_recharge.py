"""PIN-less recharge by SMS (``<PIN> RCH <number> <amount>``, issue 14 §7): done at once;
refused and refunded; pending, then the final result pushed to the merchant by SMS when a
status poll closes the order (and available by the order's status on every channel)."""

from __future__ import annotations

from typing import Any

import pytest
from channel_support import ChannelWorld
from provider_shop import ScriptedProvider, close_by_poll, open_shop

from catalogue.interface import Outcome, ProviderResult
from vending.money import Money

SHOP, SHOP_PHONE, SHOP_PIN = "6004708000888", "919812300001", "5678"


@pytest.fixture
def shop(world: ChannelWorld) -> tuple[ChannelWorld, ScriptedProvider]:
    return world, open_shop(world, SHOP, SHOP_PHONE, SHOP_PIN, (("RCH-AIRTEL", "AT"),))


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
    done = ProviderResult(Outcome.SUCCESS, "X", "OPR9")
    texts = close_by_poll(world, provider, order_id, done, SHOP_PHONE)
    assert any(t.startswith(f"Recharge {order_id} for 9810012342") and "SUCCESSFUL ref OPR9" in t
               for t in texts), texts  # fmt: skip
    assert any("SUCCESSFUL" in t for t in world.gateway.texts_to("919810012342"))
    final = world.mo(f"{SHOP_PIN} RCH 9810012342 199", sender=SHOP_PHONE, message_id="m1")
    assert "done. Ref OPR9" in final


def test_recharge_by_ussd(shop: Any) -> None:
    world, _provider = shop
    step = lambda text: world.ussd_step("s1", text, phone=SHOP_PHONE)  # noqa: E731
    assert step("").startswith("CON")
    assert "7 Recharge" in step(SHOP_PIN)
    assert "number" in step(f"{SHOP_PIN}*7")
    assert "Amount" in step(f"{SHOP_PIN}*7*9810012340")
    assert "Recharge 9810012340 with INR 199.00?" in step(f"{SHOP_PIN}*7*9810012340*199")
    done = step(f"{SHOP_PIN}*7*9810012340*199*1")
    assert done.startswith("END Recharge 9810012340 199.00 EV") and "done" in done
    assert step(f"{SHOP_PIN}*7*9810012340*199*1") == done  # resent: the same, sold once
    assert world.balance(SHOP) == Money(100_000 - 19_900 + 398, "INR")
