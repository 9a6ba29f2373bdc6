"""Encryption at rest: AES-256-GCM data keys, each wrapped by the master key.

The master key never touches the database; it comes from config or ``EVD_MASTER_KEY``
(base64 of 32 bytes) or a key file. Rows store ``(key id, nonce || ciphertext)`` and bind
the ciphertext to the row with associated data, so a blob copied into another row does not
decrypt. Rotating the data key only affects new rows; rotating the master key re-wraps the
data keys in one transaction.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Column, LargeBinary, String, Table, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from vending.clock import Clock
from vending.config import Config
from vending.storage.database import Txn
from vending.storage.schema import data_keys, metadata
from vending.storage.types import UTCDateTime

NONCE_BYTES = 12

# Named secrets that must outlive data-key rotation (e.g. the key of the voucher PIN hash,
# which has to stay the same for duplicate detection to work), wrapped by the master key
# like the data keys and re-wrapped with them. Created by migration 0003_vouchers.
wrapped_secrets = Table(
    "wrapped_secrets",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("wrapped_secret", LargeBinary, nullable=False),
    Column("master_fingerprint", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)


class KeyringError(Exception):
    """The master key is missing, malformed or does not match the stored data keys."""


@dataclass(frozen=True)
class MasterKey:
    key: bytes

    def __post_init__(self) -> None:
        if len(self.key) != 32:
            raise KeyringError("the master key must be 32 bytes (base64 of 32 random bytes)")

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(b"evd-master-key" + self.key).hexdigest()[:16]

    @classmethod
    def from_base64(cls, text: str) -> MasterKey:
        try:
            raw = base64.b64decode(text.strip(), validate=True)
        except ValueError as exc:
            raise KeyringError("the master key is not valid base64") from exc
        return cls(raw)

    @classmethod
    def generate(cls) -> MasterKey:
        return cls(secrets.token_bytes(32))

    def to_base64(self) -> str:
        return base64.b64encode(self.key).decode("ascii")

    def __repr__(self) -> str:  # never print key material
        return f"MasterKey(fingerprint={self.fingerprint})"


def load_master_key(config: Config) -> MasterKey:
    """The master key from config/environment, else from ``security.master_key_file``."""
    if config.security.master_key:
        return MasterKey.from_base64(config.security.master_key)
    path = config.path(config.security.master_key_file) if config.security.master_key_file else None
    if path is not None and path.exists():
        return MasterKey.from_base64(path.read_text(encoding="ascii"))
    raise KeyringError(
        "no master key: set EVD_MASTER_KEY (base64 of 32 bytes), security.master_key, or "
        "create security.master_key_file with `evd keys init`"
    )


def write_master_key_file(path: Path, key: MasterKey | None = None) -> MasterKey:
    """Create a new master key file readable only by its owner; refuses to overwrite."""
    key = key or MasterKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key.to_base64() + "\n")
    return key


class Keyring:
    """Data-key encryption for one process; unwrapped data keys are cached in memory."""

    # Seconds the active key id is cached; another process's rotation shows up after this.
    ACTIVE_KEY_TTL = 60.0

    def __init__(self, master: MasterKey, *, clock: Clock) -> None:
        self._master = master
        # Stamps the data keys and secrets it creates on first use, inside any transaction.
        self._clock = clock
        self._keys: dict[int, AESGCM] = {}
        self._active: tuple[int, float] | None = None
        self._secrets: dict[str, bytes] = {}
        self._lock = threading.Lock()

    @property
    def master_fingerprint(self) -> str:
        return self._master.fingerprint

    # --- public API (inside a transaction) ----------------------------------------------

    def encrypt(self, txn: Txn, plaintext: bytes, *, aad: bytes) -> tuple[int, bytes]:
        key_id = self._active_key_id(txn)
        nonce = secrets.token_bytes(NONCE_BYTES)
        return key_id, nonce + self._cipher(txn, key_id).encrypt(nonce, plaintext, aad)

    def decrypt(self, txn: Txn, key_id: int, blob: bytes, *, aad: bytes) -> bytes:
        try:
            return self._cipher(txn, key_id).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
        except InvalidTag as exc:
            raise KeyringError(
                f"stored ciphertext under data key {key_id} failed authentication"
            ) from exc

    def encryptor(self, txn: Txn) -> DataKeyEncryptor:
        """The active data key, for encrypting many rows in one transaction (bulk imports):
        the same blobs as :meth:`encrypt` without its per-call key lookup."""
        key_id = self._active_key_id(txn)
        return DataKeyEncryptor(key_id, self._cipher(txn, key_id))

    def secret(self, txn: Txn, name: str) -> bytes:
        """The 32-byte secret ``name``, created on first use and wrapped by the master key.

        Unlike data keys it never rotates; :meth:`rewrap` re-wraps it with the data keys.
        """
        with self._lock:
            cached = self._secrets.get(name)
        if cached is not None:
            return cached
        insert = pg_insert if txn.is_postgres else sqlite_insert
        txn.execute(
            insert(wrapped_secrets)
            .values(
                name=name,
                wrapped_secret=_wrap_secret(self._master, name, secrets.token_bytes(32)),
                master_fingerprint=self._master.fingerprint,
                created_at=self._clock(),
            )
            # Another process may create it at the same moment: its value wins for both.
            .on_conflict_do_nothing(index_elements=["name"])
        )
        row = txn.execute(
            select(wrapped_secrets.c.wrapped_secret, wrapped_secrets.c.master_fingerprint).where(
                wrapped_secrets.c.name == name
            )
        ).one()
        if row.master_fingerprint != self._master.fingerprint:
            raise KeyringError(
                f"secret {name!r} is wrapped by master key {row.master_fingerprint}, "
                f"but the configured master key is {self._master.fingerprint}"
            )
        value = _unwrap_secret(self._master, name, row.wrapped_secret)
        # Cached after the commit only: the row may be this transaction's own, uncommitted.
        txn.call_after(self._remember_secret, name, value)
        return value

    def _remember_secret(self, name: str, value: bytes) -> None:
        with self._lock:
            self._secrets[name] = value

    def rotate_data_key(self, txn: Txn, *, now: datetime) -> int:
        """Retire the active data key and start a new one (for new rows)."""
        txn.execute(
            update(data_keys).where(data_keys.c.retired_at.is_(None)).values(retired_at=now)
        )
        new_id = self._create_key(txn, now)
        txn.call_after(self._set_active, new_id)
        return new_id

    def rewrap(self, txn: Txn, new_master: MasterKey) -> int:
        """Re-wrap every data key under ``new_master``; returns how many were re-wrapped."""
        rows = txn.execute(select(data_keys.c.id, data_keys.c.wrapped_key)).all()
        for key_id, wrapped in rows:
            raw = self._unwrap(key_id, wrapped)
            txn.execute(
                update(data_keys)
                .where(data_keys.c.id == key_id)
                .values(
                    wrapped_key=_wrap(new_master, key_id, raw),
                    master_fingerprint=new_master.fingerprint,
                )
            )
        for name, wrapped in txn.execute(
            select(wrapped_secrets.c.name, wrapped_secrets.c.wrapped_secret)
        ).all():
            value = _unwrap_secret(self._master, name, wrapped)
            txn.execute(
                update(wrapped_secrets)
                .where(wrapped_secrets.c.name == name)
                .values(
                    wrapped_secret=_wrap_secret(new_master, name, value),
                    master_fingerprint=new_master.fingerprint,
                )
            )
        return len(rows)

    # --- internals ----------------------------------------------------------------------

    def _active_key_id(self, txn: Txn) -> int:
        with self._lock:
            if self._active and time.monotonic() - self._active[1] < self.ACTIVE_KEY_TTL:
                return self._active[0]
        key_id = txn.execute(
            select(data_keys.c.id)
            .where(data_keys.c.retired_at.is_(None))
            .order_by(data_keys.c.id.desc())
            .limit(1)
        ).scalar()
        if key_id is None:
            # Not cached as active until the commit: a rolled-back key id must not stick.
            return self._create_key(txn, self._clock())
        self._set_active(key_id)
        return key_id

    def _set_active(self, key_id: int) -> None:
        with self._lock:
            self._active = (key_id, time.monotonic())

    def _create_key(self, txn: Txn, now: datetime) -> int:
        # A key wrapped by another master than the existing ones would leave the database
        # unreadable under either (e.g. `evd keys rotate` run with the old key after a
        # re-wrap).
        foreign = txn.execute(
            select(data_keys.c.master_fingerprint)
            .where(data_keys.c.master_fingerprint != self._master.fingerprint)
            .limit(1)
        ).scalar()
        if foreign is not None:
            raise KeyringError(
                f"the data keys are wrapped by master key {foreign}, "
                f"but the configured master key is {self._master.fingerprint}"
            )
        next_id = (
            txn.execute(select(data_keys.c.id).order_by(data_keys.c.id.desc()).limit(1)).scalar()
            or 0
        ) + 1
        raw = secrets.token_bytes(32)
        insert = pg_insert if txn.is_postgres else sqlite_insert
        # Two processes creating their first key at once both pick the same id. The loser
        # waits for the winner's commit and then uses its key (as fresh as its own would
        # be) instead of failing the request on a duplicate key.
        txn.execute(
            insert(data_keys)
            .values(
                id=next_id,
                wrapped_key=_wrap(self._master, next_id, raw),
                master_fingerprint=self._master.fingerprint,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["id"])
        )
        # Cache the key only once its row is committed: after a rollback another process
        # may create a different key under the same id.
        txn.call_after(self._set_active, next_id)
        return next_id

    def _cipher(self, txn: Txn, key_id: int) -> AESGCM:
        with self._lock:
            cipher = self._keys.get(key_id)
        if cipher is not None:
            return cipher
        row = txn.execute(
            select(data_keys.c.wrapped_key, data_keys.c.master_fingerprint).where(
                data_keys.c.id == key_id
            )
        ).first()
        if row is None:
            raise KeyringError(f"data key {key_id} does not exist")
        if row.master_fingerprint != self._master.fingerprint:
            raise KeyringError(
                f"data key {key_id} is wrapped by master key {row.master_fingerprint}, "
                f"but the configured master key is {self._master.fingerprint}"
            )
        cipher = AESGCM(self._unwrap(key_id, row.wrapped_key))
        # Cached after the commit only: the row may be this transaction's own, uncommitted.
        txn.call_after(self._remember, key_id, cipher)
        return cipher

    def _remember(self, key_id: int, cipher: AESGCM) -> None:
        with self._lock:
            self._keys[key_id] = cipher

    def _unwrap(self, key_id: int, wrapped: bytes) -> bytes:
        try:
            return AESGCM(self._master.key).decrypt(
                wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _wrap_aad(key_id)
            )
        except InvalidTag as exc:
            raise KeyringError(f"data key {key_id} does not unwrap with this master key") from exc


def _wrap_aad(key_id: int) -> bytes:
    return b"evd-data-key:%d" % key_id


def _wrap(master: MasterKey, key_id: int, raw: bytes) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(master.key).encrypt(nonce, raw, _wrap_aad(key_id))


class DataKeyEncryptor:
    """One data key's AES-GCM, producing the blobs :meth:`Keyring.decrypt` reads."""

    __slots__ = ("_cipher", "_nonces", "key_id")

    def __init__(self, key_id: int, cipher: AESGCM) -> None:
        self.key_id = key_id
        self._cipher = cipher
        self._nonces: list[bytes] = []

    def encrypt(self, plaintext: bytes, aad: bytes) -> bytes:
        if not self._nonces:
            # One system call per 4096 random nonces instead of one per row.
            pool = secrets.token_bytes(NONCE_BYTES * 4096)
            self._nonces = [pool[i : i + NONCE_BYTES] for i in range(0, len(pool), NONCE_BYTES)]
        nonce = self._nonces.pop()
        return nonce + self._cipher.encrypt(nonce, plaintext, aad)


def _secret_aad(name: str) -> bytes:
    return b"evd-secret:" + name.encode()


def _wrap_secret(master: MasterKey, name: str, value: bytes) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(master.key).encrypt(nonce, value, _secret_aad(name))


def _unwrap_secret(master: MasterKey, name: str, wrapped: bytes) -> bytes:
    try:
        return AESGCM(master.key).decrypt(
            wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _secret_aad(name)
        )
    except InvalidTag as exc:
        raise KeyringError(f"secret {name!r} does not unwrap with this master key") from exc
