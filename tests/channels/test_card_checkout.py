"""The card checkout service with an in-memory switch (the ISO 8583 client's contract):
approval, declines, timeouts and reversals repeated until acknowledged, a sale failing
after approval, replay by reference, PCI basics, settlement. Timers on task.Clock."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from channel_support import ChannelWorld
from server_support import NORMAL_METER, PLATFORM, UNKNOWN_METER
from twisted.internet.defer import ensureDeferred
from twisted.internet.task import deferLater

from cardpay import iso
from cardpay.renderer import CardRenderer, render_checkout
from vending.card_payments import (
    CardDataInvalid,
    CardPayment,
    SettlementLine,
    our_settlement,
    reconcile,
)
from vending.channel_tables import card_payments
from vending.ledger import verify_ledger
from vending.money import Money
from vending.services.card_checkout import (
    CardCheckout,
    CheckoutRequest,
    SwitchAnswer,
    SwitchNoAnswer,
    Trace,
)

PAN = "4111111111111111"


@dataclass
class MemorySwitch:
    """Answers "00", "05", "51", "none" (no answer) per authorisation; reversals answer
    True (0430) or "none" as queued."""

    answers: list[str] = field(default_factory=list)
    reversal_answers: list[Any] = field(default_factory=list)
    reversals: list[tuple[str, bool]] = field(default_factory=list)
    stan: int = 0
    seen_pans: list[str] = field(default_factory=list)

    def new_trace(self, now: datetime) -> Trace:
        self.stan += 1
        stan = f"{self.stan:06d}"
        return Trace(stan, iso.rrn(now, stan), iso.de7(now))

    async def authorize(self, payment: CardPayment, pan: str, expiry: str, now: datetime):  # type: ignore[no-untyped-def]
        self.seen_pans.append(pan)
        answer = self.answers.pop(0) if self.answers else "00"
        if answer == "none":
            raise SwitchNoAnswer("timeout")
        return SwitchAnswer(answer, "123456" if answer == "00" else None)

    async def reverse(self, payment: CardPayment, *, repeat: bool, now: datetime) -> bool:
        self.reversals.append(("0421" if repeat else "0420", payment.rrn))
        answer = self.reversal_answers.pop(0) if self.reversal_answers else True
        if answer == "none":
            raise SwitchNoAnswer("timeout")
        return True


@dataclass
class CardWorld:
    world: ChannelWorld
    switch: MemorySwitch
    checkout: CardCheckout

    def pay(self, reference: str, *, amount: str = "50.00", product: str = "ELEC-DEMO",
            target: str = NORMAL_METER, pan: str = PAN) -> tuple[int, dict[str, Any]]:  # fmt: skip
        request = CheckoutRequest(
            reference, product, target, Money.parse(amount, "ZAR"), pan, "2912", "123"
        )
        body, _ = self.world.wait(self.checkout.checkout(request))
        doc = json.loads(body)
        return doc["http_status"], doc

    def payment(self, reference: str) -> Any:
        return self.world.database.run_txn(
            "t_card",
            lambda txn: txn.execute(
                card_payments.select().where(card_payments.c.reference == reference)
            ).one(),
        )


@pytest.fixture
def cards(world: ChannelWorld) -> CardWorld:
    switch = MemorySwitch()
    reactor = world.xml.reactor
    checkout = CardCheckout(
        world.xml.server.services.runner,
        world.xml.keyring,
        world.xml.clock,
        world.xml.server.services,
        switch,
        renderer=CardRenderer(),
        render=render_checkout,
        sleep=lambda seconds: deferLater(reactor, seconds, lambda: None),
        background=ensureDeferred,
        vendor_client_id=PLATFORM,
        operator_name="platform",
        reversal_retry_seconds=10,
    )
    return CardWorld(world, switch, checkout)


def test_an_approved_payment_sells_and_a_retry_replays(cards: CardWorld) -> None:
    platform_before = cards.world.balance(PLATFORM)
    status, doc = cards.pay("order-1")
    assert status == 201 and doc["status"] == "sold" and len(doc["sale"]["token"]) == 20
    assert cards.world.sale_count() == 1
    again = cards.pay("order-1")
    assert again == (status, doc) and cards.world.sale_count() == 1
    # Funded by the card, the checkout vendor keeps only its commission.
    assert cards.world.balance(PLATFORM) >= platform_before
    assert cards.world.database.run_txn("t_ledger", verify_ledger).ok


def test_card_data_is_never_stored_or_answered(cards: CardWorld) -> None:
    cards.world.sentinel.register(PAN)
    _, doc = cards.pay("order-2")
    assert PAN not in json.dumps(doc) and "card" not in doc and "cvv" not in json.dumps(doc)
    row = cards.payment("order-2")
    assert row.pan_masked == "411111******1111" and len(bytes(row.pan_hash)) == 32
    dumped = " ".join(str(value) for value in row._mapping.values())
    assert PAN not in dumped and "2912" not in dumped


def test_declines_sell_nothing(cards: CardWorld) -> None:
    cards.switch.answers = ["05", "51"]
    assert cards.pay("order-3")[1]["response_code"] == "05"
    status, doc = cards.pay("order-4")
    assert status == 402 and doc["response_code"] == "51"
    assert cards.world.sale_count() == 0 and cards.switch.reversals == []


def test_no_answer_reverses_until_acknowledged(cards: CardWorld) -> None:
    cards.switch.answers = ["none"]
    cards.switch.reversal_answers = ["none", "none", True]
    status, doc = cards.pay("order-5")
    assert status == 502 and doc["status"] == "not_completed"
    assert cards.world.sale_count() == 0
    assert [mti for mti, _ in cards.switch.reversals] == ["0420"]
    cards.world.advance(10)
    cards.world.advance(10)
    assert [mti for mti, _ in cards.switch.reversals] == ["0420", "0421", "0421"]
    assert cards.payment("order-5").state == "reversed"
    cards.world.advance(60)
    assert len(cards.switch.reversals) == 3  # acknowledged: never again


def test_a_sale_failing_after_approval_reverses_the_payment(cards: CardWorld) -> None:
    before = cards.world.balance(PLATFORM)
    status, doc = cards.pay("order-6", target=UNKNOWN_METER)
    assert status == 502 and "reversed" in doc["message"]
    assert cards.switch.reversals and cards.payment("order-6").state == "reversed"
    assert cards.world.balance(PLATFORM) == before  # funding taken back
    assert cards.world.database.run_txn("t_ledger", verify_ledger).ok


def test_bad_cards_are_refused_before_anything_is_sent(cards: CardWorld) -> None:
    with pytest.raises(CardDataInvalid):
        cards.pay("order-7", pan="4111111111111112")  # Luhn
    with pytest.raises(CardDataInvalid, match="costs"):
        cards.pay("order-8", product="AIR-DEMO-10", target="27831234567", amount="11.00")
    assert cards.switch.seen_pans == []


def test_airtime_by_card_sends_the_pin_to_the_phone(cards: CardWorld) -> None:
    status, doc = cards.pay("order-9", product="AIR-DEMO-10", target="27831234567", amount="10.00")
    assert status == 201 and len(doc["sale"]["pin"]) == 16
    cards.world.deliver()
    (text,) = cards.world.gateway.texts_to("27831234567")
    assert doc["sale"]["pin"] in text


def test_settlement_reconciles_against_the_switch(cards: CardWorld) -> None:
    cards.switch.answers = ["00", "05", "00"]
    cards.pay("order-10")
    cards.pay("order-11")
    cards.pay("order-12", target=UNKNOWN_METER)  # approved, then reversed
    mmdd = cards.world.xml.clock.now.strftime("%m%d")
    ours = cards.world.wait(cards.checkout.settlement(mmdd))
    sold = cards.payment("order-10")
    theirs = {sold.rrn: SettlementLine(sold.rrn, 5000, "approved")}
    assert reconcile(ours, theirs).clean
    extra = {**theirs, "999999999999": SettlementLine("999999999999", 100, "approved")}
    assert reconcile(ours, extra).missing_here == ["999999999999"]
    assert our_settlement([]) == {}
