"""Transactions across products (electricity, vouchers, provider orders: every one is a
``sales`` row) as staff search them, their detail, and a staff reversal.

Search filters combine (AND): a reference (sale id, receipt number, request id, provider
order id or upstream reference), a target (meter or mobile number), a time range, a state,
a channel, a product kind and a merchant. Pages run newest first with a keyset cursor
(``before``: the last id seen) so a page costs the same at any depth: the benchmark
(tools/bench_admin.py) measures it on a million rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, union_all

from catalogue.tables import provider_attempts, provider_orders, providers
from vending.keyring import Keyring
from vending.money import Money
from vending.oversight.masking import mask_bytes
from vending.oversight.scope import Resolved
from vending.requests import find_request_by_pk
from vending.sales import Sale, _from_row, _select_sales
from vending.storage.database import Txn
from vending.storage.schema import accounts, ledger_entries, requests, sales, transfers, vendors

MAX_PAGE = 200


@dataclass(frozen=True)
class TransactionFilter:
    """What to look for; every field optional."""

    reference: str = ""  # sale id, receipt, request id, provider order id, upstream ref
    target: str = ""  # meter number, mobile number, account
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive
    state: str = ""  # pending, completed, failed, reversed
    channel: str = ""  # xmlvend, json, sms, ussd, ...
    kind: str = ""  # electricity, voucher, pinless, bill_payment, ...
    merchant: str = ""  # a vendor's client id

    def describe(self) -> dict[str, str]:
        """The filter as an audit record keeps it (only what was set)."""
        values = {
            "reference": self.reference,
            "target": self.target,
            "start": self.start.isoformat() if self.start else "",
            "end": self.end.isoformat() if self.end else "",
            "state": self.state,
            "channel": self.channel,
            "kind": self.kind,
            "merchant": self.merchant,
        }
        return {k: v for k, v in values.items() if v}


@dataclass(frozen=True)
class TransactionRow:
    id: int
    receipt_no: str
    created_at: datetime
    channel: str
    merchant: str  # client id
    merchant_name: str
    product_code: str
    kind: str
    target: str
    amount: Money
    state: str
    request_id: str
    external_ref: str | None

    def csv_fields(self) -> list[str]:
        return [
            str(self.id),
            self.receipt_no,
            self.created_at.isoformat(),
            self.channel,
            self.merchant,
            self.merchant_name,
            self.product_code,
            self.kind,
            self.target,
            self.amount.format(),
            self.amount.currency,
            self.state,
            self.request_id,
            self.external_ref or "",
        ]


CSV_HEADER = [
    "id",
    "receipt",
    "created_at",
    "channel",
    "merchant",
    "merchant_name",
    "product",
    "kind",
    "target",
    "amount",
    "currency",
    "state",
    "request_id",
    "external_ref",
]


@dataclass(frozen=True)
class TransactionPage:
    rows: list[TransactionRow]
    next_before: int | None  # pass back as ``before`` for the next (older) page


# A time range up to this long is also bounded by ids (see _id_bounds).
ID_BOUNDED_RANGE = timedelta(days=7)


def _id_bounds(start: datetime, end: datetime) -> list[ColumnElement[bool]]:
    """The range [start, end) as ids too: true of every sale in it, so nothing is lost, and
    it lets the planner walk the primary key down from the range's newest id to its oldest
    rather than from the newest sale of all (it cannot know that ids follow time; a day a
    month back was 0.3-0.9 s on a million rows without it). Each bound aggregates an
    index-only scan of (created_at, id) over the range: ``id + 0`` keeps PostgreSQL from
    turning min/max into a walk of the primary key, which is the very walk avoided here. A
    wider range costs more to bound than a walk saves (recent ranges find rows at once)."""
    in_range = (sales.c.created_at >= start, sales.c.created_at < end)
    shifted = (sales.c.id + 0).label("id")
    ids = select(shifted).where(*in_range).subquery()
    return [
        sales.c.id >= select(func.min(ids.c.id)).scalar_subquery(),
        sales.c.id <= select(func.max(ids.c.id)).scalar_subquery(),
    ]


def _search_query(scope: Resolved, f: TransactionFilter) -> Select[Any]:
    from vending.storage.schema import products

    query = (
        select(
            sales.c.id,
            sales.c.created_at,
            sales.c.state,
            sales.c.amount,
            sales.c.currency,
            sales.c.target,
            sales.c.external_ref,
            products.c.code.label("product_code"),
            products.c.kind.label("kind"),
            vendors.c.client_id.label("merchant"),
            vendors.c.name.label("merchant_name"),
            requests.c.channel,
            requests.c.request_id,
        )
        .join(products, products.c.id == sales.c.product_id)
        .join(vendors, vendors.c.id == sales.c.vendor_id)
        .join(requests, requests.c.id == sales.c.request_pk)
        .where(scope.vendor_filter(sales.c.vendor_id))
    )
    reference = f.reference.strip()
    if reference:
        # Each kind of reference through its own index, then one semi-join: an OR across
        # the joined tables would make the planner scan every sale.
        found = [
            select(sales.c.id)
            .join(requests, requests.c.id == sales.c.request_pk)
            .where(requests.c.request_id == reference),
            select(sales.c.id).where(sales.c.external_ref == reference),
            select(provider_orders.c.sale_id).where(provider_orders.c.order_id == reference),
        ]
        if reference.isdigit() and len(reference) <= 18:
            # A sale id, or the receipt number (the id, zero-padded to 12 digits).
            found.append(select(sales.c.id).where(sales.c.id == int(reference)))
        query = query.where(sales.c.id.in_(union_all(*found)))
    if f.target.strip():
        query = query.where(sales.c.target == f.target.strip())
    if f.start is not None:
        query = query.where(sales.c.created_at >= f.start)
    if f.end is not None:
        query = query.where(sales.c.created_at < f.end)
    if f.start is not None and f.end is not None and f.end - f.start <= ID_BOUNDED_RANGE:
        query = query.where(*_id_bounds(f.start, f.end))
    if f.state:
        query = query.where(sales.c.state == f.state)
    if f.channel:
        query = query.where(requests.c.channel == f.channel)
    if f.kind:
        query = query.where(products.c.kind == f.kind)
    if f.merchant.strip():
        # The vendor's id first, so the (vendor_id, id) index reads its sales newest first.
        vendor_id = (
            select(vendors.c.id).where(vendors.c.client_id == f.merchant.strip()).scalar_subquery()
        )
        query = query.where(sales.c.vendor_id == vendor_id)
    return query


def _row(r: Any) -> TransactionRow:
    return TransactionRow(
        id=int(r.id),
        receipt_no=f"{int(r.id):012d}",
        created_at=r.created_at,
        channel=r.channel,
        merchant=r.merchant,
        merchant_name=r.merchant_name,
        product_code=r.product_code,
        kind=r.kind,
        target=r.target,
        amount=Money(int(r.amount), r.currency),
        state=r.state,
        request_id=r.request_id,
        external_ref=r.external_ref,
    )


def search(
    txn: Txn,
    scope: Resolved,
    f: TransactionFilter,
    *,
    before: int | None = None,
    limit: int = 50,
) -> TransactionPage:
    """One page of the scope's transactions matching ``f``, newest first."""
    limit = max(1, min(limit, MAX_PAGE))
    query = _search_query(scope, f)
    if before is not None:
        query = query.where(sales.c.id < before)
    rows = txn.execute(query.order_by(sales.c.id.desc()).limit(limit + 1)).all()
    found = [_row(r) for r in rows[:limit]]
    return TransactionPage(found, found[-1].id if len(rows) > limit else None)


