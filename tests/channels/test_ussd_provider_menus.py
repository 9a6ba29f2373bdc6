"""USSD menus 8 (bill payment) and 9 (money transfer) over the in-process server, through the
same services as the JSON API (issue 14 §7): one screen per step, each at most 182
characters; the biller's parameters checked one screen each; the bill fetched and shown;
the PIN confirming the payment; a resent final step never pays twice; a timed-out session
pays nothing; a pending payment answers with its order id and its result follows by SMS."""

from __future__ import annotations

from typing import Any

import pytest
from channel_support import ChannelWorld, ussd_pages
from fixed_clock import NOW
from provider_shop import ScriptedProvider, close_by_poll, open_shop, principal

from catalogue import bbps, transfers
from catalogue.interface import Outcome, ProviderResult
from ussd.menu import MAX_SCREEN
from vending.money import Money
from vending.vendors import adjust_vendor_balance, create_operator, create_vendor

SHOP, SHOP_PHONE, SHOP_PIN = "6004708000999", "919812300002", "4826"
MAPPINGS = (("BBPS-ELECTRICITY", "*"), ("BBPS-GAS", "*"), ("DMT-IMPS", "IMPS"))
START = Money(1_000_000, "INR")


@pytest.fixture
def shop(world: ChannelWorld) -> tuple[ChannelWorld, ScriptedProvider]:
    return world, open_shop(world, SHOP, SHOP_PHONE, SHOP_PIN, MAPPINGS, extra_float=900_000)


def walk(world: ChannelWorld, session: str, *inputs: str) -> list[str]:
    """Every screen of a session typed step by step (the gateway sends all inputs so far)."""
    screens = [world.ussd_step(session, "", phone=SHOP_PHONE)]
    for i in range(1, len(inputs) + 1):
        screens.append(world.ussd_step(session, "*".join(inputs[:i]), phone=SHOP_PHONE))
    assert all(len(screen) <= MAX_SCREEN for screen in screens), screens
    return screens


def executed(provider: ScriptedProvider) -> int:
    return len(provider.executed)


def test_bill_fetched_shown_and_paid_once(shop: Any) -> None:
    world, provider = shop
    steps = (SHOP_PIN, "8", "1", "1", "1234567890", "9810012340", SHOP_PIN)
    screens = walk(world, "b1", *steps)
    assert "8 Pay bill" in screens[1] and "9 Send money" in screens[1]
    assert screens[2] == "CON Bill category:\n1 Electricity\n2 Gas\n3 Insurance\n4 Mobile Postpaid"
    assert "1 BESCOM Bangalore" in screens[3] and "2 MSEDCL" in screens[3]
    assert screens[4] == "CON BESCOM Bangalore\nCustomer ID:"
    assert screens[5] == "CON Customer's mobile number:"
    # The fetched bill: the customer's name and the amount due; an EXACT biller: no amount.
    assert screens[6].startswith("CON R K Gupta\nDue INR 1540.00\nPay INR 1540.00?")
    assert "PIN" in screens[6] and provider.fetched == ["BESCOM000KAR01"]
    done = screens[7]
    assert done.startswith("END Bill BESCOM000KAR01:****7890 1540.00 EV"), done
    assert "done. Ref OPALPHA" in done
    assert world.balance(SHOP) < START and executed(provider) == 1
    paid = world.balance(SHOP)
    # The gateway resends the fetch screen and the final step: the same screens, one
    # fetch, one payment.
    assert world.ussd_step("b1", "*".join(steps[:-1]), phone=SHOP_PHONE) == screens[6]
    assert world.ussd_step("b1", "*".join(steps), phone=SHOP_PHONE) == done
    assert provider.fetched == ["BESCOM000KAR01"] and executed(provider) == 1
    assert world.balance(SHOP) == paid


