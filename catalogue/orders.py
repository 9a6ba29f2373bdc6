"""Provider orders: a sale whose money waits in suspense while a provider works.

``open_order`` holds the sale (``vending.sales.hold_sale``: vendor -> suspense, one
balanced transfer) and writes the order in the same transaction. ``close_order`` is the
one conditional transition out of ``pending``: SUCCESS settles the sale (suspense ->
supplier, margin, fee), FAILED fails it (the hold reversed: the vendor refunded). Nothing
else refunds: a timeout or an unknown answer leaves the order pending. Every provider
call and callback is recorded as an attempt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update

from catalogue.errors import UnknownOrder
from catalogue.interface import Outcome, ProviderResult
from catalogue.tables import RECHARGE_SERVICES, provider_attempts, provider_orders, providers
from vending.keyring import Keyring
from vending.money import Money
from vending.oversight.masking import mask_account
from vending.requests import Claim
from vending.sales import (
    Sale,
    SaleOrder,
    fail_sale,
    get_sale,
    hold_sale,
    hold_sale_paying_late,
    settle_sale,
)
from vending.storage.database import Txn
from vending.storage.schema import requests
from vending.vendors import available_credit


@dataclass(frozen=True)
class ProviderSale:
    """What a channel renders for a sale through a provider (its receipt): final
    (``success``/``failed``, stored under the request key) or ``pending`` (the reference
    to ask its status with; the final answer follows by status query and push)."""

    order_id: str
    service: str
    state: str
    target: str
    amount: Money
    sale: Sale
    provider_ref: str | None
    operator_ref: str | None
    message: str
    # The vendor's available credit (balance + credit limit) now.
    available: Money
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def receipt_no(self) -> str:
        return self.sale.receipt_no

    @property
    def shown_target(self) -> str:
        """The target as every answer, receipt and result SMS shows it (the full value is
        kept in the order and the sale, and shown to staff in the admin)."""
        return shown_target(self.service, self.target)


def shown_target(service: str, target: str) -> str:
    """An order's target with its account number masked (``mask_account``: the last four):
    a transfer's ``IFSC/account:sender`` shows ``IFSC/****6789`` (the sender's number
    dropped), a bill's ``biller:first parameter`` ``biller:****6789``, an insurance or
    other target its last four; a recharge's number is shown as it is."""
    if service in RECHARGE_SERVICES:
        # The number recharged (a phone, a DTH subscriber id): the customer's own, shown
        # in clear so that the customer can check it.
        return target
    if service == "dmt":
        account_at, _, _sender = target.partition(":")
        ifsc, _, account = account_at.rpartition("/")
        return f"{ifsc}/{mask_account(account)}" if ifsc else mask_account(account)
    if service == "bill":
        biller, found, customer = target.partition(":")
        return f"{biller}:{mask_account(customer)}" if found else mask_account(target)
    return mask_account(target)


# The product kinds whose sale target is a provider order's target (vending's
# PRODUCT_KINDS), and the order service whose masking applies to it.
_SERVICE_OF_KIND = {
    "money_transfer": "dmt",
    "bill_payment": "bill",
    "insurance": "insurance",
    "travel": "travel",
}


def shown_sale_target(kind: str, target: str) -> str:
    """A sale's target as a merchant's sale views show it: a provider sale's as its
    order's (:func:`shown_target`); a meter number, a voucher's or a recharged number as
    it is."""
    service = _SERVICE_OF_KIND.get(kind)
    return target if service is None else shown_target(service, target)


@dataclass(frozen=True)
class Order:
    pk: int
    order_id: str
    request_pk: int
    sale_id: int
    service: str
    target: str
    params: dict[str, Any]
    state: str
    provider_id: int | None
    provider: str | None
    provider_ref: str | None
    operator_ref: str | None
    message: str | None
    polls: int
    next_poll_at: datetime | None
    created_at: datetime
    completed_at: datetime | None


def order_id_for(request_pk: int) -> str:
    """Our 20-character reference: unique because the request key's row is."""
    return f"EV{request_pk:018d}"


def _aad(request_pk: int) -> bytes:
    return f"evd-provider-order:{request_pk}".encode()


