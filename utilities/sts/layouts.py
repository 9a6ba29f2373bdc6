"""Token classes, subclasses and field layouts (IEC 62055-41 6.2-6.3; sts.md §4).

All layouts here work on ``payload48`` = bits 63..16 of the 64-bit data block, i.e. the
data block without its CRC: subclass in payload bits 47..44 (block bits 63..60) and the
class-specific fields below it.  Field positions in the comments are block bit numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from utilities.sts.amount import decode_amount, decode_currency_amount
from utilities.sts.errors import TokenClassError

PAYLOAD_BITS = 48
PAYLOAD_MASK = (1 << PAYLOAD_BITS) - 1
CURRENCY_SUBCLASSES = range(4, 8)


class TokenClass(IntEnum):
    TRANSFER_CREDIT = 0
    INITIATE_METER_TEST_OR_DISPLAY = 1
    METER_SPECIFIC_MANAGEMENT = 2


class CreditSubclass(IntEnum):
    ELECTRICITY = 0
    WATER = 1
    GAS = 2
    TIME = 3
    ELECTRICITY_CURRENCY = 4
    WATER_CURRENCY = 5
    GAS_CURRENCY = 6
    TIME_CURRENCY = 7


class MeterTestSubclass(IntEnum):
    MFR_CODE_2_DIGIT = 0  # 36-bit control field, 8-bit MfrCode
    MFR_CODE_4_DIGIT = 1  # 28-bit control field, 16-bit MfrCode


class ManagementSubclass(IntEnum):
    SET_MAXIMUM_POWER_LIMIT = 0
    CLEAR_CREDIT = 1
    SET_TARIFF_RATE = 2
    SET_1ST_SECTION_DECODER_KEY = 3
    SET_2ND_SECTION_DECODER_KEY = 4
    CLEAR_TAMPER_CONDITION = 5
    SET_MAXIMUM_PHASE_POWER_UNBALANCE_LIMIT = 6
    SET_WATER_METER_FACTOR = 7
    SET_3RD_SECTION_DECODER_KEY = 8
    SET_4TH_SECTION_DECODER_KEY = 9


KEY_CHANGE_SUBCLASSES = frozenset(
    {
        ManagementSubclass.SET_1ST_SECTION_DECODER_KEY,
        ManagementSubclass.SET_2ND_SECTION_DECODER_KEY,
        ManagementSubclass.SET_3RD_SECTION_DECODER_KEY,
        ManagementSubclass.SET_4TH_SECTION_DECODER_KEY,
    }
)

#: ClearCredit register value that clears every credit register (6.3.13).
CLEAR_ALL_REGISTERS = 0xFFFF


def _check(value: int, bits: int, what: str) -> int:
    if not (isinstance(value, int) and 0 <= value < (1 << bits)):
        raise ValueError(f"{what} must fit in {bits} bits, got {value!r}")
    return value


def subclass_of(payload48: int) -> int:
    return payload48 >> 44


# --- packing ----------------------------------------------------------------------------


def pack_timed(subclass: int, rnd: int, tid: int, field16: int) -> int:
    """Class 0 (units) and class 2 register tokens: 63..60 sub, 59..56 RND, 55..32 TID,
    31..16 amount/value."""
    _check(subclass, 4, "subclass")
    _check(rnd, 4, "RND")
    _check(tid, 24, "TID")
    _check(field16, 16, "16-bit field")
    return (subclass << 44) | (rnd << 40) | (tid << 16) | field16


def pack_currency_credit(subclass: int, sign_exponent: int, tid: int, field16: int) -> int:
    """Class 0 subclass 4..7: the RND nibble carries S&E (sign and exponent bits e4..e2)."""
    if subclass not in CURRENCY_SUBCLASSES:
        raise ValueError(f"currency credit subclass must be 4..7, got {subclass}")
    return pack_timed(subclass, sign_exponent, tid, field16)


def pack_test(subclass: int, control: int, manufacturer_code: int) -> int:
    """Class 1: sub 0 = control(36) 59..24 + MfrCode(8) 23..16;
    sub 1 = control(28) 59..32 + MfrCode(16) 31..16."""
    if subclass == MeterTestSubclass.MFR_CODE_2_DIGIT:
        _check(control, 36, "class 1 subclass 0 control field")
        if not 0 <= manufacturer_code <= 99:
            raise ValueError(f"2-digit MfrCode must be 0..99, got {manufacturer_code}")
        return (control << 8) | manufacturer_code
    if subclass == MeterTestSubclass.MFR_CODE_4_DIGIT:
        _check(control, 28, "class 1 subclass 1 control field")
        if not 0 <= manufacturer_code <= 9999:
            raise ValueError(f"4-digit MfrCode must be 0..9999, got {manufacturer_code}")
        return (1 << 44) | (control << 16) | manufacturer_code
    raise TokenClassError(f"class 1 subclass {subclass} is not defined")


def pack_key_change_1st(
    ken_high: int, krn: int, rollover: bool, key_type: int, key_word: int
) -> int:
    """Set1stSectionDecoderKey: 59..56 KENHO, 55..52 KRN, 51 RO, 50 reserved (0),
    49..48 KT, 47..16 NKHO."""
    _check(ken_high, 4, "KEN high nibble")
    _check(krn, 4, "KRN")
    _check(key_type, 2, "key type")
    _check(key_word, 32, "key word")
    return (
        (ManagementSubclass.SET_1ST_SECTION_DECODER_KEY << 44)
        | (ken_high << 40)
        | (krn << 36)
        | (int(rollover) << 35)
        | (key_type << 32)
        | key_word
    )


def pack_key_change_2nd(ken_low: int, tariff_index: int, key_word: int) -> int:
    """Set2ndSectionDecoderKey: 59..56 KENLO, 55..48 TI (8-bit binary), 47..16 NKLO."""
    _check(ken_low, 4, "KEN low nibble")
    _check(tariff_index, 8, "tariff index")
    _check(key_word, 32, "key word")
    return (
        (ManagementSubclass.SET_2ND_SECTION_DECODER_KEY << 44)
        | (ken_low << 40)
        | (tariff_index << 32)
        | key_word
    )


def pack_key_change_extra(subclass: int, sgc_part: int, key_word: int) -> int:
    """Set3rd/Set4thSectionDecoderKey: 59..48 SGC low (3rd) / high (4th) 12 bits,
    47..16 key word."""
    if subclass not in (
        ManagementSubclass.SET_3RD_SECTION_DECODER_KEY,
        ManagementSubclass.SET_4TH_SECTION_DECODER_KEY,
    ):
        raise ValueError(f"3rd/4th key section subclass must be 8 or 9, got {subclass}")
    _check(sgc_part, 12, "SGC part")
    _check(key_word, 32, "key word")
    return (subclass << 44) | (sgc_part << 32) | key_word


# --- parsing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CreditFields:
    """Class 0. ``units`` is in base units (signed for currency); ``rnd`` is None for
    currency subclasses, whose RND nibble holds ``sign_exponent``."""

    subclass: int
    rnd: int | None
    tid: int
    amount_field: int
    units: int
    sign_exponent: int | None = None

    @property
    def is_currency(self) -> bool:
        return self.subclass in CURRENCY_SUBCLASSES


@dataclass(frozen=True)
class MeterTestFields:
    """Class 1."""

    subclass: int
    control: int
    manufacturer_code: int

    @property
    def manufacturer_code_text(self) -> str:
        width = 2 if self.subclass == MeterTestSubclass.MFR_CODE_2_DIGIT else 4
        return f"{self.manufacturer_code:0{width}d}"


@dataclass(frozen=True)
class ManagementFields:
    """Class 2 register family (sub 0, 1, 2, 5, 6, 7): a TID and a 16-bit value."""

    subclass: int
    rnd: int
    tid: int
    value: int

    @property
    def watts(self) -> int:
        """MPL / MPPUL value: the amount formula with unit 1 W (6.3.9, 6.3.10)."""
        return decode_amount(self.value)


@dataclass(frozen=True)
class KeyChangeFields:
    """Class 2 sub 3, 4, 8, 9: one section of a key change set (no TID)."""

    subclass: int
    key_word: int
    ken_nibble: int | None = None  # KENHO in the 1st section, KENLO in the 2nd
    krn: int | None = None
    rollover: bool | None = None
    reserved_bit: int | None = None
    key_type: int | None = None
    tariff_index: int | None = None
    sgc_part: int | None = None  # 12 bits: low in the 3rd section, high in the 4th


TokenFields = CreditFields | MeterTestFields | ManagementFields | KeyChangeFields


def parse_fields(token_class: int, payload48: int) -> TokenFields:
    """Typed fields of a decoded token; raises TokenClassError for reserved values."""
    _check(payload48, PAYLOAD_BITS, "payload")
    subclass = payload48 >> 44
    nibble = (payload48 >> 40) & 0xF
    tid = (payload48 >> 16) & 0xFFFFFF
    field16 = payload48 & 0xFFFF
    key_word = payload48 & 0xFFFFFFFF
    if token_class == TokenClass.TRANSFER_CREDIT:
        if subclass in CURRENCY_SUBCLASSES:
            units = decode_currency_amount(nibble, field16)
            return CreditFields(subclass, None, tid, field16, units, sign_exponent=nibble)
        if subclass <= CreditSubclass.TIME:
            return CreditFields(subclass, nibble, tid, field16, decode_amount(field16))
        raise TokenClassError(f"class 0 subclass {subclass} is reserved")
    if token_class == TokenClass.INITIATE_METER_TEST_OR_DISPLAY:
        if subclass == MeterTestSubclass.MFR_CODE_2_DIGIT:
            return MeterTestFields(subclass, (payload48 >> 8) & ((1 << 36) - 1), payload48 & 0xFF)
        if subclass == MeterTestSubclass.MFR_CODE_4_DIGIT:
            return MeterTestFields(subclass, (payload48 >> 16) & ((1 << 28) - 1), field16)
        raise TokenClassError(f"class 1 subclass {subclass} is not defined")
    if token_class == TokenClass.METER_SPECIFIC_MANAGEMENT:
        if subclass == ManagementSubclass.SET_1ST_SECTION_DECODER_KEY:
            return KeyChangeFields(
                subclass,
                key_word,
                ken_nibble=nibble,
                krn=(payload48 >> 36) & 0xF,
                rollover=bool((payload48 >> 35) & 1),
                reserved_bit=(payload48 >> 34) & 1,
                key_type=(payload48 >> 32) & 3,
            )
        if subclass == ManagementSubclass.SET_2ND_SECTION_DECODER_KEY:
            return KeyChangeFields(
                subclass, key_word, ken_nibble=nibble, tariff_index=(payload48 >> 32) & 0xFF
            )
        if subclass in (
            ManagementSubclass.SET_3RD_SECTION_DECODER_KEY,
            ManagementSubclass.SET_4TH_SECTION_DECODER_KEY,
        ):
            return KeyChangeFields(subclass, key_word, sgc_part=(payload48 >> 32) & 0xFFF)
        if subclass <= ManagementSubclass.SET_WATER_METER_FACTOR:
            return ManagementFields(subclass, nibble, tid, field16)
        raise TokenClassError(f"class 2 subclass {subclass} is reserved or proprietary")
    raise TokenClassError(f"token class {token_class} is reserved")
