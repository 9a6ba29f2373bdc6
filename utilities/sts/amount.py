"""TransferAmount coding (IEC 62055-41 6.3.6; reference sts.md §1.5 and §4.2).

Unit amounts (class 0 subclasses 0..3, MaximumPowerLimit, MaximumPhasePowerUnbalanceLimit)
use a 16-bit field: a 2-bit base-10 exponent ``e`` (bits 15..14) and a 14-bit mantissa
``m``; the value in base units is ``m * 10**e + sum(2**14 * 10**(n - 1) for n in 1..e)``.
The offsets make the four exponent ranges follow on from each other, with gaps of
``10**e - 1`` values between them.

Currency amounts (class 0 subclasses 4..7, 6.3.6.3) use a 5-bit exponent: e0 and e1 sit in
bits 15 and 14 (e1 is the high one) and e2..e4 plus the sign move into the S&E nibble that
replaces RND: ``S&E = sign << 3 | e4 << 2 | e3 << 1 | e2``; the base unit is 10**-5 of the
currency unit.

"All TransferAmount conversions shall be rounded up in favour of the customer": a credit
is rounded up to the smallest representable value >= the request; a (negative) currency
debit is rounded towards zero for the same reason.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal
from functools import cache

from utilities.sts.errors import AmountOverflowError

MANTISSA_BITS = 14
MAX_MANTISSA = (1 << MANTISSA_BITS) - 1
UNIT_EXPONENT_MAX = 3
CURRENCY_EXPONENT_MAX = 31

#: Base unit of electricity, water, gas and time credit in the vectors: 0.1 main unit.
ELECTRICITY_RESOLUTION = Decimal("0.1")
#: Base unit of currency credit (6.3.6.3): 0.00001 currency units.
CURRENCY_RESOLUTION = Decimal("0.00001")


@cache
def exponent_offset(exponent: int) -> int:
    """The value of mantissa 0 at ``exponent``: sum of 2**14 * 10**(n-1) for n in 1..e."""
    return sum((1 << MANTISSA_BITS) * 10 ** (n - 1) for n in range(1, exponent + 1))


def amount_value(exponent: int, mantissa: int) -> int:
    """Base units represented by an (exponent, mantissa) pair."""
    if not 0 <= mantissa <= MAX_MANTISSA:
        raise ValueError(f"mantissa {mantissa} outside 0..{MAX_MANTISSA}")
    return mantissa * 10**exponent + exponent_offset(exponent)


def _round_up(units: int, max_exponent: int, what: str) -> tuple[int, int]:
    """Smallest representable (exponent, mantissa) whose value is >= ``units``."""
    if units < 0:
        raise ValueError(f"{what} must not be negative, got {units}")
    for exponent in range(max_exponent + 1):
        scale = 10**exponent
        mantissa = -(-(units - exponent_offset(exponent)) // scale)  # ceiling division
        if mantissa <= MAX_MANTISSA:
            return exponent, max(0, mantissa)
    largest = amount_value(max_exponent, MAX_MANTISSA)
    raise AmountOverflowError(
        f"{what} of {units} base units exceeds the largest transferable amount {largest}"
    )


def _previous_code(exponent: int, mantissa: int) -> tuple[int, int] | None:
    if mantissa > 0:
        return exponent, mantissa - 1
    if exponent > 0:
        return exponent - 1, MAX_MANTISSA
    return None


# --- unit amounts (2-bit exponent) ------------------------------------------------------

MAX_AMOUNT = amount_value(UNIT_EXPONENT_MAX, MAX_MANTISSA)  # 18 201 624 base units


def encode_amount(units: int) -> int:
    """16-bit TransferAmount field for ``units`` base units, rounded up (customer's favour).

    Raises :class:`AmountOverflowError` (an ``OverflowError``) above :data:`MAX_AMOUNT`.
    """
    exponent, mantissa = _round_up(units, UNIT_EXPONENT_MAX, "amount")
    return (exponent << MANTISSA_BITS) | mantissa


def decode_amount(field16: int) -> int:
    """Base units carried by a 16-bit TransferAmount field."""
    if not 0 <= field16 <= 0xFFFF:
        raise ValueError(f"amount field {field16:#x} is not 16 bits")
    return amount_value(field16 >> MANTISSA_BITS, field16 & MAX_MANTISSA)


def transferable_amount(units: int) -> int:
    """What a meter is actually credited for a request of ``units`` (>= units, minimal)."""
    return decode_amount(encode_amount(units))


# --- currency amounts (5-bit exponent, sign) --------------------------------------------

MAX_CURRENCY_AMOUNT = amount_value(CURRENCY_EXPONENT_MAX, MAX_MANTISSA)


def encode_currency_amount(units: int) -> tuple[int, int]:
    """(S&E nibble, 16-bit amount field) for a signed currency amount in 10**-5 units.

    A credit (``units >= 0``) is rounded up; a debit (negative) has its magnitude rounded
    down, i.e. towards zero, which is again in the customer's favour.
    """
    negative = units < 0
    magnitude = -units if negative else units
    exponent, mantissa = _round_up(magnitude, CURRENCY_EXPONENT_MAX, "currency amount")
    if negative and amount_value(exponent, mantissa) > magnitude:
        previous = _previous_code(exponent, mantissa)
        assert previous is not None  # magnitude > 0 here, so value 0 is below it
        exponent, mantissa = previous
    if negative and exponent == 0 and mantissa == 0:
        negative = False  # a zero debit is just zero
    sign_exponent = (int(negative) << 3) | (exponent >> 2)
    field16 = ((exponent & 0b10) << 14) | ((exponent & 0b01) << 14) | mantissa
    return sign_exponent, field16


def decode_currency_amount(sign_exponent: int, field16: int) -> int:
    """Signed currency amount (10**-5 units) from the S&E nibble and the amount field."""
    if not 0 <= sign_exponent <= 0xF:
        raise ValueError(f"S&E nibble {sign_exponent:#x} is not 4 bits")
    if not 0 <= field16 <= 0xFFFF:
        raise ValueError(f"amount field {field16:#x} is not 16 bits")
    exponent = ((sign_exponent & 0b111) << 2) | (field16 >> MANTISSA_BITS)
    value = amount_value(exponent, field16 & MAX_MANTISSA)
    return -value if sign_exponent & 0b1000 else value


# --- converting quantities to base units --------------------------------------------------


def to_base_units(quantity: Decimal | int | str, resolution: Decimal) -> int:
    """Whole base units for ``quantity`` main units, rounded up in the customer's favour.

    E.g. ``to_base_units("12.34", ELECTRICITY_RESOLUTION) == 124`` (0.1 kWh steps).
    """
    exact = Decimal(quantity) / resolution
    return int(exact.to_integral_value(rounding=ROUND_CEILING))
