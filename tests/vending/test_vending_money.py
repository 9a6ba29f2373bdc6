"""Money: integer minor units per ISO 4217 exponent, exact parsing, same-currency arithmetic."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vending.errors import CurrencyMismatch, InvalidAmount, UnknownCurrency
from vending.money import Money, currency_exponent, is_currency


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("90.00", "ZAR", 9000),
        ("90", "ZAR", 9000),
        ("0.01", "ZAR", 1),
        ("-12.5", "ZAR", -1250),
        ("1500", "UGX", 1500),
        ("1500.000", "UGX", 1500),
        ("1.234", "LYD", 1234),
        ("0.001", "LYD", 1),
        ("7", "LYD", 7000),
        (Decimal("3.10"), "ZAR", 310),
        (42, "ZAR", 4200),
        (" 5.00 ", "ZAR", 500),
    ],
)
def test_parse_scales_by_the_currency_exponent(
    text: str | Decimal | int, currency: str, minor: int
) -> None:
    """Major units become exact minor units: ZAR has 2 digits, UGX 0, LYD 3."""
    assert Money.parse(text, currency) == Money(minor, currency)


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (9000, "ZAR", "90.00"),
        (1, "ZAR", "0.01"),
        (-1250, "ZAR", "-12.50"),
        (-5, "ZAR", "-0.05"),
        (1500, "UGX", "1500"),
        (-3, "UGX", "-3"),
        (1234, "LYD", "1.234"),
        (5, "LYD", "0.005"),
        (0, "LYD", "0.000"),
    ],
)
def test_format_prints_exactly_the_minor_digits(amount: int, currency: str, text: str) -> None:
    """Formatting always shows the currency's number of decimals, sign first."""
    assert Money(amount, currency).format() == text
    assert str(Money(amount, currency)) == f"{currency} {text}"


@given(
    amount=st.integers(min_value=-(10**15), max_value=10**15),
    currency=st.sampled_from(["ZAR", "UGX", "LYD", "JPY", "KWD", "CLF"]),
)
def test_format_then_parse_round_trips(amount: int, currency: str) -> None:
    """format() and parse() are exact inverses for every amount."""
    money = Money(amount, currency)
    assert Money.parse(money.format(), currency) == money
    assert money.to_decimal() == Decimal(money.format())


def test_exponents() -> None:
    """The exponent table knows the unusual currencies and refuses unknown ones."""
    assert currency_exponent("ZAR") == 2
    assert currency_exponent("UGX") == 0
    assert currency_exponent("LYD") == 3
    assert currency_exponent("CLF") == 4
    assert is_currency("KES")
    assert not is_currency("XXX")
    with pytest.raises(UnknownCurrency, match="'XYZ'"):
        currency_exponent("XYZ")


@pytest.mark.parametrize(
    ("value", "currency"),
    [
        ("1.005", "ZAR"),  # beyond cents
        ("0.5", "UGX"),  # UGX has no minor unit
        ("1.0001", "LYD"),
        ("NaN", "ZAR"),
        ("sNaN", "ZAR"),
        ("Infinity", "ZAR"),
        ("-inf", "ZAR"),
        ("", "ZAR"),
        ("ten", "ZAR"),
        ("1,00", "ZAR"),
        ("R10", "ZAR"),
        ("1e2", "ZAR"),  # not a plain decimal number
        ("1_000", "ZAR"),  # Decimal() accepts digit separators; money text must not
        ("\u0661\u0662", "ZAR"),  # Arabic-Indic digits are not ASCII decimals
        (Decimal("NaN"), "ZAR"),
        (Decimal("0.001"), "ZAR"),
        (True, "ZAR"),
    ],
)
def test_parse_refuses_bad_amounts(value: object, currency: str) -> None:
    """Anything but a plain decimal with at most the currency's digits is InvalidAmount."""
    with pytest.raises(InvalidAmount):
        Money.parse(value, currency)  # type: ignore[arg-type]


def test_parse_never_rounds_beyond_decimal_precision() -> None:
    """More significant digits than Decimal's default context must not be rounded away:
    30 significant digits with a non-zero third decimal is refused, not rounded to 1.00."""
    with pytest.raises(InvalidAmount):
        Money.parse("1.00000000000000000000000000001", "ZAR")
    with pytest.raises(InvalidAmount):
        Money.parse("123456789012345678901234567.891", "ZAR")


