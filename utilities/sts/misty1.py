"""MISTY1 block cipher, EA11 (IEC 62055-41 6.5.6 via ISO/IEC 18033-3; RFC 2994).

STS uses plain MISTY1: the 16 decoder-key bytes in order are the key, the data block is
encrypted as 8 big-endian bytes (reference sts.md §2.3).  Written from the RFC 2994
description: 8 rounds of the FO function (three FI calls each) with FL layers every two
rounds, and a key schedule that expands the eight 16-bit key words with FI.

Speed: the first half of FI (two S-box steps) does not depend on the key, so it is
precomputed for all 65536 inputs; per-key schedules (the 32 expanded key words) are cached.
"""

from __future__ import annotations

S7 = (
    27, 50, 51, 90, 59, 16, 23, 84, 91, 26, 114, 115, 107, 44, 102, 73,
    31, 36, 19, 108, 55, 46, 63, 74, 93, 15, 64, 86, 37, 81, 28, 4,
    11, 70, 32, 13, 123, 53, 68, 66, 43, 30, 65, 20, 75, 121, 21, 111,
    14, 85, 9, 54, 116, 12, 103, 83, 40, 10, 126, 56, 2, 7, 96, 41,
    25, 18, 101, 47, 48, 57, 8, 104, 95, 120, 42, 76, 100, 69, 117, 61,
    89, 72, 3, 87, 124, 79, 98, 60, 29, 33, 94, 39, 106, 112, 77, 58,
    1, 109, 110, 99, 24, 119, 35, 5, 38, 118, 0, 49, 45, 122, 127, 97,
    80, 34, 17, 6, 71, 22, 82, 78, 113, 62, 105, 67, 52, 92, 88, 125,
)  # fmt: skip

S9 = (
    451, 203, 339, 415, 483, 233, 251, 53, 385, 185, 279, 491, 307, 9, 45, 211,
    199, 330, 55, 126, 235, 356, 403, 472, 163, 286, 85, 44, 29, 418, 355, 280,
    331, 338, 466, 15, 43, 48, 314, 229, 273, 312, 398, 99, 227, 200, 500, 27,
    1, 157, 248, 416, 365, 499, 28, 326, 125, 209, 130, 490, 387, 301, 244, 414,
    467, 221, 482, 296, 480, 236, 89, 145, 17, 303, 38, 220, 176, 396, 271, 503,
    231, 364, 182, 249, 216, 337, 257, 332, 259, 184, 340, 299, 430, 23, 113, 12,
    71, 88, 127, 420, 308, 297, 132, 349, 413, 434, 419, 72, 124, 81, 458, 35,
    317, 423, 357, 59, 66, 218, 402, 206, 193, 107, 159, 497, 300, 388, 250, 406,
    481, 361, 381, 49, 384, 266, 148, 474, 390, 318, 284, 96, 373, 463, 103, 281,
    101, 104, 153, 336, 8, 7, 380, 183, 36, 25, 222, 295, 219, 228, 425, 82,
    265, 144, 412, 449, 40, 435, 309, 362, 374, 223, 485, 392, 197, 366, 478, 433,
    195, 479, 54, 238, 494, 240, 147, 73, 154, 438, 105, 129, 293, 11, 94, 180,
    329, 455, 372, 62, 315, 439, 142, 454, 174, 16, 149, 495, 78, 242, 509, 133,
    253, 246, 160, 367, 131, 138, 342, 155, 316, 263, 359, 152, 464, 489, 3, 510,
    189, 290, 137, 210, 399, 18, 51, 106, 322, 237, 368, 283, 226, 335, 344, 305,
    327, 93, 275, 461, 121, 353, 421, 377, 158, 436, 204, 34, 306, 26, 232, 4,
    391, 493, 407, 57, 447, 471, 39, 395, 198, 156, 208, 334, 108, 52, 498, 110,
    202, 37, 186, 401, 254, 19, 262, 47, 429, 370, 475, 192, 267, 470, 245, 492,
    269, 118, 276, 427, 117, 268, 484, 345, 84, 287, 75, 196, 446, 247, 41, 164,
    14, 496, 119, 77, 378, 134, 139, 179, 369, 191, 270, 260, 151, 347, 352, 360,
    215, 187, 102, 462, 252, 146, 453, 111, 22, 74, 161, 313, 175, 241, 400, 10,
    426, 323, 379, 86, 397, 358, 212, 507, 333, 404, 410, 135, 504, 291, 167, 440,
    321, 60, 505, 320, 42, 341, 282, 417, 408, 213, 294, 431, 97, 302, 343, 476,
    114, 394, 170, 150, 277, 239, 69, 123, 141, 325, 83, 95, 376, 178, 46, 32,
    469, 63, 457, 487, 428, 68, 56, 20, 177, 363, 171, 181, 90, 386, 456, 468,
    24, 375, 100, 207, 109, 256, 409, 304, 346, 5, 288, 443, 445, 224, 79, 214,
    319, 452, 298, 21, 6, 255, 411, 166, 67, 136, 80, 351, 488, 289, 115, 382,
    188, 194, 201, 371, 393, 501, 116, 460, 486, 424, 405, 31, 65, 13, 442, 50,
    61, 465, 128, 168, 87, 441, 354, 328, 217, 261, 98, 122, 33, 511, 274, 264,
    448, 169, 285, 432, 422, 205, 243, 92, 258, 91, 473, 324, 502, 173, 165, 58,
    459, 310, 383, 70, 225, 30, 477, 230, 311, 506, 389, 140, 143, 64, 437, 190,
    120, 0, 172, 272, 350, 292, 2, 444, 162, 234, 112, 508, 278, 348, 76, 450,
)  # fmt: skip

