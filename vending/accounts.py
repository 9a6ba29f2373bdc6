"""Accounts: who holds money in the ledger. Balances change only through ``vending.ledger``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row, insert, select, update

from vending.errors import InvalidRequest, UnknownAccount
from vending.money import Money, currency_exponent
from vending.storage.database import Txn
from vending.storage.schema import ACCOUNT_KINDS, accounts


@dataclass(frozen=True)
class Account:
    id: int
    code: str
    kind: str
    name: str
    currency: str
    balance: Money
    # The balance may go down to -credit_limit; None means no floor.
    credit_limit: Money | None
    blocked: bool

    @property
    def available(self) -> Money | None:
        """What can still be debited, or None when there is no floor."""
        if self.credit_limit is None:
            return None
        return self.balance + self.credit_limit


def _from_row(row: Row) -> Account:
    return Account(
        id=row.id,
        code=row.code,
        kind=row.kind,
        name=row.name,
        currency=row.currency,
        balance=Money(row.balance, row.currency),
        credit_limit=None if row.credit_limit is None else Money(row.credit_limit, row.currency),
        blocked=row.blocked,
    )


def create_account(
    txn: Txn,
    *,
    code: str,
    kind: str,
    name: str,
    currency: str,
    credit_limit: Money | None = None,
    now: datetime,
) -> Account:
    if kind not in ACCOUNT_KINDS:
        raise InvalidRequest(f"unknown account kind {kind!r} (one of {', '.join(ACCOUNT_KINDS)})")
    currency_exponent(currency)
    if credit_limit is not None:
        if credit_limit.currency != currency:
            raise InvalidRequest("the credit limit must be in the account's currency")
        if credit_limit.amount < 0:
            raise InvalidRequest("the credit limit cannot be negative")
    if txn.execute(select(accounts.c.id).where(accounts.c.code == code)).first():
        raise InvalidRequest(f"account {code!r} already exists")
    account_id = txn.execute(
        insert(accounts)
        .values(
            code=code,
            kind=kind,
            name=name,
            currency=currency,
            balance=0,
            credit_limit=None if credit_limit is None else credit_limit.amount,
            blocked=False,
            created_at=now,
        )
        .returning(accounts.c.id)
    ).scalar_one()
    return get_account(txn, account_id)


def get_account(txn: Txn, account: int | str) -> Account:
    """Look an account up by id or code."""
    column = accounts.c.id if isinstance(account, int) else accounts.c.code
    row = txn.execute(select(accounts).where(column == account)).first()
    if row is None:
        raise UnknownAccount(f"no account {account!r}")
    return _from_row(row)


def list_accounts(txn: Txn, kind: str | None = None) -> list[Account]:
    query = select(accounts).order_by(accounts.c.id)
    if kind is not None:
        query = query.where(accounts.c.kind == kind)
    return [_from_row(row) for row in txn.execute(query)]


def set_blocked(txn: Txn, account_id: int, blocked: bool) -> None:
    result = txn.execute(
        update(accounts).where(accounts.c.id == account_id).values(blocked=blocked)
    )
    if result.rowcount != 1:
        raise UnknownAccount(f"no account {account_id}")


def set_credit_limit(txn: Txn, account_id: int, credit_limit: Money | None) -> None:
    account = get_account(txn, account_id)
    if credit_limit is not None:
        if credit_limit.currency != account.currency:
            raise InvalidRequest("the credit limit must be in the account's currency")
        if credit_limit.amount < 0:
            raise InvalidRequest("the credit limit cannot be negative")
        if account.balance.amount < -credit_limit.amount:
            raise InvalidRequest(
                f"the balance {account.balance} is already below -{credit_limit.format()}"
            )
    txn.execute(
        update(accounts)
        .where(accounts.c.id == account_id)
        .values(credit_limit=None if credit_limit is None else credit_limit.amount)
    )


# --- the operator's own accounts, one set per currency --------------------------------------

HOUSE_ACCOUNTS = {
    "bank": ("house", "Operator bank (funding)"),
    "revenue": ("revenue", "Operator margin on sales"),
    "fees": ("fee", "Fees charged"),
    "suspense": ("suspense", "Sales pending with an upstream"),
    "tax": ("tax", "Tax collected"),
}


def house_account_code(purpose: str, currency: str) -> str:
    if purpose not in HOUSE_ACCOUNTS:
        raise KeyError(purpose)
    return f"house:{purpose}:{currency}"


def ensure_house_accounts(txn: Txn, currency: str, *, now: datetime) -> dict[str, int]:
    """Create the operator's accounts for ``currency`` if missing; return their ids."""
    ids: dict[str, int] = {}
    for purpose, (kind, name) in HOUSE_ACCOUNTS.items():
        code = house_account_code(purpose, currency)
        account_id = txn.execute(select(accounts.c.id).where(accounts.c.code == code)).scalar()
        if account_id is None:
            account_id = create_account(
                txn, code=code, kind=kind, name=f"{name} ({currency})", currency=currency, now=now
            ).id
        ids[purpose] = account_id
    return ids
