"""Vending keys, one per supply group and key revision (SGC + KRN), encrypted at rest.

The key material is AES-GCM encrypted under the keyring's active data key with the
associated data ``evd-vending-key:<sgc>:<krn>`` (a ciphertext copied into another row does
not decrypt). Only :mod:`utilities.engine` decrypts it, inside the transaction that derives
a decoder key; nothing here returns or logs key material (:class:`VendingKeyInfo` has none).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Row, bindparam, insert, select, update

from utilities.errors import KeyRevisionExpired
from utilities.tables import BASE_DATES, vending_keys
from vending import audit, read_cache
from vending.errors import InvalidRequest
from vending.keyring import Keyring
from vending.storage.database import Txn

SGC_PATTERN = re.compile(r"\d{6}")
VENDING_KEY_BYTES = {2: 8, 4: 20}  # DKGA-02: 64-bit DES key; DKGA-04: 160-bit HMAC key
KEY_TYPE_NAMES = {0: "DITK", 1: "DDTK", 2: "DUTK", 3: "DCTK"}


@dataclass(frozen=True)
class VendingKeyInfo:
    """A vending key revision without its key material."""

    sgc: str
    krn: int
    dkga: int
    ea: int
    key_type: int
    base_date: int
    ken: int
    is_current: bool
    description: str
    created_at: datetime


def _info(row: Row) -> VendingKeyInfo:
    return VendingKeyInfo(
        sgc=row.sgc,
        krn=row.krn,
        dkga=row.dkga,
        ea=row.ea,
        key_type=row.key_type,
        base_date=row.base_date,
        ken=row.ken,
        is_current=bool(row.is_current),
        description=row.description,
        created_at=row.created_at,
    )


_INFO_COLUMNS = [c for c in vending_keys.c if c.name not in ("ciphertext", "data_key_id")]


def _aad(sgc: str, krn: int) -> bytes:
    return f"evd-vending-key:{sgc}:{krn}".encode()


def check_sgc(sgc: str) -> str:
    if not isinstance(sgc, str) or not SGC_PATTERN.fullmatch(sgc):
        raise InvalidRequest(f"a supply group code is 6 digits, got {sgc!r}")
    return sgc


def parse_key_hex(text: str) -> bytes:
    """Hex key material (spaces and colons allowed between bytes)."""
    compact = re.sub(r"[\s:]", "", text)
    if not re.fullmatch(r"(?:[0-9A-Fa-f]{2})+", compact):
        raise InvalidRequest("the vending key must be given as hexadecimal bytes")
    return bytes.fromhex(compact)


def import_vending_key(
    txn: Txn,
    keyring: Keyring,
    *,
    sgc: str,
    krn: int,
    key: bytes,
    dkga: int,
    base_date: int,
    ea: int = 7,
    key_type: int = 2,
    ken: int = 255,
    make_current: bool = False,
    description: str = "",
    actor: str = "system",
    now: datetime,
) -> VendingKeyInfo:
    """Store one vending key revision, encrypted. The first revision of a supply group (or
    one imported with ``make_current``) becomes the one key changes move meters to."""
    check_sgc(sgc)
    if not (isinstance(krn, int) and 1 <= krn <= 9):
        raise InvalidRequest(f"KRN must be 1..9, got {krn!r}")
    if dkga not in VENDING_KEY_BYTES:
        raise InvalidRequest("only DKGA-02 and DKGA-04 vending keys are supported")
    if len(key) != VENDING_KEY_BYTES[dkga]:
        raise InvalidRequest(
            f"a DKGA-{dkga:02d} vending key has {VENDING_KEY_BYTES[dkga]} bytes, got {len(key)}"
        )
    if ea not in (7, 11):
        raise InvalidRequest("EA must be 7 (STA) or 11 (MISTY1)")
    if ea == 11 and dkga != 4:
        raise InvalidRequest("MISTY1 (EA11) meters need a DKGA-04 vending key")
    if key_type not in KEY_TYPE_NAMES:
        raise InvalidRequest("key type must be 0..3")
    if base_date not in BASE_DATES:
        raise InvalidRequest(f"base date must be one of {BASE_DATES}")
    if not 0 <= ken <= 255:
        raise InvalidRequest("KEN must be 0..255")
    if get_key_info(txn, sgc, krn) is not None:
        raise InvalidRequest(f"vending key SGC {sgc} KRN {krn} already exists")
    has_current = current_key(txn, sgc) is not None
    key_id, blob = keyring.encrypt(txn, key, aad=_aad(sgc, krn))
    if make_current and has_current:
        txn.execute(
            update(vending_keys)
            .where(vending_keys.c.sgc == sgc, vending_keys.c.is_current.is_(True))
            .values(is_current=False)
        )
    txn.execute(
        insert(vending_keys).values(
            sgc=sgc,
            krn=krn,
            dkga=dkga,
            ea=ea,
            key_type=key_type,
            base_date=base_date,
            ken=ken,
            is_current=make_current or not has_current,
            description=description[:80],
            data_key_id=key_id,
            ciphertext=blob,
            created_at=now,
        )
    )
    txn.call_after(read_cache.invalidate)
    audit.record(
        txn,
        actor=actor,
        action="vending_key.import",
        subject=f"{sgc}/{krn}",
        details={"dkga": dkga, "ea": ea, "base_date": base_date, "current": make_current},
        now=now,
    )
    info = get_key_info(txn, sgc, krn)
    assert info is not None
    return info


def set_current_key(
    txn: Txn, sgc: str, krn: int, *, actor: str = "system", now: datetime
) -> VendingKeyInfo:
    """Make (sgc, krn) the revision meters are moved to by key changes."""
    if get_key_info(txn, sgc, krn) is None:
        raise InvalidRequest(f"no vending key SGC {sgc} KRN {krn}")
    txn.execute(
        update(vending_keys)
        .where(vending_keys.c.sgc == sgc, vending_keys.c.is_current.is_(True))
        .values(is_current=False)
    )
    txn.execute(
        update(vending_keys)
        .where(vending_keys.c.sgc == sgc, vending_keys.c.krn == krn)
        .values(is_current=True)
    )
    txn.call_after(read_cache.invalidate)
    audit.record(txn, actor=actor, action="vending_key.current", subject=f"{sgc}/{krn}", now=now)
    info = get_key_info(txn, sgc, krn)
    assert info is not None
    return info


_BY_REVISION = select(*_INFO_COLUMNS).where(
    vending_keys.c.sgc == bindparam("p_sgc"), vending_keys.c.krn == bindparam("p_krn")
)
_CURRENT = select(*_INFO_COLUMNS).where(
    vending_keys.c.sgc == bindparam("p_sgc"), vending_keys.c.is_current.is_(True)
)
# The engine's reads: the whole row, key material included, in one statement.
_SEALED_BY_REVISION = select(vending_keys).where(
    vending_keys.c.sgc == bindparam("p_sgc"), vending_keys.c.krn == bindparam("p_krn")
)
_SEALED_CURRENT = select(vending_keys).where(
    vending_keys.c.sgc == bindparam("p_sgc"), vending_keys.c.is_current.is_(True)
)


def get_key_info(txn: Txn, sgc: str, krn: int) -> VendingKeyInfo | None:
    row = txn.execute(_BY_REVISION, {"p_sgc": sgc, "p_krn": krn}).first()
    return None if row is None else _info(row)


def current_key(txn: Txn, sgc: str) -> VendingKeyInfo | None:
    row = txn.execute(_CURRENT, {"p_sgc": sgc}).first()
    return None if row is None else _info(row)


@dataclass(frozen=True)
class SealedVendingKey:
    """A revision with its key material still encrypted; the engine's view of a key."""

    info: VendingKeyInfo
    data_key_id: int
    ciphertext: bytes = field(repr=False)

    def open(self, txn: Txn, keyring: Keyring) -> bytes:
        """The key material. For :mod:`utilities.engine` only (see load_vending_key)."""
        info = self.info
        return keyring.decrypt(txn, self.data_key_id, self.ciphertext, aad=_aad(info.sgc, info.krn))


