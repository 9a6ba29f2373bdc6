"""The other operations end to end: FBE, free issue, meter credit transfer, key update,
every engineering token into the meter simulator, class 1 tokens, verify, account payments,
and the demo "slow" meter."""

from __future__ import annotations

from decimal import Decimal

import pytest
from fixed_clock import NOW
from utilities_support import World, make_context, result_of
from utility_meters import demo_decoder_key, simulator_for

from utilities.embedded import TEST_CONTROL_BITS
from utilities.interface import (
    AccountPayment,
    CreditTransfer,
    EngineeringRequest,
    MeterQuery,
    Purchase,
)
from utilities.sts import MeterSimulator, Rejection
from vending.errors import RequestInProgress
from vending.money import Money

STA_METER = "04100000019"


def zar(text: str) -> Money:
    return Money.parse(text, "ZAR")


def test_fbe_token_is_accepted(world: World) -> None:
    processed = result_of(
        world.service.fbe(
            make_context(world.cafe, "fbe"), MeterQuery("04100000068"), world.renderer
        )
    )
    entry = world.rendered(processed)
    assert entry.sale is None
    result = entry.result
    assert result.token.kind == "fbe" and result.token.units == Decimal("50.0")
    assert result.amount.amount == 0
    meter = simulator_for("04100000068")
    assert meter.enter(result.token.token).credited == 500
    # No FBE again with the month's first sale.
    assert world.rendered(world.vend("04100000068", "20.00")).result.fbe_token is None


def test_free_issue_and_meter_credit_transfer(world: World) -> None:
    meter = simulator_for(STA_METER)
    free = world.rendered(
        result_of(
            world.service.free_issue(
                make_context(world.cafe, "freeIssue"), MeterQuery(STA_METER), world.renderer
            )
        )
    ).result
    assert free.token.kind == "free" and free.token.units == Decimal("10.0")
    assert meter.enter(free.token.token).credited == 100
    mct = world.rendered(
        result_of(
            world.service.meter_credit_transfer(
                make_context(world.cafe, "meterCreditTransfer"),
                CreditTransfer(MeterQuery(STA_METER), Decimal("12.34"), "04100000126"),
                world.renderer,
            )
        )
    ).result
    assert mct.token.kind == "mct" and mct.token.units == Decimal("12.4")
    assert meter.enter(mct.token.token).credited == 124


def test_update_meter_key_tokens_are_accepted(world: World) -> None:
    meter = simulator_for("04100000050", krn=1)
    processed = result_of(
        world.service.update_meter_key(
            make_context(world.cafe, "updateMeterKey"),
            MeterQuery("04100000050", sgc="123456", krn=1, ti="01"),
            world.renderer,
        )
    )
    token = world.rendered(processed).result
    assert token.kind == "key_change" and token.key_change.to_krn == 2
    for digits in token.tokens:
        assert meter.enter(digits).accepted
    assert meter.krn == 2 and meter.base_date == 2014
    sale = world.rendered(world.vend("04100000050", "20.00")).result
    assert sale.key_change is None
    assert meter.enter(sale.token.token).accepted


def test_misty1_key_change_has_four_tokens(world: World) -> None:
    # Move the MISTY1 meter to a new revision: import KRN 2 and make it current.
    from utilities.keys import import_vending_key

    world.database.run_txn(
        "import",
        import_vending_key,
        world.keyring,
        sgc="123457",
        krn=2,
        key=bytes(range(20)),
        dkga=4,
        ea=11,
        base_date=2014,
        make_current=True,
        now=NOW,
    )
    meter = simulator_for("04100000027", sgc="123457", krn=1)
    result = world.rendered(world.vend("04100000027", "20.00")).result
    assert result.key_change is not None and len(result.key_change.tokens) == 4
    for digits in result.key_change.tokens:
        assert meter.enter(digits).accepted
    assert meter.krn == 2
    assert meter.enter(result.token.token).accepted


ENGINEERING = [
    ("power_limit", {"value": 4600}),
    ("phase_unbalance", {"value": 1500}),
    ("clear_credit", {}),
    ("clear_tamper", {}),
    ("default_credit", {}),
    ("water_factor", {"value": 12}),
]


@pytest.mark.parametrize(("kind", "fields"), ENGINEERING, ids=[k for k, _ in ENGINEERING])
def test_engineering_token_is_accepted(world: World, kind: str, fields: dict) -> None:
    meter = simulator_for(STA_METER)
    meter.credit[0] = 1000
    meter.tamper = True
    processed = result_of(
        world.service.meter_specific_engineering(
            make_context(world.cafe, "meterSpecificEng"),
            EngineeringRequest(kind, MeterQuery(STA_METER), **fields),  # type: ignore[arg-type]
            world.renderer,
        )
    )
    token = world.rendered(processed).result
    outcome = meter.enter(token.tokens[0])
    assert outcome.accepted, outcome.message
    effects = {
        "power_limit": lambda: meter.max_power_limit == token.value >= 4600,
        "phase_unbalance": lambda: meter.max_phase_power_unbalance_limit == token.value,
        "clear_credit": lambda: meter.credit[0] == 0,
        "clear_tamper": lambda: meter.tamper is False,
        "default_credit": lambda: meter.credit[0] == 1000 + 100,
        "water_factor": lambda: meter.water_meter_factor == 12,
    }
    assert effects[kind](), kind
    assert meter.enter(token.tokens[0]).reason is Rejection.USED