# --- detail -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerLeg:
    transfer_id: int
    transfer_kind: str
    description: str
    account: str  # account code
    account_kind: str
    role: str
    amount: Money
    balance_after: Money
    at: datetime


@dataclass(frozen=True)
class ProviderAttempt:
    provider: str
    action: str
    outcome: str
    code: str
    message: str
    latency_ms: int
    at: datetime


@dataclass(frozen=True)
class TransactionDetail:
    sale: Sale
    row: TransactionRow
    legs: list[LedgerLeg]
    client_id: str
    operation: str
    received_at: datetime
    completed_at: datetime | None
    # The stored answer: masked unless the caller may reprint (then as stored).
    response: str | None
    response_status: int | None
    response_masked: bool
    provider_order: dict[str, Any] | None
    attempts: list[ProviderAttempt]


def find_row(txn: Txn, scope: Resolved, sale_id: int) -> TransactionRow | None:
    row = txn.execute(
        _search_query(scope, TransactionFilter()).where(sales.c.id == sale_id)
    ).first()
    return None if row is None else _row(row)


def scoped_sale(txn: Txn, scope: Resolved, sale_id: int) -> Sale | None:
    """The sale when it is in ``scope``; None for one outside as for one that is not."""
    row = txn.execute(_select_sales().where(sales.c.id == sale_id)).first()
    if row is None:
        return None
    sale = _from_row(row)
    return sale if scope.has_vendor(sale.vendor_id) else None


