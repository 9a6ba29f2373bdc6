"""Bills by SMS (``<PIN> BILL <biller> <value>... [<amount> [<mobile>]]``, issue 14 §7): the
enquiry shows the fetched bill and pays nothing; a payment is fetched first where the
biller fetches and paid against it, once per message (a gateway retry replays the reply);
bad values are refused with what to send; a pending payment's result follows by SMS."""

from __future__ import annotations

from typing import Any

import pytest
from channel_support import ChannelWorld
from provider_shop import ScriptedProvider, close_by_poll, open_shop

from catalogue.interface import Outcome, ProviderResult
from sms.grammar import KEYWORDS, Command, CommandError, parse
from vending.money import Money

SHOP, SHOP_PHONE, SHOP_PIN = "6004708000555", "919812300003", "7391"
START = Money(1_000_000, "INR")


@pytest.fixture
def shop(world: ChannelWorld) -> tuple[ChannelWorld, ScriptedProvider]:
    mappings = (("BBPS-ELECTRICITY", "*"), ("BBPS-GAS", "*"))
    return world, open_shop(world, SHOP, SHOP_PHONE, SHOP_PIN, mappings, extra_float=900_000)


def test_the_bill_command_parses_without_its_pin() -> None:
    command = parse("7391 billpay bescom000kar01 1234567890 1540,50")
    assert command == Command("bill", pin="7391", biller="BESCOM000KAR01",
                              values=("1234567890", "1540,50"))  # fmt: skip
    assert command.canonical() == "bill BESCOM000KAR01 1234567890 1540,50"
    for bad in ("7391 BILL", "7391 BILL BESCOM 1234567890", "7391 BILL BESCOM000KAR01"):
        with pytest.raises(CommandError, match="BILL <biller id>"):
            parse(bad)
    assert set(KEYWORDS["bill"]) == {"BILL", "BILLPAY", "BBPS"}


def test_enquiry_shows_the_bill_and_pays_nothing(shop: Any) -> None:
    world, provider = shop
    shown = world.mo(f"{SHOP_PIN} BILL BESCOM000KAR01 1234567890", sender=SHOP_PHONE)
    assert shown == (
        "Bill BESCOM000KAR01 R K Gupta: INR 1540.00. To pay send <PIN> BILL BESCOM000KAR01 "
        "1234567890 1540.00"
    )
    assert provider.executed == [] and world.balance(SHOP) == START


def test_pay_fetches_first_and_pays_once(shop: Any) -> None:
    world, provider = shop
    sent = f"{SHOP_PIN} BILL BESCOM000KAR01 1234567890 1540"
    done = world.mo(sent, sender=SHOP_PHONE, message_id="bill-1")
    assert done.startswith("Bill BESCOM000KAR01:****7890 1540.00 EV"), done
    assert "done. Ref OPALPHA" in done and provider.fetched == ["BESCOM000KAR01"]
    assert provider.executed[0].params["mobile"] == "9812300003"  # the merchant's number
    paid = world.balance(SHOP)
    assert paid < START
    assert world.mo(sent, sender=SHOP_PHONE, message_id="bill-1") == done  # gateway retry
    assert len(provider.executed) == 1 and world.balance(SHOP) == paid


def test_refusals_say_what_to_send_and_pay_nothing(shop: Any) -> None:
    world, provider = shop

    def reply(text: str) -> str:
        return world.mo(f"{SHOP_PIN} {text}", sender=SHOP_PHONE)

    assert "exactly the bill amount, INR 1540.00" in reply("BILL BESCOM000KAR01 1234567890 100")
    assert "not in the biller's format" in reply("BILL BESCOM000KAR01 12345 1540")
    assert "BILL BESCOM000KAR01 <Customer ID> [amount [mobile]]" in reply(
        "BILL BESCOM000KAR01 1234567890 1540 9810012340 extra"
    )
    assert "mobile" in reply("BILL IGL000000DEL01 1234567890 500 12345")
    assert "cannot be fetched" in reply("BILL IGL000000DEL01 1234567890")
    assert "Nothing was sold" in reply("BILL NOSUCHBILLER01 1 2")
    assert provider.executed == [] and world.balance(SHOP) == START


def test_a_pending_bill_payment_is_pushed_by_sms(shop: Any) -> None:
    world, provider = shop
    sent = f"{SHOP_PIN} BBPS IGL000000DEL01 1234567892 500 9810012340"
    pending = world.mo(sent, sender=SHOP_PHONE, message_id="bill-2")
    assert pending.startswith("Bill IGL000000DEL01:****7892 500.00 EV") and "pending" in pending
    order_id = pending.split()[3]
    assert provider.executed[0].params["mobile"] == "9810012340"
    assert world.mo(sent, sender=SHOP_PHONE, message_id="bill-2") == pending  # not paid twice
    assert len(provider.executed) == 1
    refused = ProviderResult(Outcome.FAILED, "X", None, "FAI", "Biller down")
    texts = close_by_poll(world, provider, order_id, refused, SHOP_PHONE)
    assert any(t.startswith(f"Bill payment {order_id} for IGL000000DEL01:****7892")
               and "FAILED; amount refunded" in t for t in texts), texts  # fmt: skip
    # The customer's account is masked in every answer and result (the last four only).
    assert not any("1234567892" in t for t in [pending, *texts])
    assert world.balance(SHOP) == START
    final = world.mo(sent, sender=SHOP_PHONE, message_id="bill-2")
    assert "failed" in final and "Refunded" in final
