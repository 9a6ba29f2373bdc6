"""Money: integer minor units plus an ISO 4217 currency code. Never floats.

Decimal is used only at the edges (parsing and formatting protocol values); amounts with more
fraction digits than the currency has are refused rather than rounded, because silently
rounding money is how ledgers drift.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from vending.errors import CurrencyMismatch, InvalidAmount, UnknownCurrency

# xsd:decimal's lexical form in ASCII digits: Decimal() alone would also take exponents
# ("1e2"), digit separators ("1_000") and digits of other scripts.
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
# Amounts are stored as BIGINT minor units.
MAX_MINOR_UNITS = 2**63 - 1

# Minor-unit exponents of ISO 4217 currencies whose exponent is not 2.
_EXPONENT_EXCEPTIONS: dict[str, int] = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
    "PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0,
    "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    "CLF": 4, "UYW": 4,
}  # fmt: skip

# Active ISO 4217 codes with exponent 2 (plus XCG, the Caribbean guilder of 2025).
_EXPONENT_TWO = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP
    BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD
    FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD
    KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD
    NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP
    SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED
    VES WST XCD XCG YER ZAR ZMW ZWG
    """.split()
)


_KNOWN_CURRENCIES = frozenset(_EXPONENT_EXCEPTIONS) | _EXPONENT_TWO


def currency_exponent(currency: str) -> int:
    """Number of minor-unit digits of ``currency``; raises UnknownCurrency."""
    if currency in _EXPONENT_EXCEPTIONS:
        return _EXPONENT_EXCEPTIONS[currency]
    if currency in _EXPONENT_TWO:
        return 2
    raise UnknownCurrency(f"unknown currency {currency!r} (expected an ISO 4217 code)")


def is_currency(code: str) -> bool:
    return code in _EXPONENT_EXCEPTIONS or code in _EXPONENT_TWO


@dataclass(frozen=True, slots=True, order=False)
class Money:
    """An amount in minor units (cents for ZAR) of one currency."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        # The common case first (an int and a known code: ~18 amounts per sale); anything
        # else takes the full checks below.
        if type(self.amount) is int and self.currency in _KNOWN_CURRENCIES:
            return
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise InvalidAmount(
                f"money amounts are integer minor units, got {type(self.amount).__name__}"
            )
        currency_exponent(self.currency)

    # --- construction -----------------------------------------------------------------------

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def parse(cls, value: str | Decimal | int, currency: str) -> Money:
        """Parse a decimal amount in major units ("90.00") exactly.

        Refuses NaN, infinities, exponents beyond the currency's minor units ("1.005" ZAR) and
        anything that is not a plain decimal number.
        """
        exponent = currency_exponent(currency)
        if isinstance(value, float):
            raise InvalidAmount("money is never parsed from a float")
        if isinstance(value, Decimal):
            number = value
        elif isinstance(value, int) and not isinstance(value, bool):
            number = Decimal(value)
        else:
            text = str(value).strip()
            if not _DECIMAL_TEXT.fullmatch(text):
                raise InvalidAmount(f"not a decimal amount: {value!r}")
            number = Decimal(text)
        if not number.is_finite():
            raise InvalidAmount(f"not a finite amount: {value!r}")
        # Scale on the digits themselves: Decimal arithmetic would round to 28 significant
        # digits and so accept "1.00000000000000000000000000001" as 1.00.
        sign, digits, number_exponent = number.as_tuple()
        assert isinstance(number_exponent, int)  # finite
        shift = number_exponent + exponent
        if shift < 0:
            keep = max(len(digits) + shift, 0)
            if any(digits[keep:]):
                raise InvalidAmount(f"{value} {currency} has more than {exponent} decimal places")
            digits, shift = digits[:keep], 0
        if len(digits) + shift > len(str(MAX_MINOR_UNITS)):
            raise InvalidAmount(f"{value} {currency} is too large")
        minor = int("".join(map(str, digits)) or "0") * 10**shift
        if minor > MAX_MINOR_UNITS:
            raise InvalidAmount(f"{value} {currency} is too large")
        return cls(-minor if sign else minor, currency)

    # --- conversion -------------------------------------------------------------------------

    @property
    def exponent(self) -> int:
        return currency_exponent(self.currency)

    def to_decimal(self) -> Decimal:
        # Minor units scaled by the exponent, exactly (no context rounding) and without
        # formatting and parsing the digits twice: renderers call this ten times a vend.
        return Decimal(f"{self.amount}E-{self.exponent}")

    def format(self) -> str:
        """Plain decimal text with exactly the currency's minor digits: ``"90.00"``."""
        exponent = self.exponent
        if exponent == 0:
            return str(self.amount)
        sign = "-" if self.amount < 0 else ""
        major, minor = divmod(abs(self.amount), 10**exponent)
        return f"{sign}{major}.{minor:0{exponent}d}"

    def __str__(self) -> str:
        return f"{self.currency} {self.format()}"

    # --- arithmetic (same currency only) ----------------------------------------------------

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.amount >= other.amount

    def is_positive(self) -> bool:
        return self.amount > 0

    def percent_bp(self, basis_points: int) -> Money:
        """``basis_points``/10000 of this amount, rounded down (towards zero)."""
        if isinstance(basis_points, bool) or not isinstance(basis_points, int):
            raise InvalidAmount("basis points are integers")
        # Truncate the magnitude: floor division of a negative product would round away
        # from zero.
        magnitude = abs(self.amount) * abs(basis_points) // 10_000
        negative = (self.amount < 0) != (basis_points < 0)
        return Money(-magnitude if negative else magnitude, self.currency)
