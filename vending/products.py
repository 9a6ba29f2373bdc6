"""The product catalogue and how a sale is priced.

A sale of price P splits into the supplier's (or utility's) share C = P - supplier discount,
the merchant's commission M and the operator's margin P - C - M; a fixed fee F, when the
product has one, is charged to the vendor on top and goes to the operator's fee account.
Percentages are integer basis points, rounded down, so the margin is never negative:
the schema requires commission <= supplier discount.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, insert, select, update

from vending import audit, read_cache
from vending.batch_plan import plan_of
from vending.errors import (
    AmountOutOfRange,
    CurrencyMismatch,
    InvalidAmount,
    InvalidRequest,
    UnknownProduct,
    UnknownVendor,
)
from vending.money import Money, currency_exponent
from vending.storage.database import Txn
from vending.storage.schema import (
    PRODUCT_KINDS,
    REVERSAL_POLICIES,
    accounts,
    products,
    vendor_commissions,
    vendors,
)

PRODUCT_CODE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,31}")


@dataclass(frozen=True)
class Product:
    id: int
    code: str
    kind: str
    name: str
    currency: str
    supplier_account_id: int
    face_value: Money | None
    min_amount: Money | None
    max_amount: Money | None
    supplier_discount_bp: int
    # Exact supplier cost of a fixed-price product; None = derived from the discount.
    cost_price: Money | None
    merchant_commission_bp: int
    fee: Money
    reversal_policy: str
    attributes: dict[str, Any]
    active: bool

    @property
    def is_fixed_price(self) -> bool:
        return self.face_value is not None


@dataclass(frozen=True)
class Pricing:
    """How one sale's money splits."""

    price: Money
    supplier_share: Money
    commission: Money
    fee: Money

    @property
    def margin(self) -> Money:
        return self.price - self.supplier_share - self.commission

    @property
    def vendor_cost(self) -> Money:
        """What the vendor's float goes down by."""
        return self.price + self.fee - self.commission


def _from_row(row: Row) -> Product:
    currency = row.currency

    def money(value: int | None) -> Money | None:
        return None if value is None else Money(value, currency)

    return Product(
        id=row.id,
        code=row.code,
        kind=row.kind,
        name=row.name,
        currency=currency,
        supplier_account_id=row.supplier_account_id,
        face_value=money(row.face_value),
        min_amount=money(row.min_amount),
        max_amount=money(row.max_amount),
        supplier_discount_bp=row.supplier_discount_bp,
        cost_price=money(row.cost_price),
        merchant_commission_bp=row.merchant_commission_bp,
        fee=Money(row.fee, currency),
        reversal_policy=row.reversal_policy,
        attributes=dict(row.attributes or {}),
        active=row.active,
    )


