"""CRC-16 of STS tokens (IEC 62055-41 6.3.7; reference sts.md §1.2).

Generator x^16 + x^15 + x^2 + 1, initial value FFFF, computed over the 50-bit value
``class << 48 | bits 63..16 of the data block`` left-padded to 7 bytes (56 bits), MSB byte
first, with the reflected (MODBUS) bit order; the two result bytes are then swapped and the
result occupies bits 15..0 of the data block.  Class 0 subclasses 4..7 (currency) use CRC_C:
the same, with one byte 01 hex appended to the message before calculation.

The fast path exploits that a CRC with a fixed initial value over a fixed-length message
is an affine function of the message bits: ``crc(m) = crc(0) ^ L(m)`` and ``L`` is linear,
so it splits into one 256-entry table per byte position.  Seven lookups and XORs replace
56 bit-steps.  :func:`crc16_modbus` is the plain byte-wise definition used to build and to
check those tables.
"""

from __future__ import annotations

_REFLECTED_POLY = 0xA001  # 0x8005 (x^16 + x^15 + x^2 + 1) bit-reversed
_MESSAGE_BYTES = 7
_CURRENCY_SUFFIX = b"\x01"


def _make_byte_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _REFLECTED_POLY if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_BYTE_TABLE = _make_byte_table()


def crc16_modbus(data: bytes, initial: int = 0xFFFF) -> int:
    """CRC-16/MODBUS of ``data`` (reflected, init FFFF, no final XOR), not byte-swapped."""
    crc = initial
    for byte in data:
        crc = (crc >> 8) ^ _BYTE_TABLE[(crc ^ byte) & 0xFF]
    return crc


def swap_bytes16(value: int) -> int:
    return ((value & 0xFF) << 8) | (value >> 8)


def crc16_of_value(value50: int, *, currency: bool = False) -> int:
    """Byte-at-a-time STS CRC of a 50-bit value (the readable definition)."""
    data = value50.to_bytes(_MESSAGE_BYTES, "big")
    if currency:
        data += _CURRENCY_SUFFIX
    return swap_bytes16(crc16_modbus(data))


def _make_position_tables(currency: bool) -> tuple[int, tuple[tuple[int, ...], ...]]:
    """Constant term and per-byte-position linear tables, already byte-swapped."""
    constant = crc16_of_value(0, currency=currency)
    tables = []
    for position in range(_MESSAGE_BYTES):  # position 0 = least significant byte
        tables.append(
            tuple(
                crc16_of_value(byte << (8 * position), currency=currency) ^ constant
                for byte in range(256)
            )
        )
    return constant, tuple(tables)


_PLAIN_CONSTANT, _PLAIN_TABLES = _make_position_tables(currency=False)
_CURRENCY_CONSTANT, _CURRENCY_TABLES = _make_position_tables(currency=True)


def crc16_fast(value50: int, *, currency: bool = False) -> int:
    """Table-driven STS CRC (or CRC_C) of a 50-bit value; equals :func:`crc16_of_value`."""
    if currency:
        constant, (t0, t1, t2, t3, t4, t5, t6) = _CURRENCY_CONSTANT, _CURRENCY_TABLES
    else:
        constant, (t0, t1, t2, t3, t4, t5, t6) = _PLAIN_CONSTANT, _PLAIN_TABLES
    return (
        constant
        ^ t0[value50 & 0xFF]
        ^ t1[(value50 >> 8) & 0xFF]
        ^ t2[(value50 >> 16) & 0xFF]
        ^ t3[(value50 >> 24) & 0xFF]
        ^ t4[(value50 >> 32) & 0xFF]
        ^ t5[(value50 >> 40) & 0xFF]
        ^ t6[(value50 >> 48) & 0xFF]
    )


def uses_crc_c(token_class: int, payload48: int) -> bool:
    """CRC_C applies to class 0 (TransferCredit) subclasses 4..7, the currency transfers."""
    return token_class == 0 and 4 <= (payload48 >> 44) <= 7


def sts_crc(token_class: int, payload48: int) -> int:
    """The 16-bit CRC for bits 15..0 of a token's data block.

    ``payload48`` is bits 63..16 of the data block (subclass and fields); CRC_C is chosen
    automatically for currency credit tokens.
    """
    value50 = (token_class << 48) | payload48
    return crc16_fast(value50, currency=uses_crc_c(token_class, payload48))
