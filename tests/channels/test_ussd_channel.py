"""The USSD channel over the in-process server: the gateway callback convention, menus,
idempotency on (session id, text), timeouts."""

from __future__ import annotations

import re

from channel_support import CONSUMER, MERCHANT_PIN, ChannelWorld
from server_support import NORMAL_METER

from ussd.menu import MAX_SCREEN


def _walk(world: ChannelWorld, session: str, *inputs: str) -> list[str]:
    screens = [world.ussd_step(session, "")]
    for i in range(1, len(inputs) + 1):
        screens.append(world.ussd_step(session, "*".join(inputs[:i])))
    return screens


def test_buy_airtime_by_menu_sends_the_pin_to_the_recipient(world: ChannelWorld) -> None:
    screens = _walk(world, "s1", MERCHANT_PIN, "1", "1", "1", "0831234567", "1")
    assert screens[0].startswith("CON ") and "PIN" in screens[0]
    assert "1 Airtime/data" in screens[1]
    assert "DemoMobile" in screens[2]
    assert "AIR-DEMO-10" in screens[3]
    assert f"to {CONSUMER}" in screens[5]
    final = screens[6]
    assert final.startswith("END ") and re.search(r"PIN \d{16}", final)
    assert all(len(screen) <= MAX_SCREEN for screen in screens)
    assert world.sale_count() == 1
    world.deliver()
    assert len(world.gateway.texts_to(CONSUMER)) == 1


def test_a_resent_final_step_never_sells_twice(world: ChannelWorld) -> None:
    screens = _walk(world, "s2", MERCHANT_PIN, "1", "1", "1", "0", "1")
    again = world.ussd_step("s2", f"{MERCHANT_PIN}*1*1*1*0*1")
    assert again == screens[-1] and world.sale_count() == 1
    # A resent first screen is the same screen.
    assert world.ussd_step("s2", "") == screens[0]


def test_a_session_that_timed_out_sells_nothing(world: ChannelWorld) -> None:
    _walk(world, "s3", MERCHANT_PIN, "1", "1", "1", "0")
    world.advance(181)
    final = world.ussd_step("s3", f"{MERCHANT_PIN}*1*1*1*0*1")
    assert final.startswith("END ") and "timed out" in final
    assert world.sale_count() == 0


def test_electricity_confirms_the_customer_then_sells(world: ChannelWorld) -> None:
    screens = _walk(world, "s4", MERCHANT_PIN, "2", NORMAL_METER, "50", "0")
    assert "token by SMS" in screens[-2]
    assert "Confirm" in screens[-1] and NORMAL_METER in screens[-1]
    final = world.ussd_step("s4", f"{MERCHANT_PIN}*2*{NORMAL_METER}*50*0*1")
    assert final.startswith("END ") and "Token" in final
    assert world.sale_count() == 1
    cancelled = _walk(world, "s5", MERCHANT_PIN, "2", NORMAL_METER, "50", "0", "2")[-1]
    assert "Nothing was sold" in cancelled and world.sale_count() == 1
    world.deliver()
    assert world.gateway.texts_to(CONSUMER) == []


def test_electricity_by_menu_sends_the_token_to_the_recipient(world: ChannelWorld) -> None:
    screens = _walk(world, "s11", MERCHANT_PIN, "2", NORMAL_METER, "50", "0831234567", "1")
    assert f"to {CONSUMER}" in screens[-2]
    token = re.search(r"Token ((?:\d{4} ){4}\d{4})", screens[-1])
    assert token, screens[-1]
    assert all(len(screen) <= MAX_SCREEN for screen in screens)
    world.deliver()
    (sent,) = world.gateway.texts_to(CONSUMER)
    assert token.group(1) in sent


def test_balance_wrong_pin_and_unknown_numbers(world: ChannelWorld) -> None:
    assert _walk(world, "s6", MERCHANT_PIN, "3")[-1].startswith("END Balance")
    assert "Wrong PIN" in world.ussd_step("s7", "0000")
    assert "not registered" in world.ussd_step("s8", "", phone="27829999999")
    assert "Invalid choice" in world.ussd_step("s6", f"{MERCHANT_PIN}*9")
    assert world.sale_count() == 0


def test_change_pin_by_menu(world: ChannelWorld) -> None:
    world.sentinel.register("97531")
    final = _walk(world, "s9", MERCHANT_PIN, "5", "97531", "97531")[-1]
    assert "changed" in final
    assert "Wrong PIN" in world.ussd_step("s10", MERCHANT_PIN)
    assert "Airtime" in world.ussd_step("s10", "97531")
