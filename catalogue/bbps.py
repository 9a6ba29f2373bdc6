"""BBPS-like bill payment: the biller registry, customer parameters, fetch requirement,
amount rules, bill fetches and complaints.

A biller (14-character id, e.g. ``VODA00000MUM03``) belongs to a category and is sold as a
vending product of that category (commission, fee, provider mappings). It declares its
customer parameters (name, format, optional), whether a bill must be fetched first
(MANDATORY: fetch -> pay with the fetch's reference; OPTIONAL; NOT_SUPPORTED: validate and
pay) and how the paid amount relates to the bill (EXACT, PARTIAL: at most the bill, OVER:
at least the bill, ANY). A fetched bill is paid once: while its payment is pending it cannot
be paid again (poll the status instead).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update

from catalogue.errors import (
    AmountRuleViolation,
    FetchRequired,
    InvalidCustomerParams,
    PaymentPending,
    UnknownBiller,
    UnknownBillFetch,
)
from catalogue.interface import FetchedBill
from catalogue.tables import (
    AMOUNT_RULES,
    FETCH_REQUIREMENTS,
    bill_complaints,
    bill_fetches,
    billers,
    provider_orders,
)
from vending import audit
from vending.errors import InvalidRequest
from vending.money import Money
from vending.products import get_product
from vending.storage.database import Txn
from vending.storage.schema import products

BILLER_ID = re.compile(r"[A-Z0-9]{14}")
PARAM_NAME = re.compile(r"[A-Za-z][A-Za-z0-9 _.-]{0,39}")
MOBILE = re.compile(r"[6-9]\d{9}")
COMPLAINT_KINDS = ("TRANSACTION", "SERVICE")
COMPLAINT_REASONS = (
    "Amount deducted, biller account not credited",
    "Paid twice",
    "Wrong amount",
    "Others",
)


@dataclass(frozen=True)
class CustomerParam:
    name: str
    pattern: str
    optional: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "pattern": self.pattern, "optional": self.optional}


@dataclass(frozen=True)
class Biller:
    biller_id: str
    name: str
    category: str
    product_code: str
    fetch_requirement: str
    amount_rule: str
    params: tuple[CustomerParam, ...]
    active: bool


@dataclass(frozen=True)
class BillFetch:
    ref_id: str
    biller_id: str
    vendor_id: int
    params: dict[str, str]
    customer_name: str
    bill_number: str
    bill_date: str | None
    due_date: str | None
    amount: Money
    fetched_at: datetime
    expires_at: datetime
    order_pk: int | None


def new_ref_id() -> str:
    """A network reference: 35 characters, the same from fetch to pay."""
    return "EVD" + secrets.token_hex(16).upper()


def _biller(row: Any) -> Biller:
    params = tuple(
        CustomerParam(p["name"], p["pattern"], bool(p.get("optional"))) for p in row.params
    )
    return Biller(
        row.biller_id,
        row.name,
        row.category,
        row.product_code,
        row.fetch_requirement,
        row.amount_rule,
        params,
        row.active,
    )


_BILLERS = select(billers, products.c.code.label("product_code")).join(
    products, products.c.id == billers.c.product_id
)


def add_biller(
    txn: Txn,
    *,
    biller_id: str,
    name: str,
    category: str,
    product_code: str,
    fetch_requirement: str,
    amount_rule: str,
    params: list[CustomerParam],
    actor: str,
    now: datetime,
) -> Biller:
    if not BILLER_ID.fullmatch(biller_id):
        raise InvalidRequest("a biller id is 14 capital letters or digits")
    if fetch_requirement not in FETCH_REQUIREMENTS:
        raise InvalidRequest(f"fetch requirement: one of {', '.join(FETCH_REQUIREMENTS)}")
    if amount_rule not in AMOUNT_RULES:
        raise InvalidRequest(f"amount rule: one of {', '.join(AMOUNT_RULES)}")
    if not params or len(params) > 5:
        raise InvalidRequest("a biller has 1-5 customer parameters")
    for param in params:
        if not PARAM_NAME.fullmatch(param.name):
            raise InvalidRequest(f"customer parameter name {param.name!r} is not valid")
        try:
            re.compile(param.pattern)
        except re.error:
            raise InvalidRequest(f"the format of {param.name!r} is not a regex") from None
    product = get_product(txn, product_code)
    if product.kind != "bill_payment":
        raise InvalidRequest(f"{product_code} is not a bill payment product")
    if txn.execute(select(billers.c.biller_id).where(billers.c.biller_id == biller_id)).first():
        raise InvalidRequest(f"biller {biller_id} exists already")
    txn.execute(
        insert(billers).values(
            biller_id=biller_id,
            name=name[:80],
            category=category[:32],
            product_id=product.id,
            fetch_requirement=fetch_requirement,
            amount_rule=amount_rule,
            params=[p.as_dict() for p in params],
            active=True,
        )
    )
    audit.record(txn, actor=actor, action="biller.add", subject=biller_id, now=now)
    return get_biller(txn, biller_id)


def set_biller_active(txn: Txn, biller_id: str, active: bool, *, actor: str, now: datetime) -> None:
    """Stop (or resume) taking payments and fetches for a biller; audited."""
    changed = txn.execute(
        update(billers).where(billers.c.biller_id == biller_id).values(active=active)
    )
    if changed.rowcount != 1:
        raise UnknownBiller(f"unknown biller {biller_id!r}")
    action = "biller.enable" if active else "biller.disable"
    audit.record(txn, actor=actor, action=action, subject=biller_id, now=now)


def get_biller(txn: Txn, biller_id: str) -> Biller:
    row = txn.execute(_BILLERS.where(billers.c.biller_id == biller_id)).first()
    if row is None or not row.active:
        raise UnknownBiller(f"unknown biller {biller_id!r}")
    return _biller(row)


def list_billers(txn: Txn, category: str | None = None) -> list[Biller]:
    query = _BILLERS.order_by(billers.c.category, billers.c.biller_id)
    if category is not None:
        query = query.where(billers.c.category == category)
    return [_biller(r) for r in txn.execute(query)]


def check_params(biller: Biller, given: dict[str, str]) -> dict[str, str]:
    """The customer parameters in the biller's order, each in its format; an unknown or
    missing parameter is refused (InvalidCustomerParams)."""
    known = {p.name for p in biller.params}
    unknown = sorted(set(given) - known)
    if unknown:
        raise InvalidCustomerParams(f"{biller.name} has no parameter {', '.join(unknown)}")
    checked: dict[str, str] = {}
    for param in biller.params:
        value = check_param(biller, param, given.get(param.name))
        if value is not None:
            checked[param.name] = value
    return checked


def check_param(biller: Biller, param: CustomerParam, given: str | None) -> str | None:
    """One customer parameter in its format (None: an optional one left out)."""
    value = (given or "").strip()
    if not value:
        if param.optional:
            return None
        raise InvalidCustomerParams(f"{param.name} is required by {biller.name}")
    if not re.fullmatch(param.pattern, value):
        raise InvalidCustomerParams(f"{param.name} {value!r} is not in the biller's format")
    return value


def check_mobile(mobile: str) -> str:
    if not MOBILE.fullmatch(mobile):
        raise InvalidRequest("the customer's mobile number is 10 digits starting 6-9")
    return mobile


def check_amount(rule: str, bill: Money | None, amount: Money) -> None:
    if amount.amount <= 0:
        raise AmountRuleViolation("the amount must be positive")
    if bill is None or rule == "ANY":
        return
    if rule == "EXACT" and amount != bill:
        raise AmountRuleViolation(f"this biller takes exactly the bill amount, {bill}")
    if rule == "PARTIAL" and amount > bill:
        raise AmountRuleViolation(f"this biller takes at most the bill amount, {bill}")
    if rule == "OVER" and amount < bill:
        raise AmountRuleViolation(f"this biller takes at least the bill amount, {bill}")


def record_fetch(
    txn: Txn,
    *,
    biller: Biller,
    vendor_id: int,
    params: dict[str, str],
    bill: FetchedBill,
    now: datetime,
    valid_for: timedelta,
) -> BillFetch:
    def day(value: date | None) -> str | None:
        return None if value is None else value.isoformat()

    txn.execute(
        insert(bill_fetches).values(
            ref_id=bill.ref_id,
            biller_id=biller.biller_id,
            vendor_id=vendor_id,
            params=params,
            customer_name=bill.customer_name[:80],
            bill_number=bill.bill_number[:40],
            bill_date=day(bill.bill_date),
            due_date=day(bill.due_date),
            amount=bill.amount.amount,
            currency=bill.amount.currency,
            fetched_at=now,
            expires_at=now + valid_for,
        )
    )
    return get_fetch(txn, bill.ref_id)


def get_fetch(txn: Txn, ref_id: str) -> BillFetch:
    row = txn.execute(select(bill_fetches).where(bill_fetches.c.ref_id == ref_id)).first()
    if row is None:
        raise UnknownBillFetch(f"no fetched bill {ref_id!r}")
    return BillFetch(
        row.ref_id,
        row.biller_id,
        row.vendor_id,
        dict(row.params),
        row.customer_name,
        row.bill_number,
        row.bill_date,
        row.due_date,
        Money(row.amount, row.currency),
        row.fetched_at,
        row.expires_at,
        row.order_pk,
    )


def latest_fetch(
    txn: Txn, biller_id: str, vendor_id: int, params: dict[str, str], now: datetime
) -> BillFetch | None:
    """The vendor's newest unexpired fetch of this customer's bill (a channel that cannot
    carry the fetch's reference from screen to screen finds it again), else None."""
    rows = txn.execute(
        select(bill_fetches.c.ref_id, bill_fetches.c.params)
        .where(
            bill_fetches.c.biller_id == biller_id,
            bill_fetches.c.vendor_id == vendor_id,
            bill_fetches.c.expires_at > now,
        )
        .order_by(bill_fetches.c.id.desc())
        .limit(20)
    ).all()
    found = next((row.ref_id for row in rows if dict(row.params) == params), None)
    return None if found is None else get_fetch(txn, found)


def fetch_for_payment(
    txn: Txn,
    biller: Biller,
    ref_id: str | None,
    vendor_id: int,
    params: dict[str, str],
    now: datetime,
) -> BillFetch | None:
    """The fetched bill a payment quotes (required when the biller's fetch is MANDATORY),
    checked: same vendor, biller and customer, not expired, not paid or being paid."""
    if ref_id is None:
        if biller.fetch_requirement == "MANDATORY":
            raise FetchRequired(f"{biller.name} bills are paid against a fetch: fetch first")
        return None
    fetched = get_fetch(txn, ref_id)
    if fetched.vendor_id != vendor_id or fetched.biller_id != biller.biller_id:
        raise UnknownBillFetch(f"no fetched bill {ref_id!r} for {biller.biller_id}")
    if fetched.params != params:
        raise InvalidCustomerParams("the customer parameters differ from the fetched bill's")
    if fetched.expires_at <= now:
        raise FetchRequired("the fetched bill expired: fetch it again")
    if fetched.order_pk is not None:
        state = txn.execute(
            select(provider_orders.c.state).where(provider_orders.c.id == fetched.order_pk)
        ).scalar_one()
        if state == "pending":
            raise PaymentPending("a payment of this bill is pending: ask its status")
        if state == "success":
            raise InvalidRequest("this bill is paid already")
    return fetched


def refuse_if_pending(txn: Txn, biller_id: str, target: str) -> None:
    """Never pay a biller's customer again while a payment is pending."""
    pending = txn.execute(
        select(provider_orders.c.order_id).where(
            provider_orders.c.service == "bill",
            provider_orders.c.target == target,
            provider_orders.c.state == "pending",
        )
    ).all()
    for _row in pending:
        raise PaymentPending(f"a payment to {biller_id} for {target} is pending: ask its status")


def link_fetch(txn: Txn, ref_id: str, order_pk: int) -> None:
    """The payment made against a fetch (a failed one is replaced by the next payment)."""
    txn.execute(
        update(bill_fetches).where(bill_fetches.c.ref_id == ref_id).values(order_pk=order_pk)
    )


def bill_target(biller: Biller, params: dict[str, str]) -> str:
    """The sale's target: the biller and its first customer parameter."""
    return f"{biller.biller_id}:{next(iter(params.values()), '')}"[:64]


# --- complaints -------------------------------------------------------------------------------


def record_complaint(
    txn: Txn,
    *,
    complaint_id: str,
    order_pk: int,
    kind: str,
    description: str,
    status: str,
    now: datetime,
) -> None:
    txn.execute(
        insert(bill_complaints).values(
            complaint_id=complaint_id[:20],
            order_pk=order_pk,
            kind=kind,
            description=description[:200],
            status=status[:16],
            created_at=now,
            updated_at=now,
        )
    )


def update_complaint(txn: Txn, complaint_id: str, status: str, now: datetime) -> None:
    txn.execute(
        update(bill_complaints)
        .where(bill_complaints.c.complaint_id == complaint_id)
        .values(status=status[:16], updated_at=now)
    )


def complaint_order(txn: Txn, complaint_id: str) -> str:
    row = txn.execute(
        select(provider_orders.c.order_id)
        .join(bill_complaints, bill_complaints.c.order_pk == provider_orders.c.id)
        .where(bill_complaints.c.complaint_id == complaint_id)
    ).first()
    if row is None:
        raise UnknownBillFetch(f"no complaint {complaint_id!r}")
    return row.order_id