def create_product(
    txn: Txn,
    *,
    code: str,
    kind: str,
    name: str,
    currency: str,
    supplier_account_code: str,
    face_value: Money | None = None,
    min_amount: Money | None = None,
    max_amount: Money | None = None,
    supplier_discount_bp: int = 0,
    cost_price: Money | None = None,
    merchant_commission_bp: int = 0,
    fee: Money | None = None,
    reversal_policy: str = "refund",
    attributes: dict[str, Any] | None = None,
    actor: str = "system",
    now: datetime,
) -> Product:
    if not PRODUCT_CODE_PATTERN.fullmatch(code):
        raise InvalidRequest(f"product code {code!r}: 1-32 letters, digits, '_', '.', ':' or '-'")
    if kind not in PRODUCT_KINDS:
        raise InvalidRequest(f"unknown product kind {kind!r} (one of {', '.join(PRODUCT_KINDS)})")
    if reversal_policy not in REVERSAL_POLICIES:
        raise InvalidRequest(f"reversal policy must be one of {', '.join(REVERSAL_POLICIES)}")
    currency_exponent(currency)
    fee = fee or Money.zero(currency)
    for label, value in (("face value", face_value), ("minimum", min_amount),
                         ("maximum", max_amount), ("fee", fee)):  # fmt: skip
        if value is not None and value.currency != currency:
            raise CurrencyMismatch(f"the {label} must be in {currency}")
    if face_value is not None:
        if min_amount is not None or max_amount is not None:
            raise InvalidRequest("a product has a face value or a min/max range, not both")
        if face_value.amount <= 0:
            raise InvalidAmount("the face value must be positive")
    else:
        if min_amount is None or max_amount is None:
            raise InvalidRequest("an open-amount product needs a minimum and a maximum")
        if min_amount.amount <= 0 or max_amount < min_amount:
            raise InvalidAmount("need 0 < minimum <= maximum")
    if cost_price is not None:
        # An exact cost replaces the percentage discount; the margin must stay >= 0.
        if face_value is None:
            raise InvalidRequest("a cost price needs a fixed face value")
        if cost_price.currency != currency:
            raise CurrencyMismatch(f"the cost price must be in {currency}")
        if not 0 <= cost_price.amount <= face_value.amount:
            raise InvalidAmount("need 0 <= cost price <= face value")
        supplier_discount_bp = -(
            -(face_value.amount - cost_price.amount) * 10_000 // face_value.amount
        )
        if face_value.percent_bp(merchant_commission_bp) > face_value - cost_price:
            raise InvalidRequest(
                "the merchant commission exceeds the operator's margin (face value - cost)"
            )
    if not 0 <= merchant_commission_bp <= supplier_discount_bp <= 10_000:
        raise InvalidRequest(
            "need 0 <= merchant commission <= supplier discount <= 10000 basis points "
            "(the operator must not pay out more than it earns)"
        )
    if fee.amount < 0:
        raise InvalidAmount("the fee cannot be negative")
    supplier = txn.execute(
        select(accounts.c.id, accounts.c.kind, accounts.c.currency).where(
            accounts.c.code == supplier_account_code
        )
    ).first()
    if supplier is None:
        raise InvalidRequest(f"no supplier or utility account {supplier_account_code!r}")
    if supplier.kind not in ("supplier", "utility"):
        raise InvalidRequest(f"account {supplier_account_code!r} is not a supplier or utility")
    if supplier.currency != currency:
        raise CurrencyMismatch(f"account {supplier_account_code!r} is not in {currency}")
    if txn.execute(select(products.c.id).where(products.c.code == code)).first():
        raise InvalidRequest(f"product {code!r} already exists")
    product_id = txn.execute(
        insert(products)
        .values(
            code=code,
            kind=kind,
            name=name,
            currency=currency,
            supplier_account_id=supplier.id,
            face_value=None if face_value is None else face_value.amount,
            min_amount=None if min_amount is None else min_amount.amount,
            max_amount=None if max_amount is None else max_amount.amount,
            supplier_discount_bp=supplier_discount_bp,
            cost_price=None if cost_price is None else cost_price.amount,
            merchant_commission_bp=merchant_commission_bp,
            fee=fee.amount,
            reversal_policy=reversal_policy,
            attributes=attributes or {},
            active=True,
            created_at=now,
        )
        .returning(products.c.id)
    ).scalar_one()
    audit.record(
        txn, actor=actor, action="product.create", subject=code, details={"kind": kind}, now=now
    )
    txn.call_after(read_cache.invalidate)
    return get_product(txn, product_id)


_BY_ID = select(products).where(products.c.id == bindparam("p_key"))
_BY_CODE = select(products).where(products.c.code == bindparam("p_key"))
_COMMISSION = select(vendor_commissions.c.merchant_commission_bp).where(
    vendor_commissions.c.vendor_id == bindparam("p_vendor"),
    vendor_commissions.c.product_id == bindparam("p_product"),
)
_PRODUCT_COMMISSIONS = select(
    vendor_commissions.c.vendor_id, vendor_commissions.c.merchant_commission_bp
).where(vendor_commissions.c.product_id == bindparam("p_product"))


def get_product(txn: Txn, product: int | str) -> Product:
    if plan_of(txn) is not None:  # a sale batch: the per-process cache (vending.read_cache)
        return read_cache.cached(txn, ("product", product), lambda: _read_product(txn, product))
    return _read_product(txn, product)


def _read_product(txn: Txn, product: int | str) -> Product:
    statement = _BY_ID if isinstance(product, int) else _BY_CODE
    row = txn.execute(statement, {"p_key": product}).first()
    if row is None:
        raise UnknownProduct(f"no product {product!r}")
    return _from_row(row)


def list_products(txn: Txn, *, kind: str | None = None, active_only: bool = False) -> list[Product]:
    query = select(products).order_by(products.c.id)
    if kind is not None:
        query = query.where(products.c.kind == kind)
    if active_only:
        query = query.where(products.c.active.is_(True))
    return [_from_row(row) for row in txn.execute(query)]


