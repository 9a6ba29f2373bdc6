"""Selling PINs from stock, exactly once, inside the caller's one transaction.

The protocol layer (XMLVend today, SMS/USSD/web later) claims the request, then calls
:func:`sell_voucher` in the same transaction: it locks one unsold, unexpired voucher of the
product (earliest expiry first; ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so concurrent
buyers take different PINs without waiting on each other), records the sale and its ledger
transfer, and marks the voucher sold. Out of stock raises OutOfStock before anything is
written. A reversed sale's PIN is quarantined, never resold automatically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, select, update

from vending import audit
from vending.batch_plan import plan_of
from vending.errors import InvalidRequest, OutOfStock, UnknownProduct
from vending.keyring import Keyring
from vending.money import Money
from vending.products import Pricing, Product, get_product, price_sale, vendor_commission_bp
from vending.requests import Claim
from vending.sales import Sale, SaleOrder, count_reprint, get_sale, record_sale, reverse_sale
from vending.storage.database import Txn
from vending.vouchers import alerts
from vending.vouchers.errors import UnknownVoucher, VoucherStateError
from vending.vouchers.pins import reveal_pin
from vending.vouchers.tables import suppliers, voucher_batches, vouchers


@dataclass(frozen=True)
class IssuedVoucher:
    """A voucher as handed to its buyer. ``pin`` is the only clear PIN in the system: put it
    in the response (or reprint) and nowhere else; it is left out of ``repr``."""

    serial_no: str
    pin: str = field(repr=False)
    expiry: date | None
    batch_no: str
    product_code: str
    network: str
    instructions: str


@dataclass(frozen=True)
class VoucherSale:
    sale: Sale
    # The vendor's balance right after this sale, and what it can still spend.
    vendor_balance: Money
    vendor_available: Money
    voucher: IssuedVoucher


def _voucher_product(txn: Txn, product_code: str) -> Product:
    product = get_product(txn, product_code)
    if product.kind != "voucher":
        raise UnknownProduct(f"{product_code} is not a voucher product")
    return product


def _in_stock(txn: Txn, product_id: int, today: date) -> bool:
    return alerts.count_sellable(txn, product_id, today, limit=1) > 0


# The voucher to sell with what its receipt needs (batch number, supplier code), locked in
# one statement. Two index range scans -- earliest expiry first, then those without expiry
# -- rather than one ``expiry IS NULL OR expiry >= today``, which PostgreSQL could only
# answer by sorting every available voucher of the product.
_VOUCHER_COLUMNS = (
    select(
        vouchers.c.id,
        vouchers.c.supplier_id,
        vouchers.c.import_id,
        vouchers.c.batch_seq,
        vouchers.c.serial_no,
        vouchers.c.pin_key_id,
        vouchers.c.pin_ciphertext,
        vouchers.c.expiry,
        voucher_batches.c.batch_no,
        suppliers.c.code.label("supplier_code"),
    )
    .select_from(vouchers)
    .join(
        voucher_batches,
        (voucher_batches.c.import_id == vouchers.c.import_id)
        & (voucher_batches.c.seq == vouchers.c.batch_seq),
    )
    .join(suppliers, suppliers.c.id == vouchers.c.supplier_id)
)
_RESERVE_COLUMNS = _VOUCHER_COLUMNS.where(
    vouchers.c.product_id == bindparam("p_product"), vouchers.c.state == "available"
)
_RESERVE = (
    _RESERVE_COLUMNS.where(vouchers.c.expiry >= bindparam("p_today"))
    .order_by(vouchers.c.expiry, vouchers.c.id)
    .limit(1)
    .with_for_update(skip_locked=True, of=vouchers)
)
_RESERVE_NO_EXPIRY = (
    _RESERVE_COLUMNS.where(vouchers.c.expiry.is_(None))
    .order_by(vouchers.c.id)
    .limit(1)
    .with_for_update(skip_locked=True, of=vouchers)
)
_MARK_SOLD = (
    update(vouchers)
    .where(vouchers.c.id == bindparam("p_id"), vouchers.c.state == "available")
    .values(state="sold", sale_id=bindparam("p_sale"), state_changed_at=bindparam("p_now"))
)


def _refresh_low_stock(txn: Txn, product_id: int, today: date, now: datetime) -> None:
    alerts.refresh_low_stock(txn, product_id, today=today, now=now)


def _reserve(txn: Txn, product_id: int, today: date):  # type: ignore[no-untyped-def]
    """Lock the voucher to sell: the earliest expiring, then those without expiry."""
    plan = plan_of(txn)
    if plan is not None:  # locked by the sale batch's start (evd_sale_batch_start)
        row = plan.take_voucher(product_id, today)
        if row is not None:
            return row
    row = txn.execute(_RESERVE, {"p_product": product_id, "p_today": today}).first()
    if row is None:
        row = txn.execute(_RESERVE_NO_EXPIRY, {"p_product": product_id}).first()
    return row


def _issued(txn: Txn, keyring: Keyring, row, product: Product) -> IssuedVoucher:  # type: ignore[no-untyped-def]
    network = str(product.attributes.get("network") or product.attributes.get("brand") or "")
    instructions = str(
        product.attributes.get("instructions")
        or f"Recharge your {network or product.name} account with this PIN."
    )
    return IssuedVoucher(
        serial_no=row.serial_no,
        pin=reveal_pin(
            txn,
            keyring,
            supplier_id=row.supplier_id,
            serial_no=row.serial_no,
            key_id=row.pin_key_id,
            blob=row.pin_ciphertext,
        ),
        expiry=row.expiry,
        batch_no=row.batch_no,
        product_code=product.code,
        network=network,
        instructions=instructions,
    )


def quote_voucher(
    txn: Txn,
    *,
    product_code: str,
    amount: Money | None,
    vendor_id: int | None = None,
    now: datetime,
) -> tuple[Product, Pricing, bool]:
    """Price a voucher sale and say whether one is in stock (trial vends): nothing is
    reserved and no money moves. With ``vendor_id`` the vendor's own commission applies."""
    product = _voucher_product(txn, product_code)
    commission = None if vendor_id is None else vendor_commission_bp(txn, vendor_id, product)
    pricing = price_sale(product, amount, commission_bp=commission)
    return product, pricing, _in_stock(txn, product.id, (now).date())


