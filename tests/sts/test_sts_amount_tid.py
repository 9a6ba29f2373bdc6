"""Amount coding (sts.md §1.5, §4.2) and TID (§1.4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from utilities.sts.amount import (
    CURRENCY_EXPONENT_MAX,
    ELECTRICITY_RESOLUTION,
    MAX_AMOUNT,
    MAX_CURRENCY_AMOUNT,
    MAX_MANTISSA,
    amount_value,
    decode_amount,
    decode_currency_amount,
    encode_amount,
    encode_currency_amount,
    to_base_units,
    transferable_amount,
)
from utilities.sts.errors import AmountOverflowError, StsError, TidRangeError
from utilities.sts.tid import (
    MAX_TID,
    datetime_from_tid,
    last_representable_minute,
    tid_from_datetime,
)

# --- unit amounts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("units", "field"),
    [
        (0, 0x0000),
        (1, 0x0001),
        (10, 0x000A),
        (256, 0x0100),
        (16383, 0x3FFF),
        (16384, 0x4000),
        (16385, 0x4001),  # rounded up to 16394
        (20000, 0x4000 | 362),  # 2000.0 kWh is sent as 2000.4 kWh
        (180214, 0x7FFF),
        (180215, 0x8000),  # in the gap: up to 180224
        (180223, 0x8000),  # 18 022.3 kWh -> field 8000
        (180224, 0x8000),
        (MAX_AMOUNT, 0xFFFF),
    ],
)
def test_encode_amount_examples(units: int, field: int) -> None:
    assert encode_amount(units) == field


def test_amount_limits() -> None:
    assert MAX_AMOUNT == 18_201_624
    assert decode_amount(0xFFFF) == MAX_AMOUNT
    with pytest.raises(AmountOverflowError):
        encode_amount(MAX_AMOUNT + 1)
    with pytest.raises(OverflowError):  # the brief's contract: an OverflowError
        encode_amount(10**9)
    with pytest.raises(ValueError):
        encode_amount(-1)


def _previous_value(field: int) -> int | None:
    exponent, mantissa = field >> 14, field & MAX_MANTISSA
    if mantissa:
        return amount_value(exponent, mantissa - 1)
    if exponent:
        return amount_value(exponent - 1, MAX_MANTISSA)
    return None


@given(st.integers(min_value=0, max_value=MAX_AMOUNT))
def test_amount_rounds_up_and_is_minimal(units: int) -> None:
    field = encode_amount(units)
    credited = decode_amount(field)
    assert credited >= units  # never against the customer
    previous = _previous_value(field)
    assert previous is None or previous < units  # and the smallest such value
    assert encode_amount(credited) == field  # representable values are exact


@given(st.integers(min_value=0, max_value=0xFFFF))
def test_every_field_decodes_and_reencodes(field: int) -> None:
    assert encode_amount(decode_amount(field)) == field


def test_to_base_units_rounds_up() -> None:
    assert to_base_units("12.34", ELECTRICITY_RESOLUTION) == 124
    assert to_base_units(Decimal("0.01"), ELECTRICITY_RESOLUTION) == 1
    assert to_base_units("10", ELECTRICITY_RESOLUTION) == 100
    assert transferable_amount(20000) == 20004


# --- currency amounts -----------------------------------------------------------------------


def test_currency_decode_published_example() -> None:
    # Amount DFF6, S&E 0: e=3, m=8182 -> 10 000 624 x 10^-5 = 100.00624
    assert decode_currency_amount(0, 0xDFF6) == 10_000_624
    assert encode_currency_amount(10_000_624) == (0, 0xDFF6)


def test_currency_exponent_bits_and_sign() -> None:
    value = amount_value(0b10111, 5)  # e4=1 e3=0 e2=1 e1=1 e0=1
    sign_exponent, field = encode_currency_amount(value)
    assert sign_exponent == 0b0101
    assert field == 0xC005
    assert decode_currency_amount(sign_exponent | 0b1000, field) == -value
    assert encode_currency_amount(-value) == (0b1101, 0xC005)


@given(st.integers(min_value=0, max_value=MAX_CURRENCY_AMOUNT))
def test_currency_credit_rounds_up_and_is_minimal(units: int) -> None:
    sign_exponent, field = encode_currency_amount(units)
    assert sign_exponent >> 3 == 0
    credited = decode_currency_amount(sign_exponent, field)
    assert credited >= units
    exponent = ((sign_exponent & 7) << 2) | (field >> 14)
    mantissa = field & MAX_MANTISSA
    if mantissa:
        assert amount_value(exponent, mantissa - 1) < units
    elif exponent:
        assert amount_value(exponent - 1, MAX_MANTISSA) < units


@given(st.integers(min_value=1, max_value=10**20))
def test_currency_debit_rounds_towards_zero(magnitude: int) -> None:
    sign_exponent, field = encode_currency_amount(-magnitude)
    debited = decode_currency_amount(sign_exponent, field)
    assert -magnitude <= debited < 0
    # the next representable magnitude above the debit would already exceed the request
    next_magnitude = decode_currency_amount(*encode_currency_amount(-debited + 1))
    assert -debited == magnitude or next_magnitude > magnitude


def test_currency_overflow() -> None:
    assert amount_value(CURRENCY_EXPONENT_MAX, MAX_MANTISSA) == MAX_CURRENCY_AMOUNT
    with pytest.raises(AmountOverflowError):
        encode_currency_amount(MAX_CURRENCY_AMOUNT + 1)


# --- TID -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "base", "tid"),
    [
        (datetime(2004, 3, 1, 13, 55), 1993, 5_871_715),
        (datetime(1996, 3, 25, 13, 55, 22), 1993, 0x19EB23),  # seconds truncated (DEC.1)
        (datetime(2004, 4, 1, 9, 30), 1993, 5_916_090),
        (datetime(2016, 12, 11, 15, 49), 1993, 0xC02A55),
        (datetime(2026, 9, 10, 10, 56), 2014, 6_675_056),
        (datetime(1993, 1, 1), 1993, 0),
        (datetime(2014, 1, 1, 0, 0, 59), 2014, 0),
        (datetime(2035, 1, 1, 0, 1), 2035, 1),
    ],
)
def test_tid_examples(moment: datetime, base: int, tid: int) -> None:
    assert tid_from_datetime(moment, base) == tid


@pytest.mark.parametrize(
    ("base", "last"),
    [
        (1993, datetime(2024, 11, 24, 20, 15)),
        (2014, datetime(2045, 11, 24, 20, 15)),
        (2035, datetime(2066, 11, 24, 20, 15)),
    ],
)
def test_last_representable_minute(base: int, last: datetime) -> None:
    assert last_representable_minute(base) == last
    assert tid_from_datetime(last + timedelta(seconds=59), base) == MAX_TID
    with pytest.raises(TidRangeError, match="roll-over"):
        tid_from_datetime(last + timedelta(minutes=1), base)


def test_tid_before_base_date() -> None:
    with pytest.raises(TidRangeError, match="before the TID base date"):
        tid_from_datetime(datetime(2013, 12, 31, 23, 59), 2014)


def test_tid_errors_are_value_errors_and_bad_base_rejected() -> None:
    assert issubclass(TidRangeError, StsError)
    with pytest.raises(ValueError, match="base date"):
        tid_from_datetime(datetime(2000, 1, 1), 2000)
    with pytest.raises(TidRangeError):
        datetime_from_tid(MAX_TID + 1)


def test_aware_datetimes_are_taken_as_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    aware = datetime(2004, 3, 1, 15, 55, tzinfo=plus_two)
    assert tid_from_datetime(aware) == tid_from_datetime(datetime(2004, 3, 1, 13, 55))
    assert tid_from_datetime(aware.astimezone(UTC)) == 5_871_715


@given(
    st.sampled_from([1993, 2014, 2035]),
    st.integers(min_value=0, max_value=MAX_TID),
    st.integers(min_value=0, max_value=59),
)
def test_tid_round_trip(base: int, tid: int, seconds: int) -> None:
    minute = datetime_from_tid(tid, base)
    assert minute.second == 0
    assert tid_from_datetime(minute + timedelta(seconds=seconds), base) == tid
