"""Encryption algorithm selection (IEC 62055-41 6.5.1; reference sts.md §2).

Class 0 and class 2 data blocks are encrypted under the meter's decoder key with the
meter's encryption algorithm (EA); class 1 is sent in clear.  EA07 (STA) and EA11 (MISTY1)
are what STS meters use; EA09 (single DES) is deprecated and only offered on request.
"""

from __future__ import annotations

from enum import IntEnum

from utilities.sts.des import dea_decrypt, dea_encrypt
from utilities.sts.misty1 import misty1_decrypt, misty1_encrypt
from utilities.sts.sta import REAL_TABLES, StaTables, sta_cipher


class EncryptionAlgorithm(IntEnum):
    STA = 7  # EA07, 64-bit key
    DEA = 9  # EA09, 64-bit key, deprecated
    MISTY1 = 11  # EA11, 128-bit key


_KEY_LENGTH = {
    EncryptionAlgorithm.STA: 8,
    EncryptionAlgorithm.DEA: 8,
    EncryptionAlgorithm.MISTY1: 16,
}


def algorithm_for_key(decoder_key: bytes) -> EncryptionAlgorithm:
    """The default EA for a key: STA for 8 bytes, MISTY1 for 16 (EA09 only on request)."""
    if len(decoder_key) == 8:
        return EncryptionAlgorithm.STA
    if len(decoder_key) == 16:
        return EncryptionAlgorithm.MISTY1
    raise ValueError(
        f"decoder key must be 8 bytes (STA) or 16 bytes (MISTY1), got {len(decoder_key)}"
    )


def resolve_algorithm(decoder_key: bytes, ea: int | None) -> EncryptionAlgorithm:
    if ea is None:
        return algorithm_for_key(decoder_key)
    try:
        algorithm = EncryptionAlgorithm(ea)
    except ValueError:
        raise ValueError(f"unsupported encryption algorithm EA{ea:02d}") from None
    if len(decoder_key) != _KEY_LENGTH[algorithm]:
        raise ValueError(
            f"EA{algorithm.value:02d} needs a {_KEY_LENGTH[algorithm]}-byte decoder key, "
            f"got {len(decoder_key)} bytes"
        )
    return algorithm


def encrypt_block(
    decoder_key: bytes,
    block: int,
    ea: int | None = None,
    sta_tables: StaTables = REAL_TABLES,
) -> int:
    algorithm = resolve_algorithm(decoder_key, ea)
    if algorithm is EncryptionAlgorithm.STA:
        return sta_cipher(sta_tables).encrypt(int.from_bytes(decoder_key, "big"), block)
    if algorithm is EncryptionAlgorithm.MISTY1:
        return misty1_encrypt(decoder_key, block)
    return dea_encrypt(decoder_key, block)


def decrypt_block(
    decoder_key: bytes,
    block: int,
    ea: int | None = None,
    sta_tables: StaTables = REAL_TABLES,
) -> int:
    algorithm = resolve_algorithm(decoder_key, ea)
    if algorithm is EncryptionAlgorithm.STA:
        return sta_cipher(sta_tables).decrypt(int.from_bytes(decoder_key, "big"), block)
    if algorithm is EncryptionAlgorithm.MISTY1:
        return misty1_decrypt(decoder_key, block)
    return dea_decrypt(decoder_key, block)
