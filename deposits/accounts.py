"""The ledger accounts deposits move money between, one set per currency, created on
first use: the bank clearing account (what the bank says it received and we have not yet
given anyone) and the suspense account (received, owner unknown)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from vending.accounts import create_account, ensure_house_accounts
from vending.storage.database import Txn
from vending.storage.schema import accounts


def _ensure(txn: Txn, code: str, kind: str, name: str, currency: str, now: datetime) -> int:
    found = txn.execute(select(accounts.c.id).where(accounts.c.code == code)).scalar()
    if found is not None:
        return int(found)
    return create_account(txn, code=code, kind=kind, name=name, currency=currency, now=now).id


def clearing_account(txn: Txn, currency: str, now: datetime) -> int:
    return _ensure(
        txn, f"deposits:clearing:{currency}", "house", f"Bank clearing ({currency})", currency, now
    )


def suspense_account(txn: Txn, currency: str, now: datetime) -> int:
    return _ensure(
        txn,
        f"deposits:suspense:{currency}",
        "suspense",
        f"Unmatched bank deposits ({currency})",
        currency,
        now,
    )


def fee_account(txn: Txn, currency: str, now: datetime) -> int:
    return ensure_house_accounts(txn, currency, now=now)["fees"]