MASK32 = 0xFFFFFFFF
_SCHEDULE_CACHE_LIMIT = 1024  # about 2 KB per cached key


def _fi_unkeyed(x: int) -> int:
    """First half of FI: both S-box steps that come before the subkey is mixed in."""
    d9 = x >> 7
    d7 = x & 0x7F
    d9 = S9[d9] ^ d7
    d7 = S7[d7] ^ (d9 & 0x7F)
    return (d7 << 9) | d9


_FI_UNKEYED = tuple(_fi_unkeyed(x) for x in range(1 << 16))


def fi(x: int, subkey: int) -> int:
    """The 16-bit FI function of RFC 2994."""
    y = _FI_UNKEYED[x] ^ subkey  # d7 ^= KI >> 9 and d9 ^= KI & 0x1FF in one XOR
    d7 = y >> 9
    return (d7 << 9) | (S9[y & 0x1FF] ^ d7)


def expand_key(key: bytes) -> tuple[int, ...]:
    """The 32 expanded key words EK[0..31] of RFC 2994 (EK[0..7] are the key words)."""
    if len(key) != 16:
        raise ValueError(f"MISTY1 key must be 16 bytes, got {len(key)}")
    ek = [int.from_bytes(key[2 * i : 2 * i + 2], "big") for i in range(8)] + [0] * 24
    for i in range(8):
        ek[i + 8] = fi(ek[i], ek[(i + 1) % 8])
        ek[i + 16] = ek[i + 8] & 0x1FF
        ek[i + 24] = ek[i + 8] >> 9
    return tuple(ek)


class _Schedule:
    """Round subkeys laid out in the order the round functions consume them."""

    __slots__ = ("fl", "fo")

    def __init__(self, ek: tuple[int, ...]) -> None:
        # FI subkey KI = KIij7 << 9 | KIij9, i.e. simply EK[8 + j] (16-bit) - see expand_key.
        self.fo = tuple(
            (
                ek[k],
                ek[(k + 5) % 8 + 8],
                ek[(k + 2) % 8],
                ek[(k + 1) % 8 + 8],
                ek[(k + 7) % 8],
                ek[(k + 3) % 8 + 8],
                ek[(k + 4) % 8],
            )
            for k in range(8)
        )
        fl = []
        for k in range(10):
            if k % 2 == 0:
                half = k // 2
                fl.append((ek[half], ek[(half + 6) % 8 + 8]))  # (AND key, OR key)
            else:
                half = (k - 1) // 2
                fl.append((ek[(half + 2) % 8 + 8], ek[(half + 4) % 8]))
        self.fl = tuple(fl)


def _fo(x: int, keys: tuple[int, ...]) -> int:
    ko1, ki1, ko2, ki2, ko3, ki3, ko4 = keys
    t0 = x >> 16
    t1 = x & 0xFFFF
    t0 = fi(t0 ^ ko1, ki1) ^ t1
    t1 = fi(t1 ^ ko2, ki2) ^ t0
    t0 = fi(t0 ^ ko3, ki3) ^ t1
    t1 ^= ko4
    return (t1 << 16) | t0


def _fl(x: int, keys: tuple[int, int]) -> int:
    and_key, or_key = keys
    d0 = x >> 16
    d1 = (x & 0xFFFF) ^ ((x >> 16) & and_key)
    d0 ^= d1 | or_key
    return (d0 << 16) | d1


def _fl_inverse(x: int, keys: tuple[int, int]) -> int:
    and_key, or_key = keys
    d1 = x & 0xFFFF
    d0 = (x >> 16) ^ (d1 | or_key)
    d1 ^= d0 & and_key
    return (d0 << 16) | d1


class Misty1:
    """MISTY1 with a per-key schedule cache; blocks are 64-bit big-endian integers."""

    def __init__(self) -> None:
        self._schedules: dict[bytes, _Schedule] = {}

    def _schedule(self, key: bytes) -> _Schedule:
        schedule = self._schedules.get(key)
        if schedule is None:
            schedule = _Schedule(expand_key(key))
            if len(self._schedules) >= _SCHEDULE_CACHE_LIMIT:
                self._schedules.clear()
            self._schedules[bytes(key)] = schedule
        return schedule

    def encrypt(self, key: bytes, block: int) -> int:
        schedule = self._schedule(key)
        fo, fl = schedule.fo, schedule.fl
        d0 = block >> 32
        d1 = block & MASK32
        for r in range(0, 8, 2):
            d0 = _fl(d0, fl[r])
            d1 = _fl(d1, fl[r + 1])
            d1 ^= _fo(d0, fo[r])
            d0 ^= _fo(d1, fo[r + 1])
        d0 = _fl(d0, fl[8])
        d1 = _fl(d1, fl[9])
        return (d1 << 32) | d0

    def decrypt(self, key: bytes, block: int) -> int:
        schedule = self._schedule(key)
        fo, fl = schedule.fo, schedule.fl
        d1 = block >> 32
        d0 = block & MASK32
        d0 = _fl_inverse(d0, fl[8])
        d1 = _fl_inverse(d1, fl[9])
        for r in range(6, -1, -2):
            d0 ^= _fo(d1, fo[r + 1])
            d1 ^= _fo(d0, fo[r])
            d0 = _fl_inverse(d0, fl[r])
            d1 = _fl_inverse(d1, fl[r + 1])
        return (d0 << 32) | d1


_MISTY1 = Misty1()


def misty1_encrypt(key: bytes, block: int) -> int:
    """EA11 encryption of a 64-bit block under a 16-byte key."""
    return _MISTY1.encrypt(key, block)


def misty1_decrypt(key: bytes, block: int) -> int:
    """EA11 decryption of a 64-bit block under a 16-byte key."""
    return _MISTY1.decrypt(key, block)
