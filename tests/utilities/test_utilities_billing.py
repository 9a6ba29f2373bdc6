"""Tariff arithmetic: exact receipt sums and rounding never against the customer."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from utilities.billing import (
    Block,
    TariffTerms,
    _units_bought,
    cost_of_units,
    price_by_amount,
    price_by_units,
    units_for_money,
    vat_on,
    vat_within,
)
from utilities.embedded.base import EmbeddedBase, EmbeddedSettings
from utilities.interface import UtilityInfo
from utilities.tariffs import percent_to_bp, rate_from_text, rate_to_text, units_from_kwh
from vending.errors import AmountOutOfRange, InvalidAmount, InvalidRequest
from vending.keyring import Keyring, MasterKey
from vending.money import Money

FLAT = TariffTerms("FLAT", "Flat", "ZAR", 1500, (Block(None, 250_000),))
BLOCK = TariffTerms(
    "BLOCK",
    "Block",
    "ZAR",
    1500,
    (Block(500, 180_000), Block(3500, 260_000), Block(None, 320_000)),
    service_charge=10_000,
    debt_recovery_bp=2500,
)


def zar(minor: int) -> Money:
    return Money(minor, "ZAR")


def test_flat_example() -> None:
    b = price_by_amount(FLAT, zar(10_000))
    assert (b.credit, b.credit_tax, b.units, b.less_round) == (8696, 1304, 348, 0)


def test_block_example_with_service_and_debt() -> None:
    b = price_by_amount(BLOCK, zar(30_000), debt_balance=2_000, service_due=True)
    assert (b.service, b.service_tax) == (10_000, 1_500)
    # 25 % of R185 = R46.25, capped by the R20 debt.
    assert (b.debt_recovered, b.debt_left) == (2_000, 0)
    assert b.credit + b.credit_tax == 30_000 - 11_500 - 2_000
    # R165 incl. = R143.478.. excl.: 50 kWh for R90, the rest at R2.60: 20.568.. -> 70.6 kWh.
    assert b.units == 706


@settings(max_examples=400)
@given(
    month_to_date=st.integers(0, 6_000),
    numerator=st.integers(0, 10**9),
    denominator=st.integers(1, 10**5),
    terms=st.sampled_from([FLAT, BLOCK]),
)
def test_the_integer_units_bought_are_the_exact_units_rounded_up(
    month_to_date: int, numerator: int, denominator: int, terms: TariffTerms
) -> None:
    """Every vend prices with the integer form; the exact Fraction form is its reference."""
    exact = units_for_money(terms.blocks, month_to_date, Fraction(numerator, denominator))
    assert _units_bought(terms.blocks, month_to_date, numerator, denominator) == math.ceil(exact)


def test_block_boundaries_follow_month_to_date() -> None:
    assert units_for_money(BLOCK.blocks, 0, Fraction(9_000)) == 500
    assert units_for_money(BLOCK.blocks, 500, Fraction(2_600)) == 100
    assert units_for_money(BLOCK.blocks, 3_400, Fraction(2_600 + 3_200)) == 200
    assert cost_of_units(BLOCK.blocks, 490, 20) == 10 * 18 + 10 * 26
    assert cost_of_units(BLOCK.blocks, 10_000, 10) == 320


def test_vat_helpers() -> None:
    assert vat_within(11_500, 1500) == 1_500
    assert vat_within(1, 1500) == 0 and vat_within(4, 1500) == 1
    assert vat_on(10_000, 1500) == 1_500 and vat_on(3, 1500) == 0 and vat_on(4, 1500) == 1


def test_refusals() -> None:
    with pytest.raises(AmountOutOfRange):
        price_by_amount(BLOCK, zar(11_500), service_due=True)
    with pytest.raises(InvalidAmount):
        price_by_amount(FLAT, zar(0))
    with pytest.raises(InvalidAmount):
        price_by_amount(FLAT, Money(100, "USD"))
    with pytest.raises(InvalidAmount):
        TariffTerms("X", "X", "ZAR", 1500, (Block(100, 1), Block(50, 2), Block(None, 3)))
    with pytest.raises(InvalidAmount):
        TariffTerms("X", "X", "ZAR", 1500, (Block(None, 1), Block(None, 2)))
    with pytest.raises(InvalidAmount):
        TariffTerms("X", "X", "ZAR", 1500, (Block(None, 100),), debt_recovery_bp=10_000)


def test_text_conversions() -> None:
    assert rate_from_text("2.4567", "ZAR") == 245_670
    assert rate_to_text(245_670, "ZAR") == "2.4567"
    with pytest.raises(InvalidRequest):
        rate_from_text("2.456789", "ZAR")
    with pytest.raises(InvalidRequest):
        rate_from_text("-1", "ZAR")
    assert units_from_kwh("50") == 500 and units_from_kwh("0.5") == 5
    with pytest.raises(InvalidRequest):
        units_from_kwh("0.05")
    assert percent_to_bp("15") == 1500 and percent_to_bp("12.5") == 1250


blocks = st.lists(
    st.tuples(st.integers(1, 5_000), st.integers(1, 2_000_000)), min_size=0, max_size=3
).map(
    lambda steps: tuple(
        Block(sum(s[0] for s in steps[: i + 1]), rate) for i, (_, rate) in enumerate(steps)
    )
)
terms = st.builds(
    lambda bounded, last_rate, vat, service, share: TariffTerms(
        "T", "T", "ZAR", vat, (*bounded, Block(None, last_rate)), service, share
    ),
    blocks,
    st.integers(1, 2_000_000),
    st.integers(0, 10_000),
    st.integers(0, 50_000),
    st.integers(0, 9_999),
)


@settings(max_examples=300, deadline=None)
@given(
    terms,
    st.integers(1, 5_000_000),
    st.integers(0, 50_000),
    st.integers(0, 1_000_000),
    st.booleans(),
)
def test_amount_receipts_add_up_and_favour_the_customer(
    tariff: TariffTerms, amount: int, mtd: int, debt: int, service_due: bool
) -> None:
    try:
        b = price_by_amount(
            tariff, zar(amount), month_to_date=mtd, debt_balance=debt, service_due=service_due
        )
    except AmountOutOfRange:
        assert service_due and amount <= tariff.service_charge + vat_on(
            tariff.service_charge, tariff.vat_rate_bp
        )
        return
    assert b.amount == b.credit + b.credit_tax + b.service + b.service_tax + b.debt_recovered
    assert b.less_round == 0
    rest = amount - b.service - b.service_tax
    assert b.debt_recovered == min(debt, rest * tariff.debt_recovery_bp // 10_000)
    assert b.debt_left == debt - b.debt_recovered
    energy = b.credit + b.credit_tax
    assert energy > 0 and b.credit >= 0 and b.credit_tax >= 0
    # The units cost at least the energy money (VAT included) ...
    ex_vat = cost_of_units(tariff.blocks, mtd, b.units)
    assert ex_vat * (10_000 + tariff.vat_rate_bp) / 10_000 >= energy
    # ... and one unit less would not buy the VAT-exclusive value (the exact one, or the
    # receipt's credit when the VAT rounded down): at most one unit is rounding.
    buying = max(Fraction(energy * 10_000, 10_000 + tariff.vat_rate_bp), Fraction(b.credit))
    assert cost_of_units(tariff.blocks, mtd, b.units - 1) < buying


@settings(max_examples=300, deadline=None)
@given(terms, st.integers(1, 200_000), st.integers(0, 50_000), st.integers(0, 1_000_000))
def test_unit_purchases_never_charge_more_than_the_exact_price(
    tariff: TariffTerms, units: int, mtd: int, debt: int
) -> None:
    try:
        b = price_by_units(tariff, units, month_to_date=mtd, debt_balance=debt, service_due=True)
    except AmountOutOfRange:
        return
    assert b.units >= units
    assert b.amount == b.credit + b.credit_tax + b.service + b.service_tax + b.debt_recovered
    exact = cost_of_units(tariff.blocks, mtd, units) * (10_000 + tariff.vat_rate_bp) / 10_000
    energy = b.credit + b.credit_tax
    assert exact - 1 < energy <= exact
    # The debt share of the amount after the service charge, rounded down, capped.
    share = tariff.debt_recovery_bp
    assert b.debt_recovered <= (energy + b.debt_recovered) * share / 10_000
    assert b.debt_recovered <= debt


@pytest.mark.parametrize(
    ("zone", "moment", "month"),
    [
        ("UTC", datetime(2026, 1, 31, 23, 59, 59, tzinfo=UTC), "2026-01"),
        ("Africa/Johannesburg", datetime(2026, 1, 31, 21, 59, 59, tzinfo=UTC), "2026-01"),
        ("Africa/Johannesburg", datetime(2026, 1, 31, 22, 0, 0, tzinfo=UTC), "2026-02"),
        # A zone west of UTC: still the old month locally.
        ("America/Sao_Paulo", datetime(2026, 3, 1, 2, 59, tzinfo=UTC), "2026-02"),
        ("America/Sao_Paulo", datetime(2026, 3, 1, 3, 0, tzinfo=UTC), "2026-03"),
        # Half-hour offset (+05:30) and a year's end.
        ("Asia/Kolkata", datetime(2026, 12, 31, 18, 29, tzinfo=UTC), "2026-12"),
        ("Asia/Kolkata", datetime(2026, 12, 31, 18, 30, tzinfo=UTC), "2027-01"),
    ],
)
def test_months_are_calendar_months_of_the_configured_zone(
    zone: str, moment: datetime, month: str
) -> None:
    keyring = Keyring(MasterKey.generate(), clock=lambda: moment)
    base = EmbeddedBase(keyring, EmbeddedSettings(UtilityInfo("U", "A", "T"), timezone=zone))
    assert base.month_of(moment) == month
    assert base.month_of(moment) == month  # the same moment again (the cached answer)
    assert base.month_of(moment + timedelta(days=40)) != month  # another moment: not cached