def test_engineering_key_change_is_accepted(world: World) -> None:
    meter = simulator_for("04100000050", krn=1)
    processed = result_of(
        world.service.meter_specific_engineering(
            make_context(world.cafe, "meterSpecificEng"),
            EngineeringRequest(
                "key_change", MeterQuery("04100000050", sgc="123456", krn=1, ti="01"), to_krn=2
            ),
            world.renderer,
        )
    )
    token = world.rendered(processed).result
    assert [meter.enter(t).accepted for t in token.tokens] == [True, True]
    assert meter.decoder_key == demo_decoder_key("04100000050", "123456", 2)


@pytest.mark.parametrize("kind", sorted(TEST_CONTROL_BITS))
def test_class1_test_tokens_are_accepted(world: World, kind: str) -> None:
    token = result_of(world.service.non_meter_specific_engineering(world.cafe, kind, "07", "02"))
    meter = MeterSimulator(decoder_key=bytes(8), manufacturer_code="00")
    outcome = meter.enter(token.tokens[0])
    assert outcome.accepted, outcome.message
    assert meter.last_test is not None and meter.last_test.control == token.value
    assert token.value == 1 << TEST_CONTROL_BITS[kind]


def test_verify_issued_token(world: World) -> None:
    result = world.rendered(world.vend(STA_METER, "100.00")).result
    verified = result_of(
        world.service.verify_token(world.cafe, MeterQuery(STA_METER), result.token.token)
    )
    assert verified.kind == "sale"
    assert verified.units == result.token.units
    assert verified.credit == result.credit and verified.credit_tax == result.credit_tax
    assert verified.token_info.token_class == 0
    assert verified.tax_rate == Decimal(15)


def test_pay_debt_and_service_charge(world: World) -> None:
    before = world.balance()
    processed = result_of(
        world.service.pay_account(
            make_context(world.cafe, "payAcc"),
            AccountPayment(MeterQuery("04100000076"), "debt", zar("200.00"), tender=zar("250.00")),
            world.renderer,
        )
    )
    entry = world.rendered(processed)
    assert entry.result.charge.balance == zar("300.00")
    assert entry.result.change == zar("50.00")
    assert entry.sale is not None and entry.sale.amount == zar("200.00")
    assert world.balance() == before - zar("196.00")
    # The next purchase recovers from the lower balance.
    charges = world.rendered(world.vend("04100000076", "100.00")).result.charges
    assert charges[0].balance == zar("275.00")

    service = world.rendered(
        result_of(
            world.service.pay_account(
                make_context(world.cafe, "payAcc"),
                AccountPayment(MeterQuery("04100000084"), "service", zar("115.00")),
                world.renderer,
            )
        )
    ).result
    assert service.charge.amount == zar("100.00") and service.charge.tax == zar("15.00")
    # Paid: the month's first purchase carries no service charge.
    assert world.rendered(world.vend("04100000084", "50.00")).result.charges == ()


def test_slow_test_meter_claims_first_and_vends_after_the_deadline(world: World) -> None:
    ctx = make_context(world.cafe, request_id="slow-1")
    purchase = Purchase(MeterQuery("04100000092"), amount=zar("50.00"))
    d = world.service.credit_vend(ctx, purchase, world.renderer)
    outcome: list = []
    d.addBoth(outcome.append)
    assert outcome == []
    # Meanwhile the request is known and in progress (a retry is told so, nothing doubles).
    with pytest.raises(RequestInProgress):
        result_of(world.service.credit_vend(ctx, purchase, world.renderer))
    world.reactor.advance(world.config.server.deadline_seconds + 2.0)
    (processed,) = outcome
    result = world.rendered(processed).result
    assert simulator_for("04100000092").enter(result.token.token).accepted
    again = result_of(world.service.credit_vend(ctx, purchase, world.renderer))
    assert again.replayed and again.response == processed.response


def test_slow_meter_failure_is_stored(world: World) -> None:
    from utilities_support import CORNER_CAFE  # noqa: F401  (documented vendor of world.cafe)

    from utilities.registry import set_blocked

    ctx = make_context(world.cafe, request_id="slow-2")
    purchase = Purchase(MeterQuery("04100000092"), amount=zar("50.00"))
    d = world.service.credit_vend(ctx, purchase, world.renderer)
    world.database.run_txn("block", set_blocked, "04100000092", True, now=NOW)
    world.reactor.advance(10)
    processed = result_of(d)
    entry = world.rendered(processed)
    assert entry.kind == "failure" and processed.response.http_status == 500
    assert type(entry.result).__name__ == "MeterBlocked"
