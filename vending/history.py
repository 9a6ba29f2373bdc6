"""Paged, dated reads of the ledger and of sales for the API channels: an account's
statement between two instants and a principal's sales, newest first, with an opaque
cursor (the last row's id) so pages never overlap or skip while new rows arrive."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from sqlalchemy import select

from vending.ledger import StatementLine
from vending.money import Money
from vending.sales import Sale, _from_row, _select_sales
from vending.storage.database import Txn
from vending.storage.schema import ledger_entries, requests, sales, transfers

MAX_PAGE = 100

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    # Pass back as ``before`` for the next (older) page; None on the last page.
    next_before: int | None


def _limit(limit: int) -> int:
    return max(1, min(limit, MAX_PAGE))


def account_entries(
    txn: Txn,
    account_id: int,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    before: int | None = None,
    limit: int = 50,
) -> Page[StatementLine]:
    """The account's ledger entries in [start, end), newest first, older than ``before``."""
    limit = _limit(limit)
    query = (
        select(
            ledger_entries.c.id,
            ledger_entries.c.transfer_id,
            ledger_entries.c.amount,
            ledger_entries.c.currency,
            ledger_entries.c.role,
            ledger_entries.c.balance_after,
            transfers.c.kind,
            transfers.c.description,
            transfers.c.created_at,
        )
        .join(transfers, transfers.c.id == ledger_entries.c.transfer_id)
        .where(ledger_entries.c.account_id == account_id)
    )
    if start is not None:
        query = query.where(transfers.c.created_at >= start)
    if end is not None:
        query = query.where(transfers.c.created_at < end)
    if before is not None:
        query = query.where(ledger_entries.c.id < before)
    rows = list(txn.execute(query.order_by(ledger_entries.c.id.desc()).limit(limit + 1)))
    lines = [
        StatementLine(
            entry_id=r.id,
            transfer_id=r.transfer_id,
            kind=r.kind,
            description=r.description,
            role=r.role,
            amount=Money(r.amount, r.currency),
            balance_after=Money(r.balance_after, r.currency),
            applied_at=r.created_at,
        )
        for r in rows[:limit]
    ]
    return Page(lines, lines[-1].entry_id if len(rows) > limit else None)


@dataclass(frozen=True)
class SaleScope:
    """Whose sales: a vendor's (every channel) or one consumer's (their request keys)."""

    vendor_id: int | None = None
    client_id: str | None = None


def _scoped(scope: SaleScope):  # type: ignore[no-untyped-def]
    query = _select_sales()
    if scope.client_id is not None:
        query = query.join(requests, requests.c.id == sales.c.request_pk).where(
            requests.c.client_id == scope.client_id
        )
    if scope.vendor_id is not None:
        query = query.where(sales.c.vendor_id == scope.vendor_id)
    return query


def scoped_sale(txn: Txn, scope: SaleScope, sale_id: int) -> Sale | None:
    """The sale if it belongs to ``scope`` (else None: other principals' sales do not
    exist for the caller)."""
    row = txn.execute(_scoped(scope).where(sales.c.id == sale_id)).first()
    return None if row is None else _from_row(row)


def scoped_sales(
    txn: Txn,
    scope: SaleScope,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    before: int | None = None,
    limit: int = 50,
) -> Page[Sale]:
    limit = _limit(limit)
    query = _scoped(scope)
    if start is not None:
        query = query.where(sales.c.created_at >= start)
    if end is not None:
        query = query.where(sales.c.created_at < end)
    if before is not None:
        query = query.where(sales.c.id < before)
    rows = list(txn.execute(query.order_by(sales.c.id.desc()).limit(limit + 1)))
    found = [_from_row(r) for r in rows[:limit]]
    return Page(found, found[-1].id if len(rows) > limit else None)


def request_id_of(txn: Txn, request_pk: int) -> str | None:
    """The request id (in its client's key space) a sale was made by."""
    return txn.execute(select(requests.c.request_id).where(requests.c.id == request_pk)).scalar()
