"""PINs at rest: AES-GCM under the keyring's data keys, plus a keyed hash for duplicates.

A PIN's ciphertext is bound to its row by associated data (supplier id and serial number),
so a blob copied onto another voucher does not decrypt. The keyed hash (BLAKE2b under the
keyring's ``voucher-pin-hash`` secret) lets a unique index refuse a PIN seen before without
ever storing it in clear; that secret never rotates (hashes must stay comparable) and is
re-wrapped with the data keys when the master key changes.

PINs travel as ``bytes`` of ASCII digits inside this package and become text only in the
sale response and an authorised reprint.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from vending.keyring import DataKeyEncryptor, Keyring
from vending.storage.database import Txn
from vending.vouchers.tables import PIN_HASH_BYTES

PIN_HASH_SECRET = "voucher-pin-hash"

PinHasher = Callable[[bytes], bytes]


def pin_aad(supplier_id: int, serial_no: bytes) -> bytes:
    """Associated data of a PIN ciphertext: the voucher's identity."""
    return b"evd-voucher-pin:%d:%s" % (supplier_id, serial_no)


def pin_hasher(txn: Txn, keyring: Keyring) -> PinHasher:
    """The keyed hash of PINs for this database (its key is created on first use)."""
    key = keyring.secret(txn, PIN_HASH_SECRET)
    blake2b = hashlib.blake2b

    def hash_pin(pin: bytes) -> bytes:
        return blake2b(pin, key=key, digest_size=PIN_HASH_BYTES).digest()

    return hash_pin


class PinSealer:
    """Encrypts and hashes the PINs of one import (one data key for the whole file)."""

    __slots__ = ("_encryptor", "hash_pin")

    def __init__(self, txn: Txn, keyring: Keyring) -> None:
        self._encryptor: DataKeyEncryptor = keyring.encryptor(txn)
        self.hash_pin = pin_hasher(txn, keyring)

    @property
    def key_id(self) -> int:
        return self._encryptor.key_id

    def encrypt(self, supplier_id: int, serial_no: bytes, pin: bytes) -> bytes:
        return self._encryptor.encrypt(pin, pin_aad(supplier_id, serial_no))


def reveal_pin(
    txn: Txn, keyring: Keyring, *, supplier_id: int, serial_no: str, key_id: int, blob: bytes
) -> str:
    """The PIN in clear: only for the buyer's sale response or an authorised reprint."""
    return keyring.decrypt(
        txn, key_id, bytes(blob), aad=pin_aad(supplier_id, serial_no.encode("ascii"))
    ).decode("ascii")