def test_bill_parameters_are_checked_one_screen_at_a_time(shop: Any) -> None:
    world, provider = shop
    bad = walk(world, "b2", SHOP_PIN, "8", "1", "1", "12345")[-1]
    assert bad.startswith("END ") and "Customer ID" in bad and "format" in bad
    # MSEDCL: a second, optional parameter (0 skips it); a PARTIAL biller asks the amount.
    screens = walk(world, "b3", SHOP_PIN, "8", "1", "2", "123456789012", "0", "9810012340",
                   "2000")  # fmt: skip
    assert screens[5] == "CON MSEDCL Maharashtra\nBU (0 to skip):"
    assert screens[7].endswith("Amount to pay (up to the bill):")
    over = screens[8]
    assert over.startswith("END ") and "1540.00" in over  # more than the bill: refused
    assert executed(provider) == 0 and world.balance(SHOP) == START
    bad_mobile = walk(world, "b4", SHOP_PIN, "8", "2", "1", "1234567890", "12345")[-1]
    assert bad_mobile.startswith("END ") and "mobile" in bad_mobile


def test_a_wrong_or_cancelled_confirmation_pays_nothing(shop: Any) -> None:
    world, provider = shop
    steps = (SHOP_PIN, "8", "2", "1", "1234567890", "9810012340", "250")
    confirm = walk(world, "b5", *steps)[-1]
    assert confirm == (
        "CON Pay INR 250.00 to Indraprastha Gas for 1234567890?\n"
        "Enter your PIN to confirm, 0 to cancel:"
    )
    wrong = world.ussd_step("b5", "*".join([*steps, "9999"]), phone=SHOP_PHONE)
    assert wrong.startswith("END Wrong PIN") and "Nothing was paid" in wrong
    cancelled = world.ussd_step("b5", "*".join([*steps, "0"]), phone=SHOP_PHONE)
    assert cancelled == "END Cancelled. Nothing was paid."
    assert executed(provider) == 0 and world.balance(SHOP) == START and world.sale_count() == 0


def test_a_timed_out_bill_session_pays_nothing(shop: Any) -> None:
    world, provider = shop
    steps = (SHOP_PIN, "8", "2", "1", "1234567890", "9810012340", "250")
    walk(world, "b6", *steps)
    world.advance(181)
    final = world.ussd_step("b6", "*".join([*steps, SHOP_PIN]), phone=SHOP_PHONE)
    assert final == "END Session timed out. Nothing was paid."
    assert executed(provider) == 0 and world.sale_count() == 0


def test_a_pending_bill_payment_says_so_and_its_result_comes_by_sms(shop: Any) -> None:
    world, provider = shop
    # Indraprastha Gas takes no fetch; the customer's number ending 2: pending upstream.
    steps = (SHOP_PIN, "8", "2", "1", "1234567892", "9810012340", "500", SHOP_PIN)
    pending = walk(world, "b7", *steps)[-1]
    assert pending.startswith("END Bill IGL000000DEL01:****7892 500.00 EV") and (
        "pending. The result follows by SMS." in pending
    )
    order_id = pending.split()[4]
    resent = world.ussd_step("b7", "*".join(steps), phone=SHOP_PHONE)
    assert order_id in resent and "pending" in resent and executed(provider) == 1
    done = ProviderResult(Outcome.SUCCESS, "X", "BBPS9")
    texts = close_by_poll(world, provider, order_id, done, SHOP_PHONE)
    assert any(t.startswith(f"Bill payment {order_id} for IGL000000DEL01:****7892")
               and "SUCCESSFUL ref BBPS9" in t for t in texts), texts  # fmt: skip
    assert not any("1234567892" in t for t in [pending, *texts])
    final = world.ussd_step("b7", "*".join(steps), phone=SHOP_PHONE)
    assert final.startswith("END Bill IGL000000DEL01") and "done. Ref BBPS9" in final
    assert executed(provider) == 1


def _sender(world: ChannelWorld, account: str) -> None:
    who = principal(world.database, SHOP)
    transfers = world.xml.server.services.transfers
    world.wait(transfers.register_sender(who, "9876500001", "Sunita Devi"))
    world.wait(transfers.add_beneficiary(who, "9876500001", "Rajesh Gupta", account,
                                         "SBIN0001234"))  # fmt: skip


