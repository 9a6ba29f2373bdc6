"""A simulated STS payment meter: decode, validate and apply tokens (IEC 62055-41 7.3;
reference sts.md §5 and §8).

Rules taken from the public material (sts.md §5):

* class 0/2 tokens are decrypted with the meter's decoder key and the CRC checked; a token
  for another meter or key fails here (CRC);
* TID memory: a TID already stored is USED; one below the oldest stored TID is OLD; the
  memory starts filled with the manufacture TID;
* KEN: a TID whose top 8 bits exceed the stored KEN is rejected (KEY_EXPIRED); KEN 255
  never expires;
* a meter holding a DDTK (key type 1) refuses TransferCredit (DDTK);
* key change sets are encrypted under the current key; the change happens only when every
  section is present (2 for an STA meter, 4 for a MISTY1 meter), in any order; RO clears
  the TID memory; the 3rd/4th sections also carry the SGC;
* class 1 tokens carry no TID and are not TID-checked; neither are key change tokens.

Rules inferred here because the normative text was not public (documented choices):

* TID memory depth defaults to 20 (one vendor firmware); on acceptance the TID is stored
  and, when the memory is full, the smallest entry is dropped. Checks run in the order
  DDTK, KEY_EXPIRED, USED, OLD, then the token's own checks (OVERFLOW, FUNCTION).
* WRONG_KEY: a token failing the CRC under the current key but passing it under the key
  the meter held before its last key change was made with the old key.
* Key-type change rules (6.5.2.4 was not found): a change to DITK (0) is allowed only from
  DITK; to DDTK (1) only from DITK or DDTK; to DUTK (2) or DCTK (3) from any type.  The rule
  is checked when the Set1st section (which carries KT) is entered: KEY_TYPE.
* A later section of the same number replaces a pending one; there is no time-out.
* RO also moves the meter's base date to the next era (1993 -> 2014 -> 2035), which only
  matters for showing TIDs as dates: the meter compares raw TIDs.  After RO the memory is
  empty, so any TID is accepted until new ones are stored.
* Credit registers are per class 0 subclass (0..7) in base units and may not leave
  0..``credit_limit`` (OVERFLOW); a negative currency token is a debit.
* ClearCredit register 0..7 clears that register, FFFF all of them, other values are
  rejected (FUNCTION), as are reserved subclasses and 3rd/4th key sections on an STA meter.
* Class 1: accepted after the CRC check; when the meter has a MfrCode, the token's must
  match (MANUFACTURER_CODE).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from enum import StrEnum

from utilities.sts.digits import from_digits
from utilities.sts.encryption import EncryptionAlgorithm, resolve_algorithm
from utilities.sts.errors import TokenClassError, TokenCRCError, TokenFormatError
from utilities.sts.layouts import (
    CLEAR_ALL_REGISTERS,
    CreditFields,
    KeyChangeFields,
    ManagementFields,
    ManagementSubclass,
    MeterTestFields,
    TokenFields,
    parse_fields,
)
from utilities.sts.tid import BASE_YEARS
from utilities.sts.tokens import decode_token

DEFAULT_TID_MEMORY_DEPTH = 20
DEFAULT_CREDIT_LIMIT = 0xFFFFFFFF
KEY_TYPE_DITK, KEY_TYPE_DDTK, KEY_TYPE_DUTK, KEY_TYPE_DCTK = range(4)

_STA_SECTIONS = frozenset(
    {ManagementSubclass.SET_1ST_SECTION_DECODER_KEY, ManagementSubclass.SET_2ND_SECTION_DECODER_KEY}
)
_MISTY1_SECTIONS = _STA_SECTIONS | {
    ManagementSubclass.SET_3RD_SECTION_DECODER_KEY,
    ManagementSubclass.SET_4TH_SECTION_DECODER_KEY,
}


class Rejection(StrEnum):
    """Why a meter refused a token."""

    FORMAT = "FORMAT"  # not 20 digits, >= 2**66, class 3
    CRC = "CRC"  # CRC mismatch: wrong meter/key or mistyped
    WRONG_KEY = "WRONG_KEY"  # made with the meter's previous decoder key
    USED = "USED"  # TID already in the TID memory
    OLD = "OLD"  # TID older than the oldest remembered TID
    KEY_EXPIRED = "KEY_EXPIRED"  # TID top byte > KEN
    DDTK = "DDTK"  # credit entered on a meter holding a default key
    KEY_TYPE = "KEY_TYPE"  # key change to a key type that is not allowed
    OVERFLOW = "OVERFLOW"  # the credit register would leave its range
    FUNCTION = "FUNCTION"  # reserved or unsupported function
    MANUFACTURER_CODE = "MANUFACTURER_CODE"  # class 1 token for another manufacturer


@dataclass(frozen=True)
class MeterResult:
    accepted: bool
    message: str
    reason: Rejection | None = None
    token_class: int | None = None
    fields: TokenFields | None = None
    credited: int | None = None  # base units added to a register (class 0)
    key_changed: bool = False

    @property
    def subclass(self) -> int | None:
        return None if self.fields is None else self.fields.subclass


def key_type_change_allowed(current: int, new: int) -> bool:
    """Inferred KT rules (see the module docstring)."""
    if new == KEY_TYPE_DITK:
        return current == KEY_TYPE_DITK
    if new == KEY_TYPE_DDTK:
        return current in (KEY_TYPE_DITK, KEY_TYPE_DDTK)
    return new in (KEY_TYPE_DUTK, KEY_TYPE_DCTK)


@dataclass
class MeterSimulator:
    """Meter state plus :meth:`enter`.  ``sgc`` and ``tariff_index`` are integers."""

    decoder_key: bytes
    key_type: int = KEY_TYPE_DUTK
    krn: int = 1
    tariff_index: int = 1
    sgc: int = 0
    ken: int = 0xFF
    base_date: int = 1993
    ea: int | None = None  # None: from the key length (8 bytes STA, 16 bytes MISTY1)
    tid_memory_depth: int = DEFAULT_TID_MEMORY_DEPTH
    manufacture_tid: int = 0
    manufacturer_code: str | None = None
    credit_limit: int = DEFAULT_CREDIT_LIMIT
    previous_decoder_key: bytes | None = None
    previous_ea: int | None = None
    tid_memory: list[int] = field(default_factory=list)
    pending_key_sections: dict[int, KeyChangeFields] = field(default_factory=dict)
    credit: dict[int, int] = field(default_factory=lambda: dict.fromkeys(range(8), 0))
    max_power_limit: int | None = None  # watts
    max_phase_power_unbalance_limit: int | None = None  # watts
    tariff_rate: int | None = None
    water_meter_factor: int | None = None
    tamper: bool = False
    last_test: MeterTestFields | None = None

    def __post_init__(self) -> None:
        self.ea = int(resolve_algorithm(self.decoder_key, self.ea))
        if self.tid_memory_depth < 1:
            raise ValueError("TID memory depth must be at least 1")
        if self.base_date not in BASE_YEARS:
            raise ValueError(f"base date must be one of {BASE_YEARS}")
        if not self.tid_memory:
            self.tid_memory = [self.manufacture_tid]  # "filled with the date of manufacture"
        self.tid_memory.sort()

    # -- entry -------------------------------------------------------------------------------

    def enter(self, token: str) -> MeterResult:
        """Validate and apply one 20-digit token."""
        try:
            token_class, _ = from_digits(token)
        except TokenFormatError as exc:
            return self._reject(Rejection.FORMAT, str(exc))
        if token_class == 3:
            return self._reject(Rejection.FORMAT, "token class 3 is reserved", token_class)
        try:
            token_class, payload48 = decode_token(self.decoder_key, token, ea=self.ea)
        except TokenCRCError:
            if self._made_with_previous_key(token):
                return self._reject(
                    Rejection.WRONG_KEY,
                    "token was made with the meter's previous decoder key",
                    token_class,
                )
            return self._reject(Rejection.CRC, "CRC error: token not for this meter", token_class)
        try:
            fields = parse_fields(token_class, payload48)
        except TokenClassError as exc:
            return self._reject(Rejection.FUNCTION, str(exc), token_class)
        if isinstance(fields, MeterTestFields):
            return self._apply_test(fields)
        if isinstance(fields, KeyChangeFields):
            return self._apply_key_section(fields)
        return self._apply_timed(token_class, fields)

    def _made_with_previous_key(self, token: str) -> bool:
        if self.previous_decoder_key is None:
            return False
        try:
            decode_token(self.previous_decoder_key, token, ea=self.previous_ea)
        except (TokenCRCError, TokenFormatError):
            return False
        return True

    @staticmethod
    def _reject(
        reason: Rejection,
        message: str,
        token_class: int | None = None,
        fields: TokenFields | None = None,
    ) -> MeterResult:
        return MeterResult(False, message, reason, token_class, fields)

    # -- TID-bearing tokens (class 0, class 2 register family) -------------------------------

    def _check_tid(self, tid: int) -> tuple[Rejection, str] | None:
        if tid >> 16 > self.ken:
            return Rejection.KEY_EXPIRED, f"key expired: TID {tid} top byte {tid >> 16} > KEN"
        index = bisect.bisect_left(self.tid_memory, tid)
        if index < len(self.tid_memory) and self.tid_memory[index] == tid:
            return Rejection.USED, f"TID {tid} already used"
        if self.tid_memory and tid < self.tid_memory[0]:
            return Rejection.OLD, f"TID {tid} older than the oldest remembered TID"
        return None

    def _remember_tid(self, tid: int) -> None:
        bisect.insort(self.tid_memory, tid)
        if len(self.tid_memory) > self.tid_memory_depth:
            del self.tid_memory[0]  # forget the oldest

    def _apply_timed(
        self, token_class: int, fields: CreditFields | ManagementFields
    ) -> MeterResult:
        if isinstance(fields, CreditFields) and self.key_type == KEY_TYPE_DDTK:
            return self._reject(
                Rejection.DDTK, "credit is refused on a meter holding a DDTK", 0, fields
            )
        problem = self._check_tid(fields.tid)
        if problem is not None:
            return self._reject(problem[0], problem[1], token_class, fields)
        if isinstance(fields, CreditFields):
            balance = self.credit[fields.subclass] + fields.units
            if not 0 <= balance <= self.credit_limit:
                return self._reject(
                    Rejection.OVERFLOW, "credit register would overflow", token_class, fields
                )
            self.credit[fields.subclass] = balance
            self._remember_tid(fields.tid)
            return MeterResult(
                True, f"credit {fields.units} added", None, 0, fields, credited=fields.units
            )
        rejection = self._apply_management(fields)
        if rejection is not None:
            return self._reject(Rejection.FUNCTION, rejection, token_class, fields)
        self._remember_tid(fields.tid)
        return MeterResult(True, ManagementSubclass(fields.subclass).name.lower(), None, 2, fields)

    def _apply_management(self, fields: ManagementFields) -> str | None:
        """Apply a class 2 register token; returns an error text if it cannot be applied."""
        subclass = fields.subclass
        if subclass == ManagementSubclass.SET_MAXIMUM_POWER_LIMIT:
            self.max_power_limit = fields.watts
        elif subclass == ManagementSubclass.CLEAR_CREDIT:
            if fields.value == CLEAR_ALL_REGISTERS:
                self.credit = dict.fromkeys(self.credit, 0)
            elif fields.value in self.credit:
                self.credit[fields.value] = 0
            else:
                return f"ClearCredit register {fields.value:#06x} does not exist"
        elif subclass == ManagementSubclass.SET_TARIFF_RATE:
            self.tariff_rate = fields.value
        elif subclass == ManagementSubclass.CLEAR_TAMPER_CONDITION:
            self.tamper = False
        elif subclass == ManagementSubclass.SET_MAXIMUM_PHASE_POWER_UNBALANCE_LIMIT:
            self.max_phase_power_unbalance_limit = fields.watts
        elif subclass == ManagementSubclass.SET_WATER_METER_FACTOR:
            self.water_meter_factor = fields.value
        return None

    # -- class 1 -----------------------------------------------------------------------------

    def _apply_test(self, fields: MeterTestFields) -> MeterResult:
        if (
            self.manufacturer_code is not None
            and fields.manufacturer_code_text != self.manufacturer_code
        ):
            return self._reject(
                Rejection.MANUFACTURER_CODE,
                f"MfrCode {fields.manufacturer_code_text} is not this meter's",
                1,
                fields,
            )
        self.last_test = fields
        return MeterResult(True, f"test/display control {fields.control:#x}", None, 1, fields)

    # -- key change --------------------------------------------------------------------------

    def _required_sections(self) -> frozenset[int]:
        return _MISTY1_SECTIONS if self.ea == EncryptionAlgorithm.MISTY1 else _STA_SECTIONS

    def _apply_key_section(self, fields: KeyChangeFields) -> MeterResult:
        required = self._required_sections()
        if fields.subclass not in required:
            return self._reject(
                Rejection.FUNCTION, "3rd/4th key sections need a MISTY1 meter", 2, fields
            )
        if fields.subclass == ManagementSubclass.SET_1ST_SECTION_DECODER_KEY:
            assert fields.key_type is not None
            if not key_type_change_allowed(self.key_type, fields.key_type):
                return self._reject(
                    Rejection.KEY_TYPE,
                    f"key type change {self.key_type} -> {fields.key_type} is not allowed",
                    2,
                    fields,
                )
        self.pending_key_sections[fields.subclass] = fields
        if not required <= self.pending_key_sections.keys():
            have = len(self.pending_key_sections)
            return MeterResult(
                True, f"key change section stored ({have} of {len(required)})", None, 2, fields
            )
        self._change_key()
        return MeterResult(True, "decoder key changed", None, 2, fields, key_changed=True)

    def _change_key(self) -> None:
        sections = self.pending_key_sections
        first = sections[ManagementSubclass.SET_1ST_SECTION_DECODER_KEY]
        second = sections[ManagementSubclass.SET_2ND_SECTION_DECODER_KEY]
        assert first.ken_nibble is not None and second.ken_nibble is not None
        assert first.krn is not None and first.key_type is not None
        assert second.tariff_index is not None
        words = [first.key_word]
        if self.ea == EncryptionAlgorithm.MISTY1:
            third = sections[ManagementSubclass.SET_3RD_SECTION_DECODER_KEY]
            fourth = sections[ManagementSubclass.SET_4TH_SECTION_DECODER_KEY]
            assert third.sgc_part is not None and fourth.sgc_part is not None
            words += [third.key_word, fourth.key_word]
            self.sgc = (fourth.sgc_part << 12) | third.sgc_part
        words.append(second.key_word)
        self.previous_decoder_key, self.previous_ea = self.decoder_key, self.ea
        self.decoder_key = b"".join(word.to_bytes(4, "big") for word in words)
        self.key_type = first.key_type
        self.krn = first.krn
        self.tariff_index = second.tariff_index
        self.ken = (first.ken_nibble << 4) | second.ken_nibble
        if first.rollover:
            self.tid_memory = []
            later = [year for year in BASE_YEARS if year > self.base_date]
            if later:
                self.base_date = later[0]
        self.pending_key_sections = {}