def sell_voucher(
    txn: Txn,
    keyring: Keyring,
    claim: Claim,
    *,
    vendor_id: int,
    vendor_account_id: int,
    product_code: str,
    amount: Money | None,
    terminal_id: str,
    operator_id: int | None,
    created_by: str,
    now: datetime,
    paying_consumer_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> VoucherSale:
    """Sell one PIN of ``product_code`` to the vendor, in the caller's transaction.
    ``details`` join the sale's own (the consumer's number to notify, :mod:`vending.recipient_sms`).

    ``paying_consumer_id``: the consumer whose wallet pays (its daily spend limit is
    checked at the debit, ``vending.sales``). Raises OutOfStock (nothing written), the
    pricing errors of ``price_sale``, WalletLimitExceeded and the ledger's
    InsufficientFunds; any of them rolls the caller's transaction back unless caught before
    further writes.
    """
    today = now.date()
    product = _voucher_product(txn, product_code)
    pricing = price_sale(
        product, amount, commission_bp=vendor_commission_bp(txn, vendor_id, product)
    )
    row = _reserve(txn, product.id, today)
    if row is None:
        raise OutOfStock(f"{product.code} is out of stock")
    issued = _issued(txn, keyring, row, product)
    supplier_code = row.supplier_code
    result = record_sale(
        txn,
        claim,
        SaleOrder(
            vendor_id=vendor_id,
            vendor_account_id=vendor_account_id,
            product=product,
            pricing=pricing,
            target=product.code,
            terminal_id=terminal_id,
            operator_id=operator_id,
            paying_consumer_id=paying_consumer_id,
            details={
                "voucher_id": row.id,
                "supplier": supplier_code,
                "serial_no": row.serial_no,
                "batch_no": issued.batch_no,
                "expiry": None if row.expiry is None else row.expiry.isoformat(),
                **(details or {}),
            },
        ),
        created_by=created_by,
        now=now,
    )
    plan = plan_of(txn)
    if plan is not None:
        # The batch marks its PINs sold with one UPDATE (checked there) and checks each
        # product's stock level once, after it.
        plan.queue("vouchers_sold", (row.id, result.sale.id, now, row.serial_no))
        plan.at_end(("low_stock", product.id), _refresh_low_stock, product.id, today, now)
    else:
        sold = txn.execute(
            _MARK_SOLD, {"p_id": row.id, "p_sale": result.sale.id, "p_now": now}
        ).rowcount
        if sold != 1:  # impossible while the row is locked; refuse rather than sell twice
            raise VoucherStateError(f"voucher {row.serial_no} was taken by another sale")
        alerts.refresh_low_stock(txn, product.id, today=today, now=now)
    return VoucherSale(result.sale, result.vendor_balance, result.vendor_available, issued)


def reverse_voucher_sale(
    txn: Txn, sale_id: int, *, reason: str, created_by: str, now: datetime
) -> Sale:
    """Reverse a voucher sale (refunding the vendor) and quarantine its PIN: the buyer may
    have seen it, so it is only sold again after review (``evd stock release``).

    Idempotent: reversing a reversed sale returns it unchanged.
    """
    sale = get_sale(txn, sale_id)
    if sale.state == "reversed":
        return sale
    row = txn.execute(
        select(vouchers.c.id, vouchers.c.serial_no, vouchers.c.state).where(
            vouchers.c.sale_id == sale_id
        )
    ).first()
    if row is None:
        raise InvalidRequest(f"sale {sale.receipt_no} did not sell a voucher from stock")
    sale = reverse_sale(txn, sale_id, reason=reason, created_by=created_by, now=now)
    txn.execute(
        update(vouchers)
        .where(vouchers.c.id == row.id, vouchers.c.state == "sold")
        .values(
            state="quarantined",
            reversal_count=vouchers.c.reversal_count + 1,
            state_changed_at=now,
            state_reason=f"sale {sale.receipt_no} reversed: {reason}"[:200],
        )
    )
    audit.record(
        txn,
        actor=created_by,
        action="voucher.quarantine",
        subject=f"voucher:{row.id}",
        details={"serial_no": row.serial_no, "sale": sale_id, "reason": reason[:200]},
        now=now,
    )
    return sale


def reprint_voucher(
    txn: Txn, keyring: Keyring, sale_id: int, *, actor: str = "system", now: datetime
) -> IssuedVoucher:
    """The voucher of a completed sale again, PIN included (audited). Showing the PIN again
    is a delivery: the sale can no longer be reversed (``sales.reprint_count``)."""
    sale = get_sale(txn, sale_id)
    if sale.state != "completed":
        raise VoucherStateError(f"sale {sale.receipt_no} is {sale.state}; its PIN is withheld")
    row = txn.execute(
        _VOUCHER_COLUMNS.where(vouchers.c.sale_id == sale_id, vouchers.c.state == "sold")
    ).first()
    if row is None:
        raise UnknownVoucher(f"sale {sale.receipt_no} has no voucher from stock")
    issued = _issued(txn, keyring, row, get_product(txn, sale.product_id))
    count_reprint(txn, [sale_id])
    audit.record(
        txn,
        actor=actor,
        action="voucher.reprint",
        subject=f"voucher:{row.id}",
        details={"serial_no": row.serial_no, "sale": sale_id},
        now=now,
    )
    return issued