@pytest.mark.parametrize(("account", "result"), [("123456789010", "done. UTR OPALPHA"),
                                                 ("123456789012", "pending.")])  # fmt: skip
def test_money_transfer_by_menu(shop: Any, account: str, result: str) -> None:
    world, provider = shop
    _sender(world, account)
    steps = (SHOP_PIN, "9", "9876500001", "1", "2000", SHOP_PIN)
    screens = walk(world, "t1", *steps)
    assert screens[2] == "CON Sender's mobile number:"
    assert screens[3] == (
        f"CON Sunita Devi, INR 25000.00 left.\nSend to:\n1 RAJESH KUMAR GUPTA ..{account[-4:]}"
    )
    assert screens[4] == "CON Amount to send to RAJESH KUMAR GUPTA:"
    assert screens[5] == (
        f"CON Send INR 2000.00 to RAJESH KUMAR GUPTA a/c ..{account[-4:]}\n"
        "Fee INR 20.00, total INR 2020.00\nEnter your PIN to confirm, 0 to cancel:"
    )
    done = screens[6]
    head = f"END Transfer 2000.00 + fee 20.00 to a/c ..{account[-4:]} EV"
    assert done.startswith(head) and result in done, done
    resent = world.ussd_step("t1", "*".join(steps), phone=SHOP_PHONE)
    assert resent == done and executed(provider) == 1  # never sent twice


def test_transfer_for_an_unknown_sender_or_none_to_pay(shop: Any) -> None:
    world, _provider = shop
    unknown = walk(world, "t2", SHOP_PIN, "9", "9876500099")[-1]
    assert unknown.startswith("END ") and "9876500099" in unknown
    world.wait(world.xml.server.services.transfers.register_sender(
        principal(world.database, SHOP), "9876500002", "Amit Shah"))  # fmt: skip
    none = walk(world, "t3", SHOP_PIN, "9", "9876500002")[-1]
    assert none == "END 9876500002 has no beneficiaries: add one first."


# --- long lists, paged ----------------------------------------------------------------------

# Twelve more categories (sixteen in all) and fourteen more gas billers (fifteen with
# Indraprastha Gas, which sorts last): neither list fits one 182-character screen.
MORE_CATEGORIES = (
    "Broadband Postpaid", "Cable TV", "Clubs and Associations", "Credit Card", "DTH",
    "Education Fees", "Fastag", "Hospital", "Housing Society", "Landline Postpaid",
    "Loan Repayment", "Municipal Taxes",
)  # fmt: skip
GAS_BILLERS = [(f"GASCITY0000X{n:02}", f"City Gas {n:02} Distribution") for n in range(1, 15)]


def _many_billers(world: ChannelWorld) -> None:
    def add(txn: Any) -> None:
        extra = [(f"MORECAT0000X{n:02}", f"{name} One", name)
                 for n, name in enumerate(MORE_CATEGORIES, start=1)]  # fmt: skip
        for biller_id, name, category in [*extra, *((i, n, "Gas") for i, n in GAS_BILLERS)]:
            bbps.add_biller(
                txn, biller_id=biller_id, name=name, category=category, product_code="BBPS-GAS",
                fetch_requirement="NOT_SUPPORTED", amount_rule="ANY",
                params=[bbps.CustomerParam("BP Number", r"\d{10}")], actor="t", now=NOW,
            )  # fmt: skip

    world.database.run_txn("billers", add)