def legs_of(txn: Txn, transfer_ids: list[int]) -> list[LedgerLeg]:
    if not transfer_ids:
        return []
    rows = txn.execute(
        select(
            ledger_entries.c.transfer_id,
            ledger_entries.c.amount,
            ledger_entries.c.currency,
            ledger_entries.c.role,
            ledger_entries.c.balance_after,
            accounts.c.code,
            accounts.c.kind.label("account_kind"),
            transfers.c.kind,
            transfers.c.description,
            transfers.c.created_at,
        )
        .join(accounts, accounts.c.id == ledger_entries.c.account_id)
        .join(transfers, transfers.c.id == ledger_entries.c.transfer_id)
        .where(ledger_entries.c.transfer_id.in_(transfer_ids))
        .order_by(ledger_entries.c.transfer_id, ledger_entries.c.id)
    )
    return [
        LedgerLeg(
            transfer_id=int(r.transfer_id),
            transfer_kind=r.kind,
            description=r.description,
            account=r.code,
            account_kind=r.account_kind,
            role=r.role,
            amount=Money(int(r.amount), r.currency),
            balance_after=Money(int(r.balance_after), r.currency),
            at=r.created_at,
        )
        for r in rows
    ]


def _transfers_of(txn: Txn, sale: Sale) -> list[int]:
    """Every transfer of the sale: its own, settlement and reversal, and any other transfer
    that names it (``sale:<id>``: a staff refund, a commission)."""
    ids = {
        t for t in (sale.transfer_id, sale.settlement_transfer_id, sale.reversal_transfer_id) if t
    }
    ids |= set(
        txn.execute(
            select(transfers.c.id).where(transfers.c.reference == f"sale:{sale.id}")
        ).scalars()
    )
    return sorted(ids)


def _provider_order(txn: Txn, sale_id: int) -> tuple[dict[str, Any] | None, list[ProviderAttempt]]:
    order = txn.execute(
        select(provider_orders, providers.c.name.label("provider"))
        .outerjoin(providers, providers.c.id == provider_orders.c.provider_id)
        .where(provider_orders.c.sale_id == sale_id)
    ).first()
    if order is None:
        return None, []
    summary = {
        "order_id": order.order_id,
        "service": order.service,
        "state": order.state,
        "provider": order.provider,
        "provider_ref": order.provider_ref,
        "operator_ref": order.operator_ref,
        "message": order.message,
        "polls": order.polls,
        "params": dict(order.params or {}),
    }
    attempts = txn.execute(
        select(provider_attempts, providers.c.name.label("provider"))
        .join(providers, providers.c.id == provider_attempts.c.provider_id)
        .where(provider_attempts.c.order_pk == order.id)
        .order_by(provider_attempts.c.id)
    )
    return summary, [
        ProviderAttempt(
            provider=a.provider,
            action=a.action,
            outcome=a.outcome,
            code=a.code,
            message=a.message,
            latency_ms=int(a.latency_ms),
            at=a.at,
        )
        for a in attempts
    ]


def detail(
    txn: Txn, keyring: Keyring, scope: Resolved, sale_id: int, *, clear: bool
) -> TransactionDetail | None:
    """Everything about one sale in ``scope`` (None when it is not there). ``clear``: the
    stored answer as stored (a reprint permission), else masked."""
    sale = scoped_sale(txn, scope, sale_id)
    row = find_row(txn, scope, sale_id)
    if sale is None or row is None:
        return None
    request_row = txn.execute(
        select(
            requests.c.client_id,
            requests.c.operation,
            requests.c.received_at,
            requests.c.completed_at,
        ).where(requests.c.id == sale.request_pk)
    ).one()
    record = find_request_by_pk(txn, keyring, sale.request_pk)
    response: str | None = None
    status: int | None = None
    if record is not None and record.response is not None:
        status = record.response.http_status
        body = record.response.body
        if clear:
            response = body.decode("utf-8", errors="replace")
        else:
            response = mask_bytes(body, keep=(sale.receipt_no, sale.target))
    order, attempts = _provider_order(txn, sale.id)
    return TransactionDetail(
        sale=sale,
        row=row,
        legs=legs_of(txn, _transfers_of(txn, sale)),
        client_id=request_row.client_id,
        operation=request_row.operation,
        received_at=request_row.received_at,
        completed_at=request_row.completed_at,
        response=response,
        response_status=status,
        response_masked=not clear,
        provider_order=order,
        attempts=attempts,
    )


__all__ = [
    "CSV_HEADER",
    "LedgerLeg",
    "TransactionDetail",
    "TransactionFilter",
    "TransactionPage",
    "TransactionRow",
    "detail",
    "find_row",
    "scoped_sale",
    "search",
]
