"""Token encoding and decoding (IEC 62055-41 6.3-6.4; reference sts.md §1.7).

Generation: CRC (or CRC_C) over class and payload -> 64-bit data block -> encryption under
the decoder key (class 0 and 2 only) -> class-bit transposition -> 20 digits.  Decoding is
the reverse, and a CRC mismatch after decryption is how a wrong key or a mistyped token
shows up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from utilities.sts.crc import sts_crc
from utilities.sts.digits import from_digits, group_digits, to_digits
from utilities.sts.encryption import decrypt_block, encrypt_block
from utilities.sts.errors import TokenClassError, TokenCRCError
from utilities.sts.layouts import PAYLOAD_MASK, TokenFields, parse_fields
from utilities.sts.sta import REAL_TABLES, StaTables, sta_cipher
from utilities.sts.tid import datetime_from_tid

ENCRYPTED_CLASSES = (0, 2)
_REAL_STA = sta_cipher(REAL_TABLES)


def _check_class(token_class: int) -> None:
    if token_class == 3:
        raise TokenClassError("token class 3 is reserved (IEC 62055-41 6.3.2)")
    if token_class not in (0, 1, 2):
        raise TokenClassError(f"token class must be 0, 1 or 2, got {token_class!r}")


def encode_token(
    decoder_key: bytes,
    token_class: int,
    payload48: int,
    *,
    ea: int | None = None,
    sta_tables: StaTables = REAL_TABLES,
) -> str:
    """The 20-digit token for ``payload48`` (bits 63..16 of the data block).

    The CRC (CRC_C for class 0 subclasses 4..7) is added here.  Class 0 and 2 are encrypted
    with STA for an 8-byte key or MISTY1 for a 16-byte key (``ea=9`` forces DES); class 1
    is not encrypted and ignores the key (``b""`` is fine).
    """
    _check_class(token_class)
    if not (isinstance(payload48, int) and 0 <= payload48 <= PAYLOAD_MASK):
        raise ValueError(f"payload48 must be a 48-bit unsigned integer, got {payload48!r}")
    block = (payload48 << 16) | sts_crc(token_class, payload48)
    if token_class != 1:
        if ea is None and sta_tables is REAL_TABLES and len(decoder_key) == 8:
            block = _REAL_STA.encrypt(int.from_bytes(decoder_key, "big"), block)  # hot path
        else:
            block = encrypt_block(decoder_key, block, ea, sta_tables)
    return to_digits(token_class, block)


def decode_block(
    decoder_key: bytes,
    token: str,
    *,
    ea: int | None = None,
    sta_tables: StaTables = REAL_TABLES,
) -> tuple[int, int]:
    """(class, decrypted 64-bit data block) without checking the CRC."""
    token_class, block = from_digits(token)
    _check_class(token_class)
    if token_class != 1:
        block = decrypt_block(decoder_key, block, ea, sta_tables)
    return token_class, block


def decode_token(
    decoder_key: bytes,
    token: str,
    *,
    ea: int | None = None,
    sta_tables: StaTables = REAL_TABLES,
) -> tuple[int, int]:
    """(token_class, payload48) of a 20-digit token, after checking its CRC.

    Raises :class:`TokenFormatError` for malformed input (not 20 digits, >= 2**66, class 3)
    and :class:`TokenCRCError` when the CRC does not match (wrong key, wrong meter, typo).
    """
    token_class, block = decode_block(decoder_key, token, ea=ea, sta_tables=sta_tables)
    payload48 = block >> 16
    expected = sts_crc(token_class, payload48)
    if block & 0xFFFF != expected:
        raise TokenCRCError(
            f"token {token} failed the CRC check for class {token_class}"
            + (" (wrong decoder key or mistyped token)" if token_class != 1 else "")
        )
    return token_class, payload48


@dataclass(frozen=True)
class Token:
    """A generated token with the values that went into it."""

    digits: str
    token_class: int
    payload48: int
    tid: int | None = None
    rnd: int | None = None
    base_date: int | None = None
    units: int | None = None  # amount actually transferred/set after rounding up
    description: str = ""

    @property
    def subclass(self) -> int:
        return self.payload48 >> 44

    @property
    def crc(self) -> int:
        return sts_crc(self.token_class, self.payload48)

    @property
    def issued_minute(self) -> datetime | None:
        """The minute the TID stands for (None for tokens without a TID)."""
        if self.tid is None or self.base_date is None:
            return None
        return datetime_from_tid(self.tid, self.base_date)

    @property
    def grouped(self) -> str:
        return group_digits(self.digits)

    @property
    def fields(self) -> TokenFields:
        return parse_fields(self.token_class, self.payload48)

    def __str__(self) -> str:
        return self.digits