def _sealed(txn: Txn, row: Row | None) -> SealedVendingKey | None:
    if row is None:
        return None
    sealed = SealedVendingKey(_info(row), row.data_key_id, bytes(row.ciphertext))
    # Remembered for the rest of this transaction only: a vend reads the current key for
    # the target key data and then derives the decoder key from the same row.
    txn.local[("vending_key", row.sgc, row.krn)] = sealed
    return sealed


def sealed_current_key(txn: Txn, sgc: str) -> SealedVendingKey | None:
    """The supply group's current revision, key material sealed."""
    if read_cache.in_batch(txn):  # a sale batch: configuration from the per-process cache
        sealed = read_cache.cached(
            txn,
            ("current_vending_key", sgc),
            lambda: _sealed(txn, txn.execute(_SEALED_CURRENT, {"p_sgc": sgc}).first()),
        )
        if sealed is not None:
            txn.local[("vending_key", sgc, sealed.info.krn)] = sealed
        return sealed
    return _sealed(txn, txn.execute(_SEALED_CURRENT, {"p_sgc": sgc}).first())


def sealed_key(txn: Txn, sgc: str, krn: int) -> SealedVendingKey | None:
    """One revision, key material sealed (read once per transaction)."""
    found = txn.local.get(("vending_key", sgc, krn))
    if found is not None:
        return found  # type: ignore[no-any-return]
    return _sealed(txn, txn.execute(_SEALED_BY_REVISION, {"p_sgc": sgc, "p_krn": krn}).first())


def list_vending_keys(txn: Txn, sgc: str | None = None) -> list[VendingKeyInfo]:
    query = select(*_INFO_COLUMNS).order_by(vending_keys.c.sgc, vending_keys.c.krn)
    if sgc is not None:
        query = query.where(vending_keys.c.sgc == sgc)
    return [_info(row) for row in txn.execute(query)]


def load_vending_key(txn: Txn, keyring: Keyring, sgc: str, krn: int) -> bytes:
    """Decrypt one vending key. For :mod:`utilities.engine` only: the bytes must not leave
    the transaction that derives a decoder key from them."""
    row = txn.execute(
        select(vending_keys.c.data_key_id, vending_keys.c.ciphertext).where(
            vending_keys.c.sgc == sgc, vending_keys.c.krn == krn
        )
    ).first()
    if row is None:
        raise KeyRevisionExpired(
            f"no vending key for SGC {sgc} KRN {krn}; an update meter key operation is needed"
        )
    return keyring.decrypt(txn, row.data_key_id, bytes(row.ciphertext), aad=_aad(sgc, krn))