def test_parse_refuses_amounts_beyond_bigint() -> None:
    """Amounts that cannot be stored (BIGINT minor units) are refused when parsed."""
    assert Money.parse("92233720368547758.07", "ZAR").amount == 2**63 - 1
    with pytest.raises(InvalidAmount):
        Money.parse("92233720368547758.08", "ZAR")
    with pytest.raises(InvalidAmount):
        Money.parse(Decimal("1E+999999999"), "ZAR")


def test_floats_are_refused_everywhere() -> None:
    """A float never becomes money: not parsed, not as an amount."""
    with pytest.raises(InvalidAmount, match="float"):
        Money.parse(0.1, "ZAR")  # type: ignore[arg-type]
    with pytest.raises(InvalidAmount):
        Money(10.0, "ZAR")  # type: ignore[arg-type]
    with pytest.raises(InvalidAmount):
        Money(True, "ZAR")  # type: ignore[arg-type]


def test_unknown_currency_is_refused() -> None:
    """Construction and parsing both check the ISO 4217 code."""
    with pytest.raises(UnknownCurrency):
        Money(100, "ABC")
    with pytest.raises(UnknownCurrency):
        Money.parse("1.00", "zar")


def test_arithmetic_within_one_currency() -> None:
    """+, -, negation and comparison work within a currency."""
    a, b = Money(1050, "ZAR"), Money(25, "ZAR")
    assert a + b == Money(1075, "ZAR")
    assert a - b == Money(1025, "ZAR")
    assert -a == Money(-1050, "ZAR")
    assert b < a
    assert a >= b
    assert a <= a
    assert not b > a
    assert Money.zero("UGX") == Money(0, "UGX")
    assert Money(1, "ZAR").is_positive()
    assert not Money(0, "ZAR").is_positive()


@pytest.mark.parametrize(
    "op",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a < b,
        lambda a, b: a <= b,
        lambda a, b: a > b,
        lambda a, b: a >= b,
    ],
)
def test_arithmetic_across_currencies_is_refused(op: object) -> None:
    """Mixing currencies is a CurrencyMismatch, never a silent conversion."""
    with pytest.raises(CurrencyMismatch):
        op(Money(100, "ZAR"), Money(100, "USD"))  # type: ignore[operator]
    with pytest.raises(TypeError):
        op(Money(100, "ZAR"), 100)  # type: ignore[operator]


def test_money_of_different_currencies_is_not_equal() -> None:
    """Equality includes the currency."""
    assert Money(100, "ZAR") != Money(100, "USD")


@pytest.mark.parametrize(
    ("amount", "bp", "expected"),
    [
        (1000, 600, 60),
        (999, 600, 59),  # 59.94 rounds down
        (1, 9999, 0),
        (10_000, 1, 1),
        (9_999, 1, 0),
        (12345, 10_000, 12345),
        (12345, 0, 0),
        (-999, 600, -59),  # towards zero, not -60
    ],
)
def test_percent_bp_rounds_towards_zero(amount: int, bp: int, expected: int) -> None:
    """Basis points of an amount, truncated towards zero."""
    assert Money(amount, "ZAR").percent_bp(bp) == Money(expected, "ZAR")


@given(
    amount=st.integers(min_value=-(10**12), max_value=10**12),
    bp=st.integers(min_value=-10_000, max_value=10_000),
)
def test_percent_bp_never_exceeds_the_exact_share(amount: int, bp: int) -> None:
    """|result| <= |amount * bp / 10000| < |result| + 1 cent: truncation towards zero."""
    result = Money(amount, "ZAR").percent_bp(bp).amount
    exact = Decimal(amount) * bp / 10_000
    assert abs(result) <= abs(exact) < abs(result) + 1
    assert result == 0 or (result > 0) == (exact > 0)


def test_percent_bp_refuses_non_integer_basis_points() -> None:
    """Basis points are integers; a float or bool is refused."""
    with pytest.raises(InvalidAmount):
        Money(100, "ZAR").percent_bp(1.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidAmount):
        Money(100, "ZAR").percent_bp(True)
