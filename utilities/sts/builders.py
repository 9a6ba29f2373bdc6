"""Builders for every token type (IEC 62055-41 6.2-6.3; reference sts.md §4).

Each builder takes the meter's decoder key and human-level values, fills the layout of
:mod:`utilities.sts.layouts` and returns a :class:`~utilities.sts.tokens.Token`.

TID-bearing tokens take either ``issued_at`` (a datetime; seconds are truncated) or an
explicit ``tid``.  A vending system must never give one meter two tokens with the same
TID (the meter would reject the second as USED); when several tokens are made for a meter
in one minute, the later ones use TID + 1 and so on (sts.md §1.4), which callers can do by
passing ``tid``.  ``rnd`` defaults to a random nibble from :mod:`secrets`; tests pass it.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime

from utilities.sts.amount import (
    decode_amount,
    decode_currency_amount,
    encode_amount,
    encode_currency_amount,
)
from utilities.sts.errors import TokenClassError
from utilities.sts.layouts import (
    CLEAR_ALL_REGISTERS,
    CURRENCY_SUBCLASSES,
    CreditSubclass,
    ManagementSubclass,
    MeterTestSubclass,
    pack_currency_credit,
    pack_key_change_1st,
    pack_key_change_2nd,
    pack_key_change_extra,
    pack_test,
    pack_timed,
)
from utilities.sts.tid import MAX_TID, tid_from_datetime
from utilities.sts.tokens import Token, encode_token

#: Key expiry number that never expires (sts.md §5).
KEN_NEVER_EXPIRES = 0xFF


def _resolve_tid(issued_at: datetime | None, tid: int | None, base_date: int) -> int:
    if (issued_at is None) == (tid is None):
        raise ValueError("give exactly one of issued_at and tid")
    if tid is not None:
        if not 0 <= tid <= MAX_TID:
            raise ValueError(f"TID must be 0..{MAX_TID}, got {tid}")
        return tid
    assert issued_at is not None
    return tid_from_datetime(issued_at, base_date)


def _resolve_rnd(rnd: int | None) -> int:
    if rnd is None:
        return secrets.randbelow(16)
    if not 0 <= rnd <= 15:
        raise ValueError(f"RND must be 0..15, got {rnd}")
    return rnd


# --- class 0 ----------------------------------------------------------------------------


def credit_token(
    decoder_key: bytes,
    *,
    units: int,
    issued_at: datetime | None = None,
    tid: int | None = None,
    base_date: int = 1993,
    subclass: int = CreditSubclass.ELECTRICITY,
    rnd: int | None = None,
    ea: int | None = None,
) -> Token:
    """TransferCredit (class 0).

    ``units`` are base units: 0.1 kWh for electricity (and 0.1 of the main unit for water,
    gas and time, as the published vectors do), 10**-5 currency units for subclasses 4..7,
    where a negative value is a debit.  The amount is rounded up in the customer's favour;
    ``Token.units`` is what the meter will actually be credited.  ``rnd`` is ignored for
    currency subclasses, whose RND nibble carries the sign and exponent.
    """
    token_tid = _resolve_tid(issued_at, tid, base_date)
    if subclass in CURRENCY_SUBCLASSES:
        sign_exponent, field16 = encode_currency_amount(units)
        payload = pack_currency_credit(subclass, sign_exponent, token_tid, field16)
        credited = decode_currency_amount(sign_exponent, field16)
        token_rnd = None
    elif 0 <= subclass <= CreditSubclass.TIME:
        token_rnd = _resolve_rnd(rnd)
        field16 = encode_amount(units)
        payload = pack_timed(subclass, token_rnd, token_tid, field16)
        credited = decode_amount(field16)
    else:
        raise TokenClassError(f"class 0 subclass {subclass} is reserved")
    return Token(
        digits=encode_token(decoder_key, 0, payload, ea=ea),
        token_class=0,
        payload48=payload,
        tid=token_tid,
        rnd=token_rnd,
        base_date=base_date,
        units=credited,
        description=f"{CreditSubclass(subclass).name.lower()} credit",
    )


# --- class 1 ----------------------------------------------------------------------------


def meter_test_token(*, control: int, manufacturer_code: str, subclass: int | None = None) -> Token:
    """InitiateMeterTest/Display (class 1, not encrypted, no TID).

    A 2-digit ``manufacturer_code`` gives subclass 0 with a 36-bit ``control`` field; a
    4-digit one gives subclass 1 with a 28-bit control field (6.2.3).  Each control bit
    selects one test or display; test 0 (bit 0) is mandatory for every meter.
    """
    if not (manufacturer_code.isascii() and manufacturer_code.isdigit()):
        raise ValueError(f"MfrCode must be decimal digits, got {manufacturer_code!r}")
    if len(manufacturer_code) not in (2, 4):
        raise ValueError(f"MfrCode must have 2 or 4 digits, got {manufacturer_code!r}")
    implied = (
        MeterTestSubclass.MFR_CODE_2_DIGIT
        if len(manufacturer_code) == 2
        else MeterTestSubclass.MFR_CODE_4_DIGIT
    )
    if subclass is not None and subclass != implied:
        raise ValueError(
            f"a {len(manufacturer_code)}-digit MfrCode needs class 1 subclass {int(implied)}"
        )
    payload = pack_test(implied, control, int(manufacturer_code))
    return Token(
        digits=encode_token(b"", 1, payload),
        token_class=1,
        payload48=payload,
        description=f"test/display control={control:#x} MfrCode={manufacturer_code}",
    )


# --- class 2: register family -----------------------------------------------------------


def _management_token(
    decoder_key: bytes,
    subclass: ManagementSubclass,
    value: int,
    issued_at: datetime | None,
    tid: int | None,
    base_date: int,
    rnd: int | None,
    ea: int | None,
    units: int | None = None,
) -> Token:
    token_tid = _resolve_tid(issued_at, tid, base_date)
    token_rnd = _resolve_rnd(rnd)
    payload = pack_timed(subclass, token_rnd, token_tid, value)
    return Token(
        digits=encode_token(decoder_key, 2, payload, ea=ea),
        token_class=2,
        payload48=payload,
        tid=token_tid,
        rnd=token_rnd,
        base_date=base_date,
        units=units,
        description=subclass.name.lower(),
    )


def max_power_limit_token(
    decoder_key: bytes,
    *,
    watts: int,
    issued_at: datetime | None = None,
    tid: int | None = None,
    base_date: int = 1993,
    rnd: int | None = None,
    ea: int | None = None,
) -> Token:
    """SetMaximumPowerLimit (class 2 sub 0); watts coded like amounts, rounded up."""
    field16 = encode_amount(watts)
    return _management_token(
        decoder_key,
        ManagementSubclass.SET_MAXIMUM_POWER_LIMIT,
        field16,
        issued_at,
        tid,
        base_date,
        rnd,
        ea,
        units=decode_amount(field16),
    )


def clear_credit_token(
    decoder_key: bytes,
    *,
    register: int = CLEAR_ALL_REGISTERS,
    issued_at: datetime | None = None,
    tid: int | None = None,
    base_date: int = 1993,
    rnd: int | None = None,
    ea: int | None = None,
) -> Token:
    """ClearCredit (class 2 sub 1): register 0..7 as the class 0 subclasses, FFFF = all."""
    if not 0 <= register <= 0xFFFF:
        raise ValueError(f"register must be 0..0xFFFF, got {register}")
    return _management_token(
        decoder_key, ManagementSubclass.CLEAR_CREDIT, register, issued_at, tid, base_date, rnd, ea
    )


def tariff_rate_token(
    decoder_key: bytes,
    *,
    rate: int,
    issued_at: datetime | None = None,
    tid: int | None = None,
    base_date: int = 1993,
    rnd: int | None = None,
    ea: int | None = None,
) -> Token:
    """SetTariffRate (class 2 sub 2); the 16-bit rate is 'reserved for future definition'
    by the standard (6.3.11), so it is carried as a raw value."""
    if not 0 <= rate <= 0xFFFF:
        raise ValueError(f"rate must be a 16-bit value, got {rate}")
    return _management_token(
        decoder_key, ManagementSubclass.SET_TARIFF_RATE, rate, issued_at, tid, base_date, rnd, ea
    )


def clear_tamper_token(
    decoder_key: bytes,
    *,
    issued_at: datetime | None = None,
    tid: int | None = None,
    base_date: int = 1993,
    rnd: int | None = None,
    ea: int | None = None,
) -> Token:
    """ClearTamperCondition (class 2 sub 5); the 16-bit pad is zero."""
    return _management_token(
        decoder_key,
        ManagementSubclass.CLEAR_TAMPER_CONDITION,
        0,
        issued_at,
        tid,
        base_date,
        rnd,
        ea,
    )


def max_phase_power_unbalance_limit_token(
    decoder_key: bytes,
    *,
    watts: int,
    issued_at: datetime | None = None,
    tid: int | None = None,
    base_date: int = 1993,
    rnd: int | None = None,
    ea: int | None = None,
) -> Token:
    """SetMaximumPhasePowerUnbalanceLimit (class 2 sub 6); watts, amount formula."""
    field16 = encode_amount(watts)
    return _management_token(
        decoder_key,
        ManagementSubclass.SET_MAXIMUM_PHASE_POWER_UNBALANCE_LIMIT,
        field16,
        issued_at,
        tid,
        base_date,
        rnd,
        ea,
        units=decode_amount(field16),
    )


def water_meter_factor_token(
    decoder_key: bytes,
    *,
    factor: int,
    issued_at: datetime | None = None,
    tid: int | None = None,
    base_date: int = 1993,
    rnd: int | None = None,
    ea: int | None = None,
) -> Token:
    """SetWaterMeterFactor (class 2 sub 7); 16-bit value 'reserved for water application'
    (6.3.12), carried raw."""
    if not 0 <= factor <= 0xFFFF:
        raise ValueError(f"factor must be a 16-bit value, got {factor}")
    return _management_token(
        decoder_key,
        ManagementSubclass.SET_WATER_METER_FACTOR,
        factor,
        issued_at,
        tid,
        base_date,
        rnd,
        ea,
    )


# --- class 2: key change ----------------------------------------------------------------


def key_change_tokens(
    old_decoder_key: bytes,
    new_decoder_key: bytes,
    *,
    key_type: int,
    krn: int,
    tariff_index: int | str,
    ken: int = KEN_NEVER_EXPIRES,
    rollover: bool = False,
    sgc: int | str | None = None,
    ea: int | None = None,
) -> Sequence[Token]:
    """The key change set, encrypted under the OLD key and carrying the NEW key.

    An 8-byte new key gives 2 tokens (Set1st: KENHO, KRN, RO, KT, key bits 63..32;
    Set2nd: KENLO, TI, key bits 31..0).  A 16-byte (MISTY1) new key gives 4 tokens: Set1st
    carries key bytes 0-3, Set3rd bytes 4-7 and the SGC's low 12 bits, Set4th bytes 8-11
    and the SGC's high 12 bits, Set2nd bytes 12-15; ``sgc`` is then required.
    ``rollover`` sets RO: the meter clears its TID memory (TID base date roll-over).
    """
    if not 0 <= ken <= 0xFF:
        raise ValueError(f"KEN must be 0..255, got {ken}")
    if not 0 <= key_type <= 3:
        raise ValueError(f"key type must be 0..3, got {key_type}")
    if not 1 <= krn <= 9:
        raise ValueError(f"KRN must be 1..9, got {krn}")
    ti = int(tariff_index)
    if not 0 <= ti <= 99:
        raise ValueError(f"tariff index must be 0..99, got {tariff_index!r}")
    if len(new_decoder_key) == 8:
        words = [new_decoder_key[0:4], new_decoder_key[4:8]]
    elif len(new_decoder_key) == 16:
        words = [new_decoder_key[i : i + 4] for i in range(0, 16, 4)]
    else:
        raise ValueError(f"new decoder key must be 8 or 16 bytes, got {len(new_decoder_key)}")
    first_word, *middle_words, last_word = (int.from_bytes(w, "big") for w in words)
    payloads = [
        (
            ManagementSubclass.SET_1ST_SECTION_DECODER_KEY,
            pack_key_change_1st(ken >> 4, krn, rollover, key_type, first_word),
        ),
        (
            ManagementSubclass.SET_2ND_SECTION_DECODER_KEY,
            pack_key_change_2nd(ken & 0xF, ti, last_word),
        ),
    ]
    if middle_words:
        if sgc is None:
            raise ValueError("a 128-bit (MISTY1) key change needs the SGC (3rd/4th sections)")
        sgc_value = int(sgc)
        if not 0 <= sgc_value <= 999999:
            raise ValueError(f"SGC must be 0..999999, got {sgc!r}")
        payloads.append(
            (
                ManagementSubclass.SET_3RD_SECTION_DECODER_KEY,
                pack_key_change_extra(8, sgc_value & 0xFFF, middle_words[0]),
            )
        )
        payloads.append(
            (
                ManagementSubclass.SET_4TH_SECTION_DECODER_KEY,
                pack_key_change_extra(9, sgc_value >> 12, middle_words[1]),
            )
        )
    return [
        Token(
            digits=encode_token(old_decoder_key, 2, payload, ea=ea),
            token_class=2,
            payload48=payload,
            description=subclass.name.lower(),
        )
        for subclass, payload in payloads
    ]