_ORDER = select(provider_orders, providers.c.name.label("provider_name")).outerjoin(
    providers, providers.c.id == provider_orders.c.provider_id
)


def _order(row: Any) -> Order:
    return Order(
        row.id,
        row.order_id,
        row.request_pk,
        row.sale_id,
        row.service,
        row.target,
        dict(row.params or {}),
        row.state,
        row.provider_id,
        row.provider_name,
        row.provider_ref,
        row.operator_ref,
        row.message,
        row.polls,
        row.next_poll_at,
        row.created_at,
        row.completed_at,
    )


def open_order(
    txn: Txn,
    keyring: Keyring,
    claim: Claim,
    sale_order: SaleOrder,
    *,
    service: str,
    params: dict[str, Any],
    request_body: bytes,
    created_by: str,
    now: datetime,
    orphan_after: timedelta = timedelta(minutes=5),
    pay_late: bool = False,
) -> tuple[Order, Sale]:
    # pay_late: the vendor's debit at the end of the transaction (a bulk chunk's holds,
    # vending.sales.hold_sale_paying_late).
    if pay_late:
        sale = hold_sale_paying_late(txn, claim, sale_order, created_by=created_by, now=now)
    else:
        sale = hold_sale(txn, claim, sale_order, created_by=created_by, now=now).sale
    data_key, blob = keyring.encrypt(txn, request_body, aad=_aad(claim.request_pk))
    order_id = order_id_for(claim.request_pk)
    txn.execute(
        insert(provider_orders).values(
            order_id=order_id,
            request_pk=claim.request_pk,
            sale_id=sale.id,
            service=service,
            target=sale_order.target[:64],
            params=params,
            state="pending",
            polls=0,
            # If no answer is ever applied (the process stopped mid-call), the sweep finds
            # the order then and asks the providers for it (never a refund by itself).
            next_poll_at=now + orphan_after,
            data_key_id=data_key,
            request_body=blob,
            created_at=now,
        )
    )
    return get_order(txn, order_id), sale


def get_order(txn: Txn, order_id: str) -> Order:
    row = txn.execute(_ORDER.where(provider_orders.c.order_id == order_id)).first()
    if row is None:
        raise UnknownOrder(f"no order {order_id!r}")
    return _order(row)


def find_order(txn: Txn, order_id: str) -> Order | None:
    row = txn.execute(_ORDER.where(provider_orders.c.order_id == order_id)).first()
    return None if row is None else _order(row)


def order_by_pk(txn: Txn, order_pk: int) -> Order:
    return _order(txn.execute(_ORDER.where(provider_orders.c.id == order_pk)).one())


def order_for_request(txn: Txn, client_id: str, request_id: str) -> Order | None:
    row = txn.execute(
        _ORDER.join(requests, requests.c.id == provider_orders.c.request_pk).where(
            requests.c.client_id == client_id, requests.c.request_id == request_id
        )
    ).first()
    return None if row is None else _order(row)


def request_of(txn: Txn, keyring: Keyring, order: Order) -> tuple[str, bytes, Claim]:
    """The order's channel, its stored channel request and its request claim."""
    row = txn.execute(
        select(
            requests.c.channel,
            requests.c.client_id,
            requests.c.request_id,
            provider_orders.c.data_key_id,
            provider_orders.c.request_body,
        )
        .join(requests, requests.c.id == provider_orders.c.request_pk)
        .where(provider_orders.c.id == order.pk)
    ).one()
    body = keyring.decrypt(
        txn, row.data_key_id, bytes(row.request_body), aad=_aad(order.request_pk)
    )
    return row.channel, body, Claim(order.request_pk, row.client_id, row.request_id)


def record_attempt(
    txn: Txn,
    order_pk: int,
    provider_id: int,
    action: str,
    outcome: str,
    *,
    code: str = "",
    message: str = "",
    latency_ms: int = 0,
    now: datetime,
) -> None:
    txn.execute(
        insert(provider_attempts).values(
            order_pk=order_pk,
            provider_id=provider_id,
            action=action,
            outcome=outcome,
            code=code[:16],
            message=message[:200],
            latency_ms=max(0, latency_ms),
            at=now,
        )
    )