def set_active(txn: Txn, code: str, active: bool, *, actor: str, now: datetime) -> None:
    result = txn.execute(update(products).where(products.c.code == code).values(active=active))
    if result.rowcount != 1:
        raise UnknownProduct(f"no product {code!r}")
    txn.call_after(read_cache.invalidate)
    audit.record(
        txn, actor=actor, action="product.active", subject=code, details={"active": active}, now=now
    )


def set_vendor_commission(txn: Txn, vendor_id: int, product_id: int, commission_bp: int) -> None:
    product = get_product(txn, product_id)
    # A domain error, not the foreign key's IntegrityError.
    if txn.execute(select(vendors.c.id).where(vendors.c.id == vendor_id)).first() is None:
        raise UnknownVendor(f"no vendor {vendor_id}")
    if not 0 <= commission_bp <= product.supplier_discount_bp:
        raise InvalidRequest(
            f"commission must be 0..{product.supplier_discount_bp} basis points for {product.code}"
        )
    face, cost = product.face_value, product.cost_price
    if cost is not None and face is not None and face.percent_bp(commission_bp) > face - cost:
        raise InvalidRequest(f"commission exceeds the operator's margin on {product.code}")
    txn.call_after(read_cache.invalidate)
    existing = txn.execute(
        select(vendor_commissions.c.vendor_id).where(
            vendor_commissions.c.vendor_id == vendor_id,
            vendor_commissions.c.product_id == product_id,
        )
    ).first()
    if existing:
        txn.execute(
            update(vendor_commissions)
            .where(
                vendor_commissions.c.vendor_id == vendor_id,
                vendor_commissions.c.product_id == product_id,
            )
            .values(merchant_commission_bp=commission_bp)
        )
    else:
        txn.execute(
            insert(vendor_commissions).values(
                vendor_id=vendor_id, product_id=product_id, merchant_commission_bp=commission_bp
            )
        )


def vendor_commission_bp(txn: Txn, vendor_id: int, product: Product) -> int:
    if plan_of(txn) is not None:  # a sale batch: the per-process cache (vending.read_cache)
        # One entry per product holding every vendor's override: when the entry expires,
        # one statement refreshes all of them, not one statement per vendor inside each
        # batch that meets an expired vendor (overrides are few per product).
        def read_all() -> dict[int, int]:
            rows = txn.execute(_PRODUCT_COMMISSIONS, {"p_product": product.id})
            return {vendor: int(bp) for vendor, bp in rows}

        override = read_cache.cached(txn, ("commissions", product.id), read_all).get(vendor_id)
    else:
        override = txn.execute(
            _COMMISSION, {"p_vendor": vendor_id, "p_product": product.id}
        ).scalar()
    return product.merchant_commission_bp if override is None else int(override)


def price_sale(
    product: Product, amount: Money | None = None, *, commission_bp: int | None = None
) -> Pricing:
    """Price one sale of ``product``; ``amount`` is required for open-amount products and,
    when given for a fixed-price product, must equal its face value."""
    if not product.active:
        raise UnknownProduct(f"product {product.code} is not on sale")
    if amount is not None:
        if amount.currency != product.currency:
            raise CurrencyMismatch(
                f"{product.code} is sold in {product.currency}, not {amount.currency}"
            )
        if amount.amount <= 0:
            raise InvalidAmount("the amount must be positive")
    if product.face_value is not None:
        if amount is not None and amount != product.face_value:
            raise AmountOutOfRange(
                f"{product.code} has a face value of {product.face_value}, not {amount}"
            )
        price = product.face_value
    else:
        if amount is None:
            raise InvalidAmount(f"{product.code} needs an amount")
        assert product.min_amount is not None and product.max_amount is not None
        if not product.min_amount <= amount <= product.max_amount:
            raise AmountOutOfRange(
                f"{product.code} amounts must be {product.min_amount.format()} to "
                f"{product.max_amount.format()} {product.currency}"
            )
        price = amount
    bp = product.merchant_commission_bp if commission_bp is None else commission_bp
    supplier_share = (
        product.cost_price
        if product.cost_price is not None
        else price - price.percent_bp(product.supplier_discount_bp)
    )
    return Pricing(
        price=price,
        supplier_share=supplier_share,
        commission=price.percent_bp(bp),
        fee=product.fee,
    )
