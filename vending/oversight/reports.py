"""Reports over a range of days (UTC): sales by day, product and channel; deposits by day
and state; commissions by merchant. Days are read one at a time, each a range scan of
the time index, so a month costs 31 small queries whatever the table's size."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select

from deposits.tables import deposits
from vending.oversight.scope import Resolved
from vending.storage.database import Txn
from vending.storage.schema import products, requests, sales, vendors

MAX_DAYS = 92


@dataclass(frozen=True)
class SalesLine:
    day: date
    product: str
    channel: str
    currency: str
    count: int
    amount: int
    commission: int
    fee: int


@dataclass(frozen=True)
class DepositLine:
    day: date
    state: str
    currency: str
    count: int
    amount: int


@dataclass(frozen=True)
class CommissionLine:
    merchant: str
    name: str
    currency: str
    sales: int
    amount: int
    commission: int


def _days(first: date, last: date) -> list[date]:
    if last < first:
        raise ValueError("the last day is before the first")
    if (last - first).days >= MAX_DAYS:
        raise ValueError(f"a report covers at most {MAX_DAYS} days")
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), tzinfo=UTC)
    return start, start + timedelta(days=1)


def daily_sales(txn: Txn, scope: Resolved, first: date, last: date) -> list[SalesLine]:
    """Completed sales of each day by product and channel."""
    lines: list[SalesLine] = []
    for day in _days(first, last):
        start, end = _bounds(day)
        rows = txn.execute(
            select(
                products.c.code,
                requests.c.channel,
                sales.c.currency,
                func.count(),
                func.sum(sales.c.amount),
                func.sum(sales.c.commission),
                func.sum(sales.c.fee),
            )
            .join(products, products.c.id == sales.c.product_id)
            .join(requests, requests.c.id == sales.c.request_pk)
            .where(
                sales.c.created_at >= start,
                sales.c.created_at < end,
                sales.c.state == "completed",
                scope.vendor_filter(sales.c.vendor_id),
            )
            .group_by(products.c.code, requests.c.channel, sales.c.currency)
            .order_by(products.c.code, requests.c.channel)
        ).all()
        lines += [
            SalesLine(day, r[0], r[1], r[2], int(r[3]), int(r[4]), int(r[5]), int(r[6]))
            for r in rows
        ]
    return lines


def daily_deposits(txn: Txn, scope: Resolved, first: date, last: date) -> list[DepositLine]:
    """Deposits recorded each day by state (a partner sees its merchants' credits only)."""
    lines: list[DepositLine] = []
    for day in _days(first, last):
        start, end = _bounds(day)
        rows = txn.execute(
            select(deposits.c.state, deposits.c.currency, func.count(), func.sum(deposits.c.amount))
            .where(
                deposits.c.created_at >= start,
                deposits.c.created_at < end,
                scope.vendor_filter(deposits.c.vendor_id),
            )
            .group_by(deposits.c.state, deposits.c.currency)
            .order_by(deposits.c.state)
        ).all()
        lines += [DepositLine(day, r[0], r[1], int(r[2]), int(r[3])) for r in rows]
    return lines


def commissions(txn: Txn, scope: Resolved, first: date, last: date) -> list[CommissionLine]:
    """Merchant commission earned on completed sales over the days, largest first."""
    _days(first, last)
    start, _ = _bounds(first)
    _, end = _bounds(last)
    rows = txn.execute(
        select(
            vendors.c.client_id,
            vendors.c.name,
            sales.c.currency,
            func.count(),
            func.sum(sales.c.amount),
            func.sum(sales.c.commission),
        )
        .join(vendors, vendors.c.id == sales.c.vendor_id)
        .where(
            sales.c.created_at >= start,
            sales.c.created_at < end,
            sales.c.state == "completed",
            scope.vendor_filter(sales.c.vendor_id),
        )
        .group_by(vendors.c.client_id, vendors.c.name, sales.c.currency)
    ).all()
    lines = [CommissionLine(r[0], r[1], r[2], int(r[3]), int(r[4]), int(r[5])) for r in rows]
    return sorted(lines, key=lambda line: (-line.commission, line.merchant))


__all__ = [
    "CommissionLine",
    "DepositLine",
    "SalesLine",
    "commissions",
    "daily_deposits",
    "daily_sales",
]