def attempts_of(txn: Txn, order_pk: int) -> list[dict[str, Any]]:
    rows = txn.execute(
        select(provider_attempts, providers.c.name)
        .join(providers, providers.c.id == provider_attempts.c.provider_id)
        .where(provider_attempts.c.order_pk == order_pk)
        .order_by(provider_attempts.c.id)
    )
    return [
        {"provider": r.name, "action": r.action, "outcome": r.outcome, "code": r.code} for r in rows
    ]


def mark_waiting(
    txn: Txn, order: Order, provider_id: int, result: ProviderResult, next_poll_at: datetime
) -> None:
    """The provider holds the order (PENDING/UNKNOWN): poll it from ``next_poll_at``."""
    values: dict[str, Any] = {"provider_id": provider_id, "next_poll_at": next_poll_at}
    if result.provider_ref:
        values["provider_ref"] = result.provider_ref[:64]
    if result.message:
        values["message"] = result.message[:200]
    txn.execute(
        update(provider_orders)
        .where(provider_orders.c.id == order.pk, provider_orders.c.state == "pending")
        .values(**values)
    )


def lease_poll(txn: Txn, order_pk: int, delay: timedelta, now: datetime) -> Order | None:
    """Take the next status poll of a pending order (one process at a time), or None."""
    order = order_by_pk(txn, order_pk)
    if order.state != "pending":
        return None
    result = txn.execute(
        update(provider_orders)
        .where(provider_orders.c.id == order_pk, provider_orders.c.polls == order.polls)
        .values(polls=order.polls + 1, next_poll_at=now + delay)
    )
    return order if result.rowcount == 1 else None


def due_orders(txn: Txn, now: datetime, limit: int = 100) -> list[int]:
    rows = txn.execute(
        select(provider_orders.c.id)
        .where(provider_orders.c.state == "pending", provider_orders.c.next_poll_at <= now)
        .order_by(provider_orders.c.next_poll_at)
        .limit(limit)
    )
    return [r.id for r in rows]


def close_order(
    txn: Txn,
    order: Order,
    provider_id: int | None,
    result: ProviderResult,
    *,
    now: datetime,
) -> ProviderSale | None:
    """pending -> success (settle) or failed (refund): the business change and the money in
    one transaction. None when the order was already final (nothing changes)."""
    assert result.outcome.is_final
    state = "success" if result.outcome is Outcome.SUCCESS else "failed"
    values: dict[str, Any] = {"state": state, "completed_at": now, "next_poll_at": None}
    if provider_id is not None:
        values["provider_id"] = provider_id
    if result.provider_ref:
        values["provider_ref"] = result.provider_ref[:64]
    if result.operator_ref:
        values["operator_ref"] = result.operator_ref[:64]
    values["message"] = (result.message or state)[:200]
    if result.details:
        values["params"] = {**order.params, **{k: str(v)[:64] for k, v in result.details.items()}}
    changed = txn.execute(
        update(provider_orders)
        .where(provider_orders.c.id == order.pk, provider_orders.c.state == "pending")
        .values(**values)
    )
    if changed.rowcount != 1:
        return None
    if state == "success":
        sale = settle_sale(
            txn,
            order.sale_id,
            external_ref=result.operator_ref or result.provider_ref,
            details={"order_id": order.order_id, "provider_ref": result.provider_ref},
            shown_target=shown_target(order.service, order.target),
            now=now,
        )
    else:
        sale = fail_sale(
            txn, order.sale_id, reason=result.message or "failed by the provider", now=now
        )
    return sale_view(txn, order_by_pk(txn, order.pk), sale)


def sale_view(txn: Txn, order: Order, sale: Sale | None = None) -> ProviderSale:
    sale = sale or get_sale(txn, order.sale_id)
    return ProviderSale(
        order_id=order.order_id,
        service=order.service,
        state=order.state,
        target=order.target,
        amount=sale.amount,
        sale=sale,
        provider_ref=order.provider_ref,
        operator_ref=order.operator_ref,
        message=order.message or "",
        available=available_credit(txn, sale.vendor_id),
        params=order.params,
    )
