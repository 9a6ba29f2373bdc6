"""Voucher suppliers: who sends stock files, which key signs them, which account is paid."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Row, insert, select, update

from vending import audit
from vending.accounts import create_account
from vending.errors import CurrencyMismatch, InvalidRequest
from vending.storage.database import Txn
from vending.storage.schema import accounts
from vending.vouchers.errors import UnknownSupplier
from vending.vouchers.tables import suppliers

SUPPLIER_CODE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
FINGERPRINT_PATTERN = re.compile(r"[0-9A-F]{40}")


@dataclass(frozen=True)
class SupplierKey:
    """A supplier's OpenPGP public key, as inspected by :class:`StockGpg`."""

    fingerprint: str
    armored: str = field(repr=False)


@dataclass(frozen=True)
class Supplier:
    id: int
    code: str
    name: str
    account_id: int
    account_code: str
    currency: str
    pgp_fingerprint: str | None
    pgp_public_key: str | None = field(repr=False)
    require_signature: bool


def _select():  # type: ignore[no-untyped-def]
    return select(
        suppliers,
        accounts.c.code.label("account_code"),
        accounts.c.currency,
    ).join(accounts, accounts.c.id == suppliers.c.account_id)


def _from_row(row: Row) -> Supplier:
    return Supplier(
        id=row.id,
        code=row.code,
        name=row.name,
        account_id=row.account_id,
        account_code=row.account_code,
        currency=row.currency,
        pgp_fingerprint=row.pgp_fingerprint,
        pgp_public_key=row.pgp_public_key,
        require_signature=bool(row.require_signature),
    )


def _check_key(key: SupplierKey | None, require_signature: bool) -> None:
    if key is not None and FINGERPRINT_PATTERN.fullmatch(key.fingerprint) is None:
        raise InvalidRequest(f"not an OpenPGP v4 fingerprint: {key.fingerprint!r}")
    if require_signature and key is None:
        raise InvalidRequest("signatures can only be required with the supplier's public key")


def add_supplier(
    txn: Txn,
    *,
    code: str,
    name: str,
    account_code: str,
    currency: str,
    key: SupplierKey | None,
    require_signature: bool,
    actor: str,
    now: datetime,
) -> Supplier:
    """Register a supplier; opens its settlement account (kind supplier) when missing."""
    if SUPPLIER_CODE_PATTERN.fullmatch(code) is None:
        raise InvalidRequest(f"supplier code {code!r}: 1-32 letters, digits, '_', '.' or '-'")
    if not name.strip() or len(name) > 80:
        raise InvalidRequest("a supplier name must be 1-80 characters")
    _check_key(key, require_signature)
    if txn.execute(select(suppliers.c.id).where(suppliers.c.code == code)).first():
        raise InvalidRequest(f"supplier {code!r} already exists")
    account = txn.execute(
        select(accounts.c.id, accounts.c.kind, accounts.c.currency).where(
            accounts.c.code == account_code
        )
    ).first()
    if account is None:
        account_id = create_account(
            txn, code=account_code, kind="supplier", name=name, currency=currency, now=now
        ).id
    else:
        if account.kind != "supplier":
            raise InvalidRequest(f"account {account_code!r} is a {account.kind} account")
        if account.currency != currency:
            raise CurrencyMismatch(f"account {account_code!r} is in {account.currency}")
        if txn.execute(
            select(suppliers.c.code).where(suppliers.c.account_id == account.id)
        ).first():
            raise InvalidRequest(f"account {account_code!r} already settles another supplier")
        account_id = account.id
    txn.execute(
        insert(suppliers).values(
            code=code,
            name=name,
            account_id=account_id,
            pgp_fingerprint=key.fingerprint if key else None,
            pgp_public_key=key.armored if key else None,
            require_signature=require_signature,
            created_at=now,
        )
    )
    audit.record(
        txn,
        actor=actor,
        action="supplier.create",
        subject=code,
        details={
            "account": account_code,
            "fingerprint": key.fingerprint if key else None,
            "require_signature": require_signature,
        },
        now=now,
    )
    return get_supplier(txn, code)


def set_supplier_key(
    txn: Txn,
    code: str,
    *,
    key: SupplierKey | None,
    require_signature: bool,
    actor: str,
    now: datetime,
) -> Supplier:
    """Replace the supplier's signing key (the supplier rotated it) and signature policy."""
    supplier = get_supplier(txn, code)
    _check_key(key, require_signature)
    txn.execute(
        update(suppliers)
        .where(suppliers.c.id == supplier.id)
        .values(
            pgp_fingerprint=key.fingerprint if key else None,
            pgp_public_key=key.armored if key else None,
            require_signature=require_signature,
        )
    )
    audit.record(
        txn,
        actor=actor,
        action="supplier.key",
        subject=code,
        details={
            "old_fingerprint": supplier.pgp_fingerprint,
            "fingerprint": key.fingerprint if key else None,
            "require_signature": require_signature,
        },
        now=now,
    )
    return get_supplier(txn, code)


def get_supplier(txn: Txn, supplier: str | int) -> Supplier:
    column = suppliers.c.id if isinstance(supplier, int) else suppliers.c.code
    row = txn.execute(_select().where(column == supplier)).first()
    if row is None:
        raise UnknownSupplier(f"no voucher supplier {supplier!r}")
    return _from_row(row)


def supplier_of_account(txn: Txn, account_id: int) -> Supplier | None:
    row = txn.execute(_select().where(suppliers.c.account_id == account_id)).first()
    return None if row is None else _from_row(row)


def list_suppliers(txn: Txn) -> list[Supplier]:
    return [_from_row(row) for row in txn.execute(_select().order_by(suppliers.c.code))]
