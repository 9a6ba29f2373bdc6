"""Single DES (FIPS PUB 46-3) for DKGA-02 and the deprecated EA09 (IEC 62055-41 6.5.3.4,
6.5.5; reference sts.md §2.2).

``cryptography`` only offers DES as TripleDES; EDE with K1 = K2 = K3 is exactly single DES.
The ``decrepit`` location is the supported one since cryptography 43 (the old
``primitives`` alias is gone in 48+), and a 24-byte key avoids the single-key deprecation
warning.  DES ignores the parity bit of each key byte, so STS vending keys work as they are.
"""

from __future__ import annotations

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

_ECB = modes.ECB()


def _check(key: bytes, block: bytes) -> None:
    if len(key) != 8:
        raise ValueError(f"DES key must be 8 bytes, got {len(key)}")
    if len(block) != 8:
        raise ValueError(f"DES block must be 8 bytes, got {len(block)}")


def des_encrypt_block(key: bytes, block: bytes) -> bytes:
    """DES-ECB encryption of one 8-byte block."""
    _check(key, block)
    encryptor = Cipher(TripleDES(key * 3), _ECB).encryptor()
    return encryptor.update(block) + encryptor.finalize()


def des_decrypt_block(key: bytes, block: bytes) -> bytes:
    """DES-ECB decryption of one 8-byte block."""
    _check(key, block)
    decryptor = Cipher(TripleDES(key * 3), _ECB).decryptor()
    return decryptor.update(block) + decryptor.finalize()


def dea_encrypt(key: bytes, block: int) -> int:
    """EA09: the data block as 8 big-endian bytes, DES-ECB under the decoder key."""
    return int.from_bytes(des_encrypt_block(key, block.to_bytes(8, "big")), "big")


def dea_decrypt(key: bytes, block: int) -> int:
    return int.from_bytes(des_decrypt_block(key, block.to_bytes(8, "big")), "big")
