"""Slow, literal reference implementations used to check the fast ones (tests only).

These follow the definitions in IEC 62055-41 6.3.7 (CRC) and 6.5.4 (STA) bit by bit, as
restated in the reference sheet sts.md §1.2 and §2.1, with no tables or fusion, so that a
property test can compare them with :mod:`utilities.sts.crc` and :mod:`utilities.sts.sta`.
"""

from __future__ import annotations

from utilities.sts.sta import REAL_TABLES, StaTables

_MASK64 = (1 << 64) - 1


def _rol(value: int, count: int) -> int:
    return ((value << count) | (value >> (64 - count))) & _MASK64


def _ror(value: int, count: int) -> int:
    return _rol(value, 64 - count)


def reference_crc(value50: int, *, currency: bool = False) -> int:
    """Bit-serial CRC-16 (poly 8005 reflected, init FFFF) over 7 (or 8) bytes, swapped."""
    data = value50.to_bytes(7, "big") + (b"\x01" if currency else b"")
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return ((crc & 0xFF) << 8) | (crc >> 8)


def reference_sta_encrypt(key: int, block: int, tables: StaTables = REAL_TABLES) -> int:
    round_key = _ror(~key & _MASK64, 12)
    data = block
    for _ in range(16):
        substituted = 0
        for nibble_index in range(16):
            nibble = (data >> (4 * nibble_index)) & 0xF
            use_second = (round_key >> (4 * nibble_index + 3)) & 1
            table = tables.substitution2 if use_second else tables.substitution1
            substituted |= table[nibble] << (4 * nibble_index)
        data = 0
        for source in range(64):
            if (substituted >> source) & 1:
                data |= 1 << tables.permutation[source]
        round_key = _rol(round_key, 1)
    return data


def reference_sta_decrypt(key: int, block: int, tables: StaTables = REAL_TABLES) -> int:
    round_key = _rol(_ror(~key & _MASK64, 12), 15)
    data = block
    for _ in range(16):
        unpermuted = 0
        for source in range(64):
            if (data >> tables.permutation[source]) & 1:
                unpermuted |= 1 << source
        data = 0
        for nibble_index in range(16):
            nibble = (unpermuted >> (4 * nibble_index)) & 0xF
            use_second = (round_key >> (4 * nibble_index + 3)) & 1
            table = tables.substitution2_inverse if use_second else tables.substitution1_inverse
            data |= table[nibble] << (4 * nibble_index)
        round_key = _ror(round_key, 1)
    return data