def test_long_bill_lists_are_paged(shop: Any) -> None:
    world, provider = shop
    _many_billers(world)
    walk(world, "p1", SHOP_PIN)
    categories, pages = ussd_pages(world, "p1", [SHOP_PIN, "8"], phone=SHOP_PHONE)
    everything = sorted({"Electricity", "Gas", "Insurance", "Mobile Postpaid", *MORE_CATEGORIES})
    assert categories == everything  # every category, each whole, none cut off
    assert len(pages) > 1 and pages[0].startswith("CON Bill category:\n1 Broadband Postpaid")
    assert pages[0].endswith("\n98 More") and "0 Back" not in pages[0]
    assert pages[-1].endswith("\n0 Back") and "98 More" not in pages[-1]
    # Back from the second page: the first page again; resent, the same screen.
    back = [SHOP_PIN, "8", "98", "0"]
    assert world.ussd_step("p1", "*".join(back), phone=SHOP_PHONE) == pages[0]
    assert world.ussd_step("p1", "*".join(back[:3]), phone=SHOP_PHONE) == pages[1]
    # Gas, chosen by its number on its page (reached through 98 More, 0 Back, 98 More).
    page = next(i for i, screen in enumerate(pages) if "\n" in screen and " Gas\n" in screen)
    number = next(line.split()[0] for line in pages[page].splitlines() if line.endswith(" Gas"))
    gas = [SHOP_PIN, "8", *(["98", "0"] if page else []), *["98"] * page, number]
    billers, biller_pages = ussd_pages(world, "p1", gas, phone=SHOP_PHONE)
    assert billers == [name for _id, name in GAS_BILLERS] + ["Indraprastha Gas"]
    assert len(biller_pages) > 2 and "98 More\n0 Back" in biller_pages[1]
    # The last biller of the last page: its steps follow, then the payment, once.
    last = len(biller_pages[-1].splitlines()) - 2  # the title and "0 Back" are no biller
    chosen = [*gas, *["98"] * (len(biller_pages) - 1), str(last)]
    steps = [*chosen, "1234567890", "9810012340", "250", SHOP_PIN]
    screens = walk(world, "p1", *steps)[len(chosen) :]
    assert screens[0] == "CON Indraprastha Gas\nBP Number:"
    assert screens[3].startswith("CON Pay INR 250.00 to Indraprastha Gas for 1234567890?")
    done = screens[-1]
    assert done.startswith("END Bill IGL000000DEL01:****7890 250.00 EV"), done
    assert world.ussd_step("p1", "*".join(steps), phone=SHOP_PHONE) == done
    assert executed(provider) == 1


def test_paging_past_either_end_is_an_invalid_choice(shop: Any) -> None:
    world, provider = shop
    _many_billers(world)
    walk(world, "p2", SHOP_PIN)
    _items, pages = ussd_pages(world, "p2", [SHOP_PIN, "8"], phone=SHOP_PHONE)
    # As any choice not on the screen: the session ends, refused (sms.renderer.error_text).
    refused = "END Refused: Invalid choice. Nothing was sold."
    beyond = [SHOP_PIN, "8", *["98"] * len(pages)]
    assert world.ussd_step("p2", "*".join(beyond), phone=SHOP_PHONE) == refused
    assert world.ussd_step("p2", f"{SHOP_PIN}*8*0", phone=SHOP_PHONE) == refused
    assert executed(provider) == 0 and world.sale_count() == 0


def _many_beneficiaries(world: ChannelWorld, count: int) -> list[str]:
    """A sender of the shop with ``count`` beneficiaries (validated already); their accounts."""
    who = principal(world.database, SHOP)
    world.wait(world.xml.server.services.transfers.register_sender(who, "9876500005", "Meera"))
    accounts = [f"5010001234{n:02}" for n in range(1, count + 1)]

    def add(txn: Any) -> None:
        sender = transfers.get_sender(txn, "9876500005")
        for n, account in enumerate(accounts, start=1):
            transfers.add_beneficiary(
                txn, sender=sender, name=f"Payee {n:02}", account_no=account,
                ifsc="HDFC0001234", verified_name=f"PAYEE NUMBER {n:02}", now=NOW,
            )  # fmt: skip

    world.database.run_txn("beneficiaries", add)
    return accounts


