"""Denominated voucher products: a core product of kind ``voucher`` whose supplier account
is a voucher supplier's, with the attributes a PIN slip and the stock-file checks need."""

from __future__ import annotations

from datetime import datetime

from vending.errors import CurrencyMismatch, InvalidRequest
from vending.money import Money
from vending.products import Product, create_product
from vending.storage.database import Txn
from vending.vouchers import alerts
from vending.vouchers.stockfile import PIN_MAX_DIGITS, PIN_MIN_DIGITS
from vending.vouchers.suppliers import get_supplier

CATEGORIES = ("airtime", "data", "dth", "electricity", "other")


def create_voucher_product(
    txn: Txn,
    *,
    code: str,
    supplier_code: str,
    network: str,
    face_value: Money,
    cost_price: Money,
    merchant_commission_bp: int,
    low_stock_threshold: int,
    name: str | None = None,
    denomination: str | None = None,
    category: str = "airtime",
    pin_length: int | None = None,
    instructions: str | None = None,
    actor: str,
    now: datetime,
) -> Product:
    """A voucher product sold at ``face_value``, bought from the supplier at ``cost_price``;
    the merchant's discount is ``merchant_commission_bp`` of the face value."""
    supplier = get_supplier(txn, supplier_code)
    if face_value.currency != supplier.currency:
        raise CurrencyMismatch(f"supplier {supplier_code} is paid in {supplier.currency}")
    if category not in CATEGORIES:
        raise InvalidRequest(f"category must be one of {', '.join(CATEGORIES)}")
    if not network.strip():
        raise InvalidRequest("name the network or brand")
    if pin_length is not None and not PIN_MIN_DIGITS <= pin_length <= PIN_MAX_DIGITS:
        raise InvalidRequest(f"a PIN has {PIN_MIN_DIGITS}-{PIN_MAX_DIGITS} digits")
    attributes: dict[str, object] = {
        "network": network,
        "category": category,
        "denomination": denomination or face_value.format(),
    }
    if pin_length is not None:
        attributes["pin_length"] = pin_length
    if instructions:
        attributes["instructions"] = instructions
    product = create_product(
        txn,
        code=code,
        kind="voucher",
        name=name or f"{network} {category} {denomination or face_value.format()}",
        currency=face_value.currency,
        supplier_account_code=supplier.account_code,
        face_value=face_value,
        cost_price=cost_price,
        merchant_commission_bp=merchant_commission_bp,
        reversal_policy="refund",
        attributes=attributes,
        actor=actor,
        now=now,
    )
    alerts.ensure_threshold(txn, product.id, low_stock_threshold)
    return product
