"""End to end at the service level: credit vend -> token -> the meter simulator accepts it
and its credit rises by exactly the units on the receipt; key changes; FBE; replays."""

from __future__ import annotations

from decimal import Decimal

import pytest
from utilities_support import CORNER_CAFE, World
from utility_meters import demo_decoder_key, simulator_for

from utilities.interface import MeterQuery
from utilities.sts import Rejection, credit_token, decode_token, parse_fields
from vending.money import Money

STA_METER = "04100000019"
MISTY1_METER = "04100000027"
KEY_CHANGE_METER = "04100000050"
FBE_METER = "04100000068"


def units_of(result) -> int:  # type: ignore[no-untyped-def]
    return int(result.token.units * 10)


def test_sale_token_is_accepted_once_and_credits_exactly_the_receipt_units(world: World) -> None:
    before = world.balance()
    processed = world.vend(STA_METER, "100.00")
    assert processed.replayed is False
    entry = world.rendered(processed)
    result = entry.result
    # R100 at R2.50/kWh + 15 % VAT: R86.96 credit + R13.04 VAT buys 34.78... -> 34.8 kWh.
    assert result.credit == Money.parse("86.96", "ZAR")
    assert result.credit_tax == Money.parse("13.04", "ZAR")
    assert result.token.units == Decimal("34.8")
    assert result.key_change is None and result.fbe_token is None
    assert result.meter.krn == 2 and result.meter.sgc == "123456"

    meter = simulator_for(STA_METER)
    accepted = meter.enter(result.token.token)
    assert accepted.accepted, accepted.message
    assert accepted.credited == units_of(result)
    assert meter.credit[0] == units_of(result)

    again = meter.enter(result.token.token)
    assert not again.accepted and again.reason is Rejection.USED
    assert meter.credit[0] == units_of(result)

    # The vendor paid the price less its 2 % commission, recorded as one completed sale.
    assert entry.sale is not None and entry.sale.state == "completed"
    assert entry.sale.amount == Money.parse("100.00", "ZAR")
    assert world.balance() == before - Money.parse("98.00", "ZAR")
    assert entry.balance == world.balance()


def test_misty1_meter_sale(world: World) -> None:
    result = world.rendered(world.vend(MISTY1_METER, "50.00")).result
    meter = simulator_for(MISTY1_METER, sgc="123457", krn=1)
    assert len(meter.decoder_key) == 16
    accepted = meter.enter(result.token.token)
    assert accepted.accepted, accepted.message
    assert accepted.credited == units_of(result)


def test_tokens_in_one_minute_get_consecutive_tids_and_all_work(world: World) -> None:
    meter = simulator_for(STA_METER)
    key = demo_decoder_key(STA_METER, "123456", 2)
    tids = []
    for _ in range(3):
        token = world.rendered(world.vend(STA_METER, "20.00")).result.token.token
        tids.append(parse_fields(*decode_token(key, token)).tid)
        assert meter.enter(token).accepted
    assert tids == [tids[0], tids[0] + 1, tids[0] + 2]


def test_replay_returns_the_stored_response_without_a_second_sale(world: World) -> None:
    first = world.vend(STA_METER, "30.00", request_id="same-request")
    balance = world.balance()
    second = world.vend(STA_METER, "30.00", request_id="same-request")
    assert second.replayed is True
    assert second.response == first.response
    assert world.balance() == balance
    assert len([r for r in world.renderer.rendered if r.kind == "vend"]) == 1


def test_key_change_due_gives_key_change_tokens_then_credit_under_the_new_key(
    world: World,
) -> None:
    # The meter holds KRN 1 on the exhausted 1993 base; KRN 2 (2014 base) is current.
    meter = simulator_for(KEY_CHANGE_METER, krn=1)
    old_key = meter.decoder_key
    result = world.rendered(world.vend(KEY_CHANGE_METER, "50.00")).result
    change = result.key_change
    assert change is not None and len(change.tokens) == 2
    assert (change.from_krn, change.to_krn) == (1, 2)
    assert result.meter.krn == 2

    # A credit token cannot come first: it is made under the new key.
    assert meter.enter(result.token.token).reason is Rejection.CRC
    outcomes = [meter.enter(token) for token in change.tokens]
    assert all(o.accepted for o in outcomes) and outcomes[-1].key_changed
    assert meter.krn == 2 and meter.base_date == 2014
    assert meter.decoder_key == demo_decoder_key(KEY_CHANGE_METER, "123456", 2)
    credited = meter.enter(result.token.token)
    assert credited.accepted, credited.message
    assert credited.credited == units_of(result)

    # A token made with the old key is now refused as such.
    old_token = credit_token(old_key, units=10, tid=1, base_date=1993).digits
    assert meter.enter(old_token).reason is Rejection.WRONG_KEY

    # The registry follows the meter: the next vend needs no key change.
    next_result = world.rendered(world.vend(KEY_CHANGE_METER, "20.00")).result
    assert next_result.key_change is None
    assert meter.enter(next_result.token.token).accepted


