"""Standard Transfer Algorithm, EA07 (IEC 62055-41 6.5.4; reference sts.md §2.1).

STA encrypts the 64-bit data block under a 64-bit decoder key: key alignment (complement,
rotate right 12), then 16 rounds of

* substitution of each of the 16 nibbles with one of two 4-bit tables, chosen by the most
  significant bit of the corresponding nibble of the round key,
* a 64-bit bit permutation (source bit ``j`` goes to destination bit ``P[j]``),
* rotation of the key one bit to the left.

The tables are controlled by the STS Association.  :data:`REAL_TABLES` are the ones found
in public repositories, which reproduce every published vector; :data:`SAMPLE_TABLES` are
printed in IEC 62055-41 for tests only.  Both are :class:`StaTables` values and every entry
point takes the table set as a parameter.

Speed: a round is computed as eight table lookups, one per byte of the block.  For byte
position ``i`` and the two key bits that select the tables of its two nibbles there is a
256-entry table holding ``P(S(byte) << 8i)``: substitution and permutation fused.  The
per-key schedule (which of the four tables each byte uses in each round) is cached.
Decryption fuses the inverse substitution of a round with the inverse permutation of the
next one the same way.  ``utilities.sts._reference`` keeps the bit-by-bit definition.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import getitem

MASK64 = (1 << 64) - 1
ROUNDS = 16
_KEY_ALIGNMENT_ROTATION = 12
_SCHEDULE_CACHE_LIMIT = 1024  # about 2 KB per cached key


def rotate_left64(value: int, count: int) -> int:
    count %= 64
    return ((value << count) | (value >> (64 - count))) & MASK64


def rotate_right64(value: int, count: int) -> int:
    return rotate_left64(value, 64 - count % 64)


def _inverse(table: tuple[int, ...]) -> tuple[int, ...]:
    inverse = [0] * len(table)
    for position, value in enumerate(table):
        inverse[value] = position
    return tuple(inverse)


@dataclass(frozen=True, eq=False)  # identity hash: table sets key the cipher cache cheaply
class StaTables:
    """One STA table set: two 4-bit substitution tables and the 64-bit permutation."""

    name: str
    substitution1: tuple[int, ...]
    substitution2: tuple[int, ...]
    permutation: tuple[int, ...]
    substitution1_inverse: tuple[int, ...] = field(init=False, repr=False)
    substitution2_inverse: tuple[int, ...] = field(init=False, repr=False)
    permutation_inverse: tuple[int, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for label, table, size in (
            ("substitution1", self.substitution1, 16),
            ("substitution2", self.substitution2, 16),
            ("permutation", self.permutation, 64),
        ):
            if sorted(table) != list(range(size)):
                raise ValueError(f"STA {self.name} {label} is not a permutation of 0..{size - 1}")
        object.__setattr__(self, "substitution1_inverse", _inverse(self.substitution1))
        object.__setattr__(self, "substitution2_inverse", _inverse(self.substitution2))
        object.__setattr__(self, "permutation_inverse", _inverse(self.permutation))


REAL_TABLES = StaTables(
    name="real",
    substitution1=(14, 10, 7, 9, 12, 3, 2, 5, 13, 0, 15, 1, 4, 8, 6, 11),
    substitution2=(12, 8, 2, 13, 7, 6, 1, 3, 11, 5, 9, 15, 0, 4, 10, 14),
    permutation=(
        55, 42, 10, 18, 24, 21, 44, 35, 2, 22, 56, 43, 27, 58, 9, 50,
        6, 36, 12, 61, 37, 38, 53, 16, 62, 3, 7, 4, 32, 20, 63, 25,
        51, 52, 54, 33, 49, 19, 46, 29, 48, 31, 23, 30, 41, 28, 13, 5,
        40, 60, 39, 11, 15, 17, 1, 0, 57, 34, 59, 8, 47, 14, 45, 26,
    ),
)  # fmt: skip

SAMPLE_TABLES = StaTables(
    name="sample",
    substitution1=(12, 10, 8, 4, 3, 15, 0, 2, 14, 1, 5, 13, 6, 9, 7, 11),
    substitution2=(6, 9, 7, 4, 3, 10, 12, 14, 2, 13, 1, 15, 0, 11, 8, 5),
    permutation=(
        29, 27, 34, 9, 16, 62, 55, 2, 40, 49, 38, 25, 33, 61, 30, 23,
        1, 41, 21, 57, 42, 15, 5, 58, 19, 53, 22, 17, 48, 28, 24, 39,
        3, 60, 36, 14, 11, 52, 54, 12, 31, 51, 10, 26, 0, 45, 37, 43,
        44, 6, 59, 4, 7, 35, 56, 50, 13, 18, 32, 47, 46, 63, 20, 8,
    ),
)  # fmt: skip


def permute(value: int, permutation: tuple[int, ...]) -> int:
    """Move source bit ``j`` of ``value`` to bit ``permutation[j]``."""
    result = 0
    for source, destination in enumerate(permutation):
        if (value >> source) & 1:
            result |= 1 << destination
    return result


def aligned_key(key: int) -> int:
    """Key alignment: complement, then rotate right 12 bits (the round-0 key)."""
    return rotate_right64(~key & MASK64, _KEY_ALIGNMENT_ROTATION)


# Each byte-position table family is indexed by a 2-bit selector: bit 0 = the key bit that
# chooses the table of the low nibble (key bit 8i+3), bit 1 = that of the high nibble
# (key bit 8i+7).  A set bit selects substitution table 2.
Table256 = tuple[int, ...]
RoundTables = tuple[Table256, ...]  # eight tables, one per block byte


def _byte_substitutions(s1: tuple[int, ...], s2: tuple[int, ...]) -> list[list[int]]:
    """For each selector, the 256-entry byte substitution."""
    by_selector = []
    for selector in range(4):
        low_table = s2 if selector & 1 else s1
        high_table = s2 if selector & 2 else s1
        by_selector.append([low_table[b & 15] | (high_table[b >> 4] << 4) for b in range(256)])
    return by_selector


_SELECT_LOW_NIBBLE = 0x0101010101010101
_SELECT_HIGH_NIBBLE = 0x0202020202020202


def _round_selectors(aligned: int) -> list[bytes]:
    """Per round, 8 selector bytes (one per block byte): bit 0 from key bit 8i+3, bit 1
    from key bit 8i+7 of that round's key.  Round r's key is the aligned key rotated left
    by r; gathering both bits of all 8 bytes with two masks avoids a loop per byte."""
    doubled = aligned | (aligned << 64)  # rotate left by r == (doubled >> (64 - r)) & MASK64
    selectors = []
    for r in range(ROUNDS):
        round_key = (doubled >> (64 - r)) & MASK64
        packed = ((round_key >> 3) & _SELECT_LOW_NIBBLE) | ((round_key >> 6) & _SELECT_HIGH_NIBBLE)
        selectors.append(packed.to_bytes(8, "little"))
    return selectors


class StaCipher:
    """STA with one table set; :meth:`encrypt` / :meth:`decrypt` work on 64-bit integers."""

    def __init__(self, tables: StaTables = REAL_TABLES) -> None:
        self.tables = tables
        forward = _byte_substitutions(tables.substitution1, tables.substitution2)
        backward = _byte_substitutions(tables.substitution1_inverse, tables.substitution2_inverse)
        p, p_inv = tables.permutation, tables.permutation_inverse
        # fused[i][selector][byte] = P(S(byte) << 8i)
        self._fused_encrypt = [
            [tuple(permute(s << (8 * i), p) for s in forward[sel]) for sel in range(4)]
            for i in range(8)
        ]
        # fused_decrypt[i][selector][byte] = Pinv(Sinv(byte) << 8i)
        self._fused_decrypt = [
            [tuple(permute(s << (8 * i), p_inv) for s in backward[sel]) for sel in range(4)]
            for i in range(8)
        ]
        # final inverse substitution without permutation, and the initial inverse permutation
        self._substitute_decrypt = [
            [tuple(s << (8 * i) for s in backward[sel]) for sel in range(4)] for i in range(8)
        ]
        self._permute_decrypt = tuple(
            tuple(permute(b << (8 * i), p_inv) for b in range(256)) for i in range(8)
        )
        self._encrypt_schedules: dict[int, tuple[RoundTables, ...]] = {}
        self._decrypt_schedules: dict[int, tuple[tuple[RoundTables, ...], RoundTables]] = {}

    # -- key schedules -------------------------------------------------------------------

    def _encrypt_schedule(self, key: int) -> tuple[RoundTables, ...]:
        schedule = self._encrypt_schedules.get(key)
        if schedule is None:
            rows = self._fused_encrypt
            schedule = tuple(
                tuple(map(getitem, rows, selectors))
                for selectors in _round_selectors(aligned_key(key))
            )
            if len(self._encrypt_schedules) >= _SCHEDULE_CACHE_LIMIT:
                self._encrypt_schedules.clear()
            self._encrypt_schedules[key] = schedule
        return schedule

    def _decrypt_schedule(self, key: int) -> tuple[tuple[RoundTables, ...], RoundTables]:
        schedule = self._decrypt_schedules.get(key)
        if schedule is None:
            selectors = _round_selectors(aligned_key(key))
            rows = self._fused_decrypt
            fused = tuple(tuple(map(getitem, rows, selectors[r])) for r in range(ROUNDS - 1, 0, -1))
            last = tuple(map(getitem, self._substitute_decrypt, selectors[0]))
            schedule = (fused, last)
            if len(self._decrypt_schedules) >= _SCHEDULE_CACHE_LIMIT:
                self._decrypt_schedules.clear()
            self._decrypt_schedules[key] = schedule
        return schedule

    # -- block operations ------------------------------------------------------------------

    def encrypt(self, key: int, block: int) -> int:
        """Encrypt a 64-bit block under a 64-bit key (both big-endian integers)."""
        d = block
        for t0, t1, t2, t3, t4, t5, t6, t7 in self._encrypt_schedule(key):
            # The eight bytes in one call (least significant first): a third faster than
            # eight shift-and-mask pairs, and this runs for every token.
            b0, b1, b2, b3, b4, b5, b6, b7 = d.to_bytes(8, "little")
            d = t0[b0] | t1[b1] | t2[b2] | t3[b3] | t4[b4] | t5[b5] | t6[b6] | t7[b7]
        return d

    def decrypt(self, key: int, block: int) -> int:
        """Inverse of :meth:`encrypt`."""
        fused, (t0, t1, t2, t3, t4, t5, t6, t7) = self._decrypt_schedule(key)
        p0, p1, p2, p3, p4, p5, p6, p7 = self._permute_decrypt
        d = block
        d = (
            p0[d & 0xFF]
            | p1[(d >> 8) & 0xFF]
            | p2[(d >> 16) & 0xFF]
            | p3[(d >> 24) & 0xFF]
            | p4[(d >> 32) & 0xFF]
            | p5[(d >> 40) & 0xFF]
            | p6[(d >> 48) & 0xFF]
            | p7[d >> 56]
        )
        for f0, f1, f2, f3, f4, f5, f6, f7 in fused:
            d = (
                f0[d & 0xFF]
                | f1[(d >> 8) & 0xFF]
                | f2[(d >> 16) & 0xFF]
                | f3[(d >> 24) & 0xFF]
                | f4[(d >> 32) & 0xFF]
                | f5[(d >> 40) & 0xFF]
                | f6[(d >> 48) & 0xFF]
                | f7[d >> 56]
            )
        return (
            t0[d & 0xFF]
            | t1[(d >> 8) & 0xFF]
            | t2[(d >> 16) & 0xFF]
            | t3[(d >> 24) & 0xFF]
            | t4[(d >> 32) & 0xFF]
            | t5[(d >> 40) & 0xFF]
            | t6[(d >> 48) & 0xFF]
            | t7[d >> 56]
        )


_CIPHERS: dict[StaTables, StaCipher] = {}


def sta_cipher(tables: StaTables = REAL_TABLES) -> StaCipher:
    """The shared cipher object for a table set (its fused tables are built once)."""
    cipher = _CIPHERS.get(tables)
    if cipher is None:
        cipher = _CIPHERS[tables] = StaCipher(tables)
    return cipher


def _key_int(key: bytes | int) -> int:
    if isinstance(key, int):
        if not 0 <= key <= MASK64:
            raise ValueError("STA key must be a 64-bit value")
        return key
    if len(key) != 8:
        raise ValueError(f"STA key must be 8 bytes, got {len(key)}")
    return int.from_bytes(key, "big")


def sta_encrypt(key: bytes | int, block: int, tables: StaTables = REAL_TABLES) -> int:
    """EA07 encryption of a 64-bit block; key bytes in natural (big-endian) order."""
    return sta_cipher(tables).encrypt(_key_int(key), block)


def sta_decrypt(key: bytes | int, block: int, tables: StaTables = REAL_TABLES) -> int:
    """EA07 decryption of a 64-bit block."""
    return sta_cipher(tables).decrypt(_key_int(key), block)
