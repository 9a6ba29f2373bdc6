"""The USSD channel over the in-process server: the gateway callback convention, menus,
idempotency on (session id, text), timeouts."""

from __future__ import annotations

import re
from typing import Any

from channel_support import CONSUMER, MERCHANT_PIN, ChannelWorld, ussd_pages
from server_support import NORMAL_METER

from ussd.menu import MAX_SCREEN
from vending.money import Money
from vending.products import create_product


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


# Twelve more networks than DemoMobile (one product each) and twelve more DemoMobile
# products: neither list fits one 182-character screen.
NETWORKS = [f"Network {n:02} Telecom" for n in range(1, 13)]


def _many_networks(world: ChannelWorld) -> None:
    def add(txn: Any) -> None:
        now = world.xml.clock()
        for n, network in enumerate(NETWORKS, start=1):
            create_product(
                txn, code=f"NET{n:02}-AIR-5", kind="voucher", name=f"{network} R5",
                currency="ZAR", supplier_account_code="supplier:VOUCHERS",
                face_value=Money(500, "ZAR"), attributes={"network": network}, now=now,
            )  # fmt: skip
        for n in range(1, 13):
            create_product(
                txn, code=f"AIR-DEMO-X{n:02}", kind="voucher", name=f"Demo airtime {n}",
                currency="ZAR", supplier_account_code="supplier:VOUCHERS",
                face_value=Money(100 * (40 + n), "ZAR"), attributes={"network": "DemoMobile"},
                now=now,
            )  # fmt: skip

    world.database.run_txn("networks", add)


def test_long_airtime_lists_are_paged(world: ChannelWorld) -> None:
    _many_networks(world)
    _walk(world, "p1", MERCHANT_PIN)
    networks, pages = ussd_pages(world, "p1", [MERCHANT_PIN, "1"])
    assert networks == sorted(["DemoMobile", *NETWORKS])  # every network, each whole
    assert len(pages) > 1 and pages[0].startswith("CON Network:\n1 DemoMobile\n")
    assert pages[0].endswith("\n98 More") and pages[-1].endswith("\n0 Back")
    assert world.ussd_step("p1", f"{MERCHANT_PIN}*1*98*0") == pages[0]
    # DemoMobile's products: paged too, every one listed.
    products, product_pages = ussd_pages(world, "p1", [MERCHANT_PIN, "1", "1"])
    assert len(product_pages) > 1 and product_pages[0].startswith("CON DemoMobile:\n")
    assert products[:2] == ["AIR-DEMO-10 10.00", "AIR-DEMO-30 30.00"]
    assert len(products) == 3 + 12 and "AIR-DEMO-X12 52.00" in products
    # Paged forward and back to the first page, AIR-DEMO-10 is sold, once, to no recipient.
    steps = [MERCHANT_PIN, "1", "98", "0", "1", "98", "0", "1", "0", "1"]
    screens = _walk(world, "p2", *steps)
    assert screens[-2] == "CON Buy AIR-DEMO-10 10.00?\n1 Confirm\n2 Cancel"
    assert screens[-1].startswith("END ") and re.search(r"PIN \d{16}", screens[-1])
    assert world.ussd_step("p2", "*".join(steps)) == screens[-1] and world.sale_count() == 1
    # A network on a later page, by its number there.
    page = next(i for i, s in enumerate(pages) if "Network 12 Telecom" in s)
    number = next(line.split()[0] for line in pages[page].splitlines() if "Network 12" in line)
    chosen = [MERCHANT_PIN, "1", *["98"] * page, number]
    assert world.ussd_step("p3", "*".join(chosen)) == "CON Network 12 Telecom:\n1 NET12-AIR-5 5.00"
    # Past the last page: an invalid choice.
    beyond = [MERCHANT_PIN, "1", *["98"] * len(pages)]
    assert "Invalid choice" in world.ussd_step("p4", "*".join(beyond))
    assert world.sale_count() == 1
