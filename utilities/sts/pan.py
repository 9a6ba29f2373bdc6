"""Meter numbers, PAN and PANBlock (IEC 62055-41 6.1, 6.5.3.2; reference sts.md §3.1-§3.2).

* DRN (decoder reference number, the meter number): either 11 digits (2-digit MfrCode,
  8-digit serial, Luhn check digit) used with the 6-digit IIN 600727, or 13 digits (4-digit
  MfrCode, 8-digit serial, Luhn digit) used with the 4-digit "common code" IIN 0000 of the
  2018 edition.  The Luhn digit covers the DRN digits only.
* PAN = IIN + IAIN (the DRN) + a Luhn check digit over both: 18 digits.
* PANBlock (16 digits, used as 8 bytes of hex digits): the last 5 IIN digits + the 11-digit
  IAIN, or for a 4-digit IIN the last 3 IIN digits + the 13-digit IAIN; the PAN check digit
  is not used.  For key type 3 (DCTK, a common key) the IAIN digits are zeros.

An 18-digit PAN whose first four digits are 0000 is read as the 4-digit-IIN form; PAN
000001000000000082 therefore has IIN 0000 and IAIN 0100000000008, which gives the same
PANBlock as IIN 000001 with the 11-digit IAIN 00000000008.
"""

from __future__ import annotations

from dataclasses import dataclass

from utilities.sts.errors import MeterNumberError

STS_IIN = "600727"
COMMON_CODE_IIN = "0000"
KEY_TYPE_DCTK = 3


def luhn_check_digit(digits: str) -> str:
    """The Luhn (mod 10) check digit to append to ``digits``."""
    if not (digits.isascii() and digits.isdigit()):
        raise MeterNumberError(f"Luhn input must be decimal digits, got {digits!r}")
    total = 0
    # The digit next to the (future) check digit is doubled, then every second one.
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def luhn_is_valid(number: str) -> bool:
    """True when the last digit of ``number`` is the Luhn check digit of the rest."""
    if len(number) < 2 or not (number.isascii() and number.isdigit()):
        return False
    return luhn_check_digit(number[:-1]) == number[-1]


def meter_number_is_valid(msno: str) -> bool:
    """True for an 11- or 13-digit STS meter number (DRN) with a correct Luhn digit."""
    return isinstance(msno, str) and len(msno) in (11, 13) and luhn_is_valid(msno)


def _digits(value: str, lengths: tuple[int, ...], what: str) -> str:
    if not isinstance(value, str) or not (value.isascii() and value.isdigit()):
        raise MeterNumberError(f"{what} must be a string of decimal digits, got {value!r}")
    if len(value) not in lengths:
        expected = " or ".join(str(n) for n in lengths)
        raise MeterNumberError(f"{what} must have {expected} digits, got {value!r}")
    return value


@dataclass(frozen=True)
class PrimaryAccountNumber:
    """IIN + IAIN of a meter; the IAIN is the DRN including its own check digit."""

    iin: str
    iain: str

    def __post_init__(self) -> None:
        _digits(self.iin, (4, 6), "IIN")
        _digits(self.iain, (13,) if len(self.iin) == 4 else (11,), "IAIN/DRN")

    @classmethod
    def for_meter(cls, drn: str) -> PrimaryAccountNumber:
        """The standard PAN of a meter number: IIN 600727 (11 digits) or 0000 (13)."""
        _digits(drn, (11, 13), "meter number")
        return cls(STS_IIN if len(drn) == 11 else COMMON_CODE_IIN, drn)

    @classmethod
    def parse(cls, pan: str) -> PrimaryAccountNumber:
        """Split an 18-digit PAN, checking its Luhn digit (see the module docstring)."""
        _digits(pan, (18,), "PAN")
        if not luhn_is_valid(pan):
            raise MeterNumberError(
                f"PAN {pan} has a wrong check digit (expected {luhn_check_digit(pan[:-1])})"
            )
        iin_length = 4 if pan.startswith(COMMON_CODE_IIN) else 6
        return cls(pan[:iin_length], pan[iin_length:17])

    @property
    def digits(self) -> str:
        """The 18-digit PAN including its check digit."""
        body = self.iin + self.iain
        return body + luhn_check_digit(body)

    def pan_block(self, key_type: int) -> bytes:
        """The 8-byte PANBlock; the IAIN is zeroed for a DCTK (key type 3)."""
        kept_iin = self.iin[-5:] if len(self.iin) == 6 else self.iin[-3:]
        iain = "0" * len(self.iain) if key_type == KEY_TYPE_DCTK else self.iain
        return bytes.fromhex(kept_iin + iain)

    def __str__(self) -> str:
        return self.digits
