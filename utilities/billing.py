"""Tariff arithmetic: money in, STS units out, and the receipt breakdown (pure functions).

Units are STS base units of 0.1 kWh (ints); money is integer minor units; tariff rates are
minor units per MWh excluding VAT, so one 0.1 kWh unit costs ``rate / 10000`` minor units.
All intermediate values are exact fractions: no floats, no premature rounding.

A purchase of ``amount`` (VAT inclusive, what the vendor pays) is split in this order:

1. the month's fixed service charge, if due: ``service`` + VAT on it (half up);
2. debt recovery: ``floor(rest * debt_recovery_bp / 10000)``, capped by the debt balance
   (no VAT: arrears were invoiced with their VAT already);
3. the rest buys energy: ``credit_tax`` = its VAT fraction (half up) and ``credit`` = the
   rest, so ``credit + credit_tax`` is exactly the energy money.

Rounding is never against the customer: debt recovery rounds down; units are the energy
the exact VAT-exclusive money buys over the tariff's blocks (from the month-to-date
consumption), rounded **up** to the next 0.1 kWh; the STS amount coding may round up once
more and the meter gets what the token carries. A purchase by units charges the exact
price rounded **down** to the cent. Every cent of the amount is therefore credited and
``less_round`` (what could not be credited) is zero for this engine; the field exists for
receipts from upstream utilities, which may round differently.

The receipt identity, checked by the tests for every case::

    amount == credit + credit_tax + service + service_tax + debt_recovered + less_round
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from math import floor

from vending.errors import AmountOutOfRange, InvalidAmount
from vending.money import Money

UNITS_PER_MWH = 10_000  # 0.1 kWh units in one MWh
BP = 10_000  # basis points in one


@dataclass(frozen=True)
class Block:
    """One step of a tariff: the month-to-date consumption (0.1 kWh) where it ends (None:
    no end) and its rate in minor units per MWh, VAT excluded."""

    up_to_units: int | None
    rate: int


@dataclass(frozen=True)
class TariffTerms:
    """What the arithmetic needs of a tariff."""

    code: str
    name: str
    currency: str
    vat_rate_bp: int
    blocks: tuple[Block, ...]
    service_charge: int = 0  # minor units per month, VAT excluded
    debt_recovery_bp: int = 0
    fbe_units: int = 0

    def __post_init__(self) -> None:
        check_blocks(self.blocks)
        if not 0 <= self.vat_rate_bp <= BP:
            raise InvalidAmount("VAT must be 0..10000 basis points")
        if not 0 <= self.debt_recovery_bp < BP:
            raise InvalidAmount("the debt recovery share must be 0..9999 basis points")
        if self.service_charge < 0 or self.fbe_units < 0:
            raise InvalidAmount("service charge and FBE units cannot be negative")

    @property
    def is_flat(self) -> bool:
        return len(self.blocks) == 1


def check_blocks(blocks: Sequence[Block]) -> None:
    """Blocks must rise strictly, end with an open block, and have positive rates."""
    if not blocks:
        raise InvalidAmount("a tariff needs at least one block")
    previous = 0
    for index, block in enumerate(blocks):
        if block.rate <= 0:
            raise InvalidAmount("tariff rates must be positive")
        last = index == len(blocks) - 1
        if block.up_to_units is None:
            if not last:
                raise InvalidAmount("only the last tariff block may be open-ended")
        else:
            if last:
                raise InvalidAmount("the last tariff block must be open-ended")
            if block.up_to_units <= previous:
                raise InvalidAmount("tariff block limits must rise")
            previous = block.up_to_units


def _segments(blocks: Sequence[Block], month_to_date: int):  # type: ignore[no-untyped-def]
    """(units available, rate) per block from ``month_to_date`` on; the last is unbounded."""
    start = 0
    for block in blocks:
        end = block.up_to_units
        if end is None:
            yield None, block.rate
            return
        if end > month_to_date:
            yield end - max(start, month_to_date), block.rate
        start = end


def units_for_money(blocks: Sequence[Block], month_to_date: int, money: Fraction) -> Fraction:
    """Exact energy (0.1 kWh units) that VAT-exclusive ``money`` (minor units) buys."""
    if money < 0:
        raise InvalidAmount("money cannot be negative")
    units = Fraction(0)
    left = Fraction(money)
    for available, rate in _segments(blocks, month_to_date):
        unit_price = Fraction(rate, UNITS_PER_MWH)
        if available is None or left <= available * unit_price:
            return units + left / unit_price
        units += available
        left -= available * unit_price
    raise AssertionError("the last block is open-ended")  # pragma: no cover


def cost_of_units(blocks: Sequence[Block], month_to_date: int, units: int) -> Fraction:
    """Exact VAT-exclusive price (minor units) of ``units`` from ``month_to_date`` on."""
    if units < 0:
        raise InvalidAmount("units cannot be negative")
    cost = Fraction(0)
    left = units
    for available, rate in _segments(blocks, month_to_date):
        take = left if available is None else min(left, available)
        cost += Fraction(take * rate, UNITS_PER_MWH)
        left -= take
        if left == 0:
            break
    return cost


def _half_up(numerator: int, denominator: int) -> int:
    """floor(numerator / denominator + 1/2) for a positive denominator, in integers."""
    return (2 * numerator + denominator) // (2 * denominator)


def vat_on(amount: int, vat_rate_bp: int) -> int:
    """VAT on a VAT-exclusive amount, to the minor unit (half up)."""
    return _half_up(amount * vat_rate_bp, BP)


def vat_within(amount: int, vat_rate_bp: int) -> int:
    """The VAT part of a VAT-inclusive amount, to the minor unit (half up)."""
    return _half_up(amount * vat_rate_bp, BP + vat_rate_bp)


@dataclass(frozen=True)
class Breakdown:
    """One purchase, as the receipt shows it (all money in ``currency`` minor units)."""

    currency: str
    amount: int  # what the vendor pays (VAT inclusive)
    credit: int  # energy, VAT excluded
    credit_tax: int
    units: int  # 0.1 kWh, rounded up; the token may carry a little more
    service: int = 0  # service charge, VAT excluded
    service_tax: int = 0
    debt_recovered: int = 0
    debt_left: int = 0
    less_round: int = 0

    def money(self, minor: int) -> Money:
        return Money(minor, self.currency)

    def check(self) -> None:
        """The receipt identity; a failure is a bug, never bad input."""
        total = (
            self.credit
            + self.credit_tax
            + self.service
            + self.service_tax
            + self.debt_recovered
            + self.less_round
        )
        if total != self.amount:
            raise AssertionError(f"receipt does not add up: {total} != {self.amount}")


def _split_energy(
    terms: TariffTerms, energy: int, month_to_date: int, at_least_units: int = 0
) -> tuple[int, int, int]:
    """(credit, credit_tax, units) for VAT-inclusive energy money."""
    credit_tax = vat_within(energy, terms.vat_rate_bp)
    credit = energy - credit_tax
    # Whichever VAT-exclusive value is larger buys the energy: the customer's favour. The
    # exact one is energy * BP / (BP + VAT), compared and used as a pair of integers.
    exact = (energy * BP, BP + terms.vat_rate_bp)
    buying = exact if exact[0] >= credit * exact[1] else (credit, 1)
    units = max(_units_bought(terms.blocks, month_to_date, *buying), at_least_units)
    return credit, credit_tax, units


def _units_bought(
    blocks: Sequence[Block], month_to_date: int, numerator: int, denominator: int
) -> int:
    """``ceil(units_for_money(blocks, month_to_date, Fraction(numerator, denominator)))``
    in integer arithmetic (every vend prices with it; Fractions cost a gcd per step)."""
    if numerator < 0:
        raise InvalidAmount("money cannot be negative")
    units = 0
    for available, rate in _segments(blocks, month_to_date):
        # The money left is numerator / denominator; a unit costs rate / UNITS_PER_MWH.
        if available is None or numerator * UNITS_PER_MWH <= available * rate * denominator:
            return units - (-numerator * UNITS_PER_MWH // (denominator * rate))
        units += available
        numerator = numerator * UNITS_PER_MWH - available * rate * denominator
        denominator *= UNITS_PER_MWH
    raise AssertionError("the last block is open-ended")  # pragma: no cover


def _charges_due(terms: TariffTerms, service_due: bool) -> tuple[int, int]:
    if not service_due or terms.service_charge == 0:
        return 0, 0
    return terms.service_charge, vat_on(terms.service_charge, terms.vat_rate_bp)


def price_by_amount(
    terms: TariffTerms,
    amount: Money,
    *,
    month_to_date: int = 0,
    debt_balance: int = 0,
    service_due: bool = False,
) -> Breakdown:
    """Break a VAT-inclusive purchase amount down (see the module docstring)."""
    if amount.currency != terms.currency:
        raise InvalidAmount(f"tariff {terms.code} is in {terms.currency}, not {amount.currency}")
    if amount.amount <= 0:
        raise InvalidAmount("the amount must be positive")
    service, service_tax = _charges_due(terms, service_due)
    rest = amount.amount - service - service_tax
    if rest <= 0:
        raise AmountOutOfRange(
            f"the amount must be more than this month's service charge of "
            f"{Money(service + service_tax, terms.currency).format()} {terms.currency}"
        )
    recovered = min(max(debt_balance, 0), rest * terms.debt_recovery_bp // BP)
    energy = rest - recovered
    credit, credit_tax, units = _split_energy(terms, energy, month_to_date)
    breakdown = Breakdown(
        currency=terms.currency,
        amount=amount.amount,
        credit=credit,
        credit_tax=credit_tax,
        units=units,
        service=service,
        service_tax=service_tax,
        debt_recovered=recovered,
        debt_left=max(debt_balance, 0) - recovered,
    )
    breakdown.check()
    return breakdown


def price_by_units(
    terms: TariffTerms,
    units: int,
    *,
    month_to_date: int = 0,
    debt_balance: int = 0,
    service_due: bool = False,
) -> Breakdown:
    """The purchase that buys ``units`` (0.1 kWh): energy at its exact price rounded down,
    plus the charges due, plus the debt share that amount carries."""
    if units <= 0:
        raise InvalidAmount("the number of units must be positive")
    exact = cost_of_units(terms.blocks, month_to_date, units)
    energy = floor(exact * (BP + terms.vat_rate_bp) / BP)
    if energy <= 0:
        raise AmountOutOfRange("the purchase is too small to be charged")
    service, service_tax = _charges_due(terms, service_due)
    # The debt share is of the amount after the service charge: D = (E + D) * p.
    share = terms.debt_recovery_bp
    recovered = min(max(debt_balance, 0), energy * share // (BP - share))
    credit, credit_tax, credited = _split_energy(terms, energy, month_to_date, units)
    breakdown = Breakdown(
        currency=terms.currency,
        amount=energy + recovered + service + service_tax,
        credit=credit,
        credit_tax=credit_tax,
        units=credited,
        service=service,
        service_tax=service_tax,
        debt_recovered=recovered,
        debt_left=max(debt_balance, 0) - recovered,
    )
    breakdown.check()
    return breakdown
