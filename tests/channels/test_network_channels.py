"""The distribution network on every channel (issue 13 §2, §3): a sale a node's limits
refuse is answered with the channel's own error -- XMLVend's BusinessRuleEx fault, an SMS
text, a USSD END screen -- and changes nothing; a fund request asked by SMS
(``FUND 5000 REF123``) or by the USSD menu, a resent message replaying its answer, and
the requester told by SMS when its parent decides. SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from channel_support import MERCHANT, MERCHANT_PIN, ChannelWorld
from fixed_clock import NOW
from network_support import Level, build_chain, set_limits
from server_support import CAFE, NORMAL_METER, PLATFORM, credit_vend, voucher_vend

from distribution import fund_requests
from sms.grammar import Command, CommandError, parse
from vending.money import Money


def zar(cents: int) -> Money:
    return Money(cents, "ZAR")


def _network(world: ChannelWorld, **limits: Any) -> None:
    def build(txn: Any) -> None:
        build_chain(
            txn,
            Level("DL", "Dealer", PLATFORM),
            Level("CAFE", "Cafe", CAFE),
            currency="ZAR",
            now=NOW,
        )
        if limits:
            set_limits(txn, "CAFE", now=NOW, **limits)

    world.database.run_txn("network", build)


def test_fund_grammar() -> None:
    assert parse("4321 FUND 5000 REF123") == Command(
        "fund", pin="4321", amount="5000", reference="REF123"
    )
    assert parse("4321 fund 250,50 inv-7").reference == "INV-7"
    for bad in ("4321 FUND 5000", "4321 FUND REF 5000", "FUND 5000 REF1", "4321 FUND 5 R$1"):
        try:
            parse(bad)
        except CommandError:
            continue
        raise AssertionError(f"{bad!r} parsed")


def test_xmlvend_sale_refused_by_the_daily_limit_is_a_business_rule_fault(
    world: ChannelWorld,
) -> None:
    _network(world, daily_sale_limit=zar(15000))
    xml = world.xml
    first = xml.call(credit_vend(xml.header(), NORMAL_METER, "100.00"))
    assert b"creditVendResp" in first.body, first.body[:400]
    before = world.balance()
    refused = xml.call(credit_vend(xml.header(), NORMAL_METER, "100.00"))
    assert refused.fault_class() == "BusinessRuleEx"
    assert b"50.00 ZAR more today" in refused.body
    assert world.balance() == before and world.sale_count() == 1


def test_xmlvend_product_and_channel_refusals(world: ChannelWorld) -> None:
    _network(world, allowed_channels=["sms", "ussd"])
    xml = world.xml
    refused = xml.call(voucher_vend(xml.header()))
    assert refused.fault_class() == "BusinessRuleEx" and b"by xmlvend" in refused.body
    assert world.sale_count() == 0
    # By SMS the same merchant may sell.
    assert "PIN" in world.mo(f"{MERCHANT_PIN} BUY AIR-DEMO-10")
    assert world.sale_count() == 1


def test_sms_and_ussd_refusals_are_texts(world: ChannelWorld) -> None:
    _network(world, allowed_products=["electricity"])
    reply = world.mo(f"{MERCHANT_PIN} BUY AIR-DEMO-10")
    assert reply.startswith("Not allowed: node CAFE may not sell AIR-DEMO-10"), reply
    screens = [world.ussd_step("u1", t) for t in ("", MERCHANT_PIN, f"{MERCHANT_PIN}*1")]
    assert "DemoMobile" in screens[-1]
    steps = ("1*1", "1*1*1", "1*1*1*0", "1*1*1*0*1")
    final = [world.ussd_step("u1", f"{MERCHANT_PIN}*{s}") for s in steps][-1]
    assert final.startswith("END Not allowed"), final
    assert world.sale_count() == 0
    # Electricity is allowed (its product kind is listed).
    assert "Token" in world.mo(f"{MERCHANT_PIN} ELEC {NORMAL_METER} 20")


def test_fund_by_sms_replays_and_the_decision_is_texted(world: ChannelWorld) -> None:
    _network(world)
    reply = world.mo(f"{MERCHANT_PIN} FUND 5000 REF123", message_id="fund-1")
    assert reply.startswith("Fund request REF123 for 5000.00 ZAR sent"), reply
    # Kannel resends the same MO: the same answer, no second request.
    assert world.mo(f"{MERCHANT_PIN} FUND 5000 REF123", message_id="fund-1") == reply
    # A new message with the same reference is a duplicate.
    again = world.mo(f"{MERCHANT_PIN} FUND 5000 REF123", message_id="fund-2")
    assert "exists already" in again
    pending = world.database.run_txn("p", fund_requests.pending_for, "DL", NOW)
    assert [(r.requester, r.amount) for r in pending] == [("CAFE", zar(500000))]
    before = world.balance()
    network = world.xml.server.services.distribution
    world.wait(network.transfer_down("OP", "DL", zar(900000), reason="float", actor="staff"))
    decided = world.wait(network.decide("DL", pending[0].id, approve=True, reason="", actor="t"))
    assert decided.state == "approved"
    assert world.balance() == before + zar(500000)
    world.deliver()
    texts = world.gateway.texts_to(MERCHANT)
    assert any("REF123 for 5000.00 ZAR approved" in t for t in texts), texts


def test_fund_by_ussd_menu(world: ChannelWorld) -> None:
    _network(world)
    world.ussd_step("u2", "")
    world.ussd_step("u2", MERCHANT_PIN)
    assert "Amount" in world.ussd_step("u2", f"{MERCHANT_PIN}*6")
    assert "reference" in world.ussd_step("u2", f"{MERCHANT_PIN}*6*250")
    confirm = world.ussd_step("u2", f"{MERCHANT_PIN}*6*250*inv9")
    assert "Ask for" in confirm and "INV9" in confirm
    final = world.ussd_step("u2", f"{MERCHANT_PIN}*6*250*inv9*1")
    assert final.startswith("END Fund request INV9 for 250.00 ZAR sent"), final
    assert world.ussd_step("u2", f"{MERCHANT_PIN}*6*250*inv9*1") == final
    mine = world.database.run_txn("m", fund_requests.mine, "CAFE")
    assert [(r.reference, r.state) for r in mine] == [("INV9", "pending")]


def test_fund_request_expiry_sweep_tells_the_requester(world: ChannelWorld) -> None:
    _network(world)
    world.mo(f"{MERCHANT_PIN} FUND 10 LATE1")
    network = world.xml.server.services.distribution
    world.xml.clock.advance(25 * 3600)  # the services' clock only: no periodic sweep ran
    expired = world.wait(network.expire_fund_requests())
    assert [r.reference for r in expired] == ["LATE1"]
    world.deliver()
    assert any("LATE1" in t and "expired" in t for t in world.gateway.texts_to(MERCHANT))
    assert world.wait(network.expire_fund_requests()) == []


def test_the_periodic_sweep_expires_requests(world: ChannelWorld) -> None:
    _network(world)
    world.mo(f"{MERCHANT_PIN} FUND 10 LATE2")
    world.advance(25 * 3600)  # clock and reactor: Services.start's sweep runs
    mine = world.database.run_txn("m", fund_requests.mine, "CAFE")
    assert [(r.reference, r.state) for r in mine] == [("LATE2", "expired")]
    world.deliver()
    assert any("LATE2" in t and "expired" in t for t in world.gateway.texts_to(MERCHANT))