def test_key_change_from_the_data_the_client_sends(world: World) -> None:
    query = MeterQuery(STA_METER, sgc="123456", krn=1, ti="01")
    result = world.rendered(world.vend(STA_METER, "20.00", query=query)).result
    assert result.key_change is not None
    meter = simulator_for(STA_METER, krn=1)
    for token in result.key_change.tokens:
        assert meter.enter(token).accepted
    assert meter.enter(result.token.token).accepted


def test_fbe_is_issued_with_the_first_sale_of_the_month(world: World) -> None:
    meter = simulator_for(FBE_METER)
    result = world.rendered(world.vend(FBE_METER, "100.00")).result
    assert result.fbe_token is not None and result.fbe_token.units == Decimal("50.0")
    assert meter.enter(result.fbe_token.token).accepted
    assert meter.enter(result.token.token).accepted
    assert meter.credit[0] == units_of(result) + 500
    # Block tariff from 0 kWh this month: R86.96 excl. VAT is less than the R90 of block 1
    # (50 kWh at R1.80), so all of it buys block 1: 86.96 / 1.80 = 48.31 -> 48.4 kWh.
    assert result.token.units == Decimal("48.4")
    second = world.rendered(world.vend(FBE_METER, "100.00")).result
    assert second.fbe_token is None
    # 1.6 kWh left in block 1 (R2.88), the rest at R2.60: 1.6 + 84.08 / 2.60 = 33.94 -> 34.0.
    assert second.token.units == Decimal("34.0")
    assert meter.enter(second.token.token).accepted


def test_debt_recovery_takes_its_share_and_lowers_the_debt(world: World) -> None:
    result = world.rendered(world.vend("04100000076", "100.00")).result
    (debt,) = result.charges
    assert debt.kind == "debt"
    assert debt.amount == Money.parse("25.00", "ZAR") and debt.tax.amount == 0
    assert debt.balance == Money.parse("475.00", "ZAR")
    assert result.credit + result.credit_tax == Money.parse("75.00", "ZAR")
    second = world.rendered(world.vend("04100000076", "100.00")).result
    assert second.charges[0].balance == Money.parse("450.00", "ZAR")


def test_service_charge_once_a_month(world: World) -> None:
    result = world.rendered(world.vend("04100000084", "200.00")).result
    (service,) = result.charges
    assert service.kind == "service"
    assert service.amount == Money.parse("100.00", "ZAR")
    assert service.tax == Money.parse("15.00", "ZAR")
    assert result.credit + result.credit_tax == Money.parse("85.00", "ZAR")
    assert world.rendered(world.vend("04100000084", "200.00")).result.charges == ()
    world.clock.advance(days=15)  # into December
    assert len(world.rendered(world.vend("04100000084", "200.00")).result.charges) == 1


def test_purchase_by_units_and_cash_tender(world: World) -> None:
    result = world.rendered(world.vend(STA_METER, None, units="10", tender="50.00")).result
    assert result.token.units == Decimal("10.0")
    # 10 kWh at R2.50 = R25.00 + VAT R3.75.
    assert result.amount == Money.parse("28.75", "ZAR")
    assert result.change == Money.parse("21.25", "ZAR")
    assert result.tender == Money.parse("50.00", "ZAR")


def test_trial_vend_writes_nothing(world: World) -> None:
    from utilities_support import result_of

    from utilities.interface import Purchase

    before = world.balance()
    result = result_of(
        world.service.trial_vend(
            world.cafe,
            Purchase(MeterQuery(KEY_CHANGE_METER), amount=Money.parse("50.00", "ZAR")),
        )
    )
    assert result.token.token == "0" * 20
    assert result.key_change is not None
    assert all(t == "0" * 20 for t in result.key_change.tokens)
    assert world.balance() == before
    # The real vend still needs (and gets) the key change.
    assert world.rendered(world.vend(KEY_CHANGE_METER, "50.00")).result.key_change is not None


def test_confirm_meter(world: World) -> None:
    from utilities_support import result_of

    info = result_of(world.service.confirm_meter(MeterQuery(FBE_METER)))
    assert info.fbe_due is True and info.can_vend is True
    assert info.customer is not None and info.customer.name == "Fikile Freebasic"
    assert info.tariff_name == "Home Power Block"
    assert info.min_vend == Money.parse("5.00", "ZAR")
    blocked = result_of(world.service.confirm_meter(MeterQuery("04100000035")))
    assert blocked.can_vend is False


@pytest.mark.parametrize("msno", [STA_METER])
def test_balance_is_per_vendor(world: World, msno: str) -> None:
    before_cafe = world.balance(CORNER_CAFE)
    before_platform = world.balance("6004708000106")
    world.vend(msno, "10.00", principal=world.platform)
    # The platform's vend moves only the platform's balance (R10.00 less 2% commission).
    assert before_cafe == Money.parse("5000.00", "ZAR")
    assert world.balance(CORNER_CAFE) == before_cafe
    assert world.balance("6004708000106") == before_platform - Money.parse("9.80", "ZAR")