def test_a_long_beneficiary_list_is_paged(shop: Any) -> None:
    world, provider = shop
    accounts = _many_beneficiaries(world, 12)
    walk(world, "tp1", SHOP_PIN)
    start = [SHOP_PIN, "9", "9876500005"]
    payees, pages = ussd_pages(world, "tp1", start, title_lines=2, phone=SHOP_PHONE)
    # Every beneficiary, each whole (name and the account's last four), none cut off.
    assert payees == [f"PAYEE NUMBER {n:02} ..{a[-4:]}" for n, a in enumerate(accounts, 1)]
    assert len(pages) > 1 and pages[0].startswith("CON Meera, INR 25000.00 left.\nSend to:")
    assert pages[0].endswith("\n98 More") and pages[-1].endswith("\n0 Back")
    # Back and forth: the same pages; resent, the same screen.
    assert world.ussd_step("tp1", "*".join([*start, "98", "0"]), phone=SHOP_PHONE) == pages[0]
    # The last beneficiary, on the last page, gets the transfer, once.
    last = len(pages[-1].splitlines()) - 3  # the title's two lines and "0 Back"
    chosen = [*start, *["98"] * (len(pages) - 1), str(last)]
    steps = [*chosen, "500", SHOP_PIN]
    screens = walk(world, "tp1", *steps)[len(chosen) :]
    assert screens[0] == "CON Amount to send to PAYEE NUMBER 12:"
    assert screens[1].startswith("CON Send INR 500.00 to PAYEE NUMBER 12 a/c ..3412\n")
    done = screens[-1]
    assert done.startswith("END Transfer 500.00 + fee 10.00 to a/c ..3412 EV"), done
    assert world.ussd_step("tp1", "*".join(steps), phone=SHOP_PHONE) == done
    assert executed(provider) == 1
    assert provider.executed[0].params["account"] == accounts[-1]
    # Past the last page: an invalid choice, nothing sent.
    beyond = [*start, *["98"] * len(pages)]
    refused = world.ussd_step("tp2", "*".join(beyond), phone=SHOP_PHONE)
    assert refused == "END Refused: Invalid choice. Nothing was sold."


RIVAL, RIVAL_PHONE, RIVAL_PIN = "6004708000998", "919812300003", "5937"


def test_another_merchants_sender_is_unknown_by_menu(shop: Any) -> None:
    """A second merchant typing this shop's sender gets the screen of a sender never
    registered: no name, no limit, no beneficiaries; nothing is sent."""
    world, provider = shop
    _sender(world, "123456789010")
    now = world.xml.clock()

    def rival(txn: Any) -> None:
        create_vendor(txn, client_id=RIVAL, name="Gupta Telecom", currency="INR", now=now)
        adjust_vendor_balance(txn, RIVAL, START, reason="float", actor="t", now=now)
        create_operator(txn, name="till", password_hash="-", vendor_client_id=RIVAL, now=now)

    world.database.run_txn("rival_shop", rival)
    world.wait(world.sms.merchants.register(RIVAL_PHONE, RIVAL, "till", RIVAL_PIN))
    world.sentinel.register(RIVAL_PIN)

    def typed(session: str, sender: str, *more: str) -> str:
        world.ussd_step(session, "", phone=RIVAL_PHONE)
        inputs = [RIVAL_PIN, "9", sender, *more]
        return world.ussd_step(session, "*".join(inputs), phone=RIVAL_PHONE)

    stolen = typed("r1", "9876500001")
    unknown = typed("r2", "9876500077")
    assert stolen.startswith("END ") and "Sunita" not in stolen and "RAJESH" not in stolen
    assert stolen.replace("9876500001", "<sender>") == unknown.replace("9876500077", "<sender>")
    # Straight to the final step (the gateway sends whatever it is given): refused alike.
    final = typed("r3", "9876500001", "1", "2000", RIVAL_PIN)
    assert final == stolen
    assert executed(provider) == 0 and world.balance(RIVAL) == START
