"""PIN-less recharge: mobile prepaid, DTH (subscriber id) and data cards.

Operators are registered with the vending product sold for them (price range, commission,
provider mappings). A mobile number is looked up to its operator and circle: first the
ported numbers (mobile number portability), then the numbering series its first four
digits belong to. Plans are fetched from a provider by operator and circle and cached until
they expire. Numbers are validated per operator before any money moves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select

from catalogue.errors import InvalidNumber, UnknownCircle, UnknownRechargeOperator
from catalogue.interface import Plan
from catalogue.tables import (
    RECHARGE_SERVICES,
    numbering_series,
    ported_numbers,
    recharge_operators,
    recharge_plans,
)
from vending import audit
from vending.errors import InvalidRequest
from vending.money import Money
from vending.products import Product, get_product
from vending.storage.database import Txn
from vending.storage.schema import products

# The 22 telecom circles (licensed service areas).
CIRCLES: dict[str, str] = {
    "AP": "Andhra Pradesh",
    "AS": "Assam",
    "BR": "Bihar & Jharkhand",
    "DL": "Delhi NCR",
    "GJ": "Gujarat",
    "HR": "Haryana",
    "HP": "Himachal Pradesh",
    "JK": "Jammu & Kashmir",
    "KA": "Karnataka",
    "KL": "Kerala",
    "KO": "Kolkata",
    "MP": "Madhya Pradesh & Chhattisgarh",
    "MH": "Maharashtra & Goa",
    "MU": "Mumbai",
    "NE": "North East",
    "OR": "Odisha",
    "PB": "Punjab",
    "RJ": "Rajasthan",
    "TN": "Tamil Nadu",
    "UE": "Uttar Pradesh (East)",
    "UW": "Uttar Pradesh (West) & Uttarakhand",
    "WB": "West Bengal",
}

MOBILE_NUMBER = re.compile(r"[6-9]\d{9}")
# Subscriber id formats of the DTH operators we know; others: 8-12 digits.
DTH_NUMBERS: dict[str, tuple[re.Pattern[str], str]] = {
    "TSKY": (re.compile(r"1\d{9}"), "10 digits starting with 1"),
    "ATVD": (re.compile(r"3\d{9}"), "10 digits starting with 3"),
    "DISH": (re.compile(r"0\d{10}"), "11 digits starting with 0"),
    "SUND": (re.compile(r"[14]\d{10}"), "11 digits starting with 1 or 4"),
}
ANY_DTH = (re.compile(r"\d{8,12}"), "8-12 digits")


@dataclass(frozen=True)
class RechargeOperator:
    code: str
    name: str
    service: str
    product_code: str


@dataclass(frozen=True)
class NumberInfo:
    msisdn: str
    operator: RechargeOperator
    circle: str
    ported: bool

    @property
    def circle_name(self) -> str:
        return CIRCLES[self.circle]


def normalise_mobile(number: str) -> str:
    """10 digits, without +91 / 91 / 0 (InvalidNumber otherwise)."""
    digits = re.sub(r"[\s-]", "", number)
    if digits.startswith("+91"):
        digits = digits[3:]
    elif len(digits) == 12 and digits.startswith("91"):
        digits = digits[2:]
    elif len(digits) == 11 and digits.startswith("0"):
        digits = digits[1:]
    if not MOBILE_NUMBER.fullmatch(digits):
        raise InvalidNumber(f"{number!r} is not an Indian mobile number (10 digits, 6-9 first)")
    return digits


def check_circle(circle: str) -> str:
    code = circle.upper()
    if code not in CIRCLES:
        raise UnknownCircle(f"unknown circle {circle!r} (one of {', '.join(CIRCLES)})")
    return code


def validate_target(operator: RechargeOperator, number: str) -> str:
    """The number as sold: a mobile number (mobile, data card) or a subscriber id (DTH)."""
    if operator.service in ("mobile", "datacard"):
        return normalise_mobile(number)
    pattern, rule = DTH_NUMBERS.get(operator.code, ANY_DTH)
    subscriber = number.strip()
    if not pattern.fullmatch(subscriber):
        raise InvalidNumber(f"{operator.name} subscriber ids are {rule}")
    return subscriber


# --- the operator registry ---------------------------------------------------------------------


def _operator(row) -> RechargeOperator:  # type: ignore[no-untyped-def]
    return RechargeOperator(row.code, row.name, row.service, row.product_code)


_OPERATORS = select(
    recharge_operators.c.code,
    recharge_operators.c.name,
    recharge_operators.c.service,
    products.c.code.label("product_code"),
).join(products, products.c.id == recharge_operators.c.product_id)


def add_operator(
    txn: Txn, *, code: str, name: str, service: str, product_code: str, actor: str
) -> RechargeOperator:
    if not re.fullmatch(r"[A-Z0-9]{2,8}", code):
        raise InvalidRequest("an operator code is 2-8 capital letters or digits")
    if service not in RECHARGE_SERVICES:
        raise InvalidRequest(f"service must be one of {', '.join(RECHARGE_SERVICES)}")
    product: Product = get_product(txn, product_code)
    if txn.execute(select(recharge_operators).where(recharge_operators.c.code == code)).first():
        raise InvalidRequest(f"operator {code} exists already")
    txn.execute(
        insert(recharge_operators).values(
            code=code, name=name[:60], service=service, product_id=product.id
        )
    )
    audit.record(txn, actor=actor, action="recharge.operator_add", subject=code)
    return get_operator(txn, code)


def get_operator(txn: Txn, code: str) -> RechargeOperator:
    row = txn.execute(_OPERATORS.where(recharge_operators.c.code == code.upper())).first()
    if row is None:
        raise UnknownRechargeOperator(f"unknown operator {code!r}")
    return _operator(row)


def operator_for_product(txn: Txn, product_code: str) -> RechargeOperator:
    row = txn.execute(_OPERATORS.where(products.c.code == product_code)).first()
    if row is None:
        raise UnknownRechargeOperator(f"{product_code!r} is not a recharge product")
    return _operator(row)


def list_operators(txn: Txn) -> list[RechargeOperator]:
    return [_operator(r) for r in txn.execute(_OPERATORS.order_by(recharge_operators.c.code))]


def add_series(txn: Txn, prefix: str, operator_code: str, circle: str) -> None:
    if not re.fullmatch(r"[6-9]\d{3}", prefix):
        raise InvalidRequest("a numbering series is the first 4 digits of mobile numbers")
    operator = get_operator(txn, operator_code)
    txn.execute(delete(numbering_series).where(numbering_series.c.prefix == prefix))
    txn.execute(
        insert(numbering_series).values(
            prefix=prefix, operator_code=operator.code, circle=check_circle(circle)
        )
    )


def record_port(txn: Txn, msisdn: str, operator_code: str, circle: str, now: datetime) -> None:
    """A number ported to ``operator_code`` (keeps its circle unless told otherwise)."""
    number = normalise_mobile(msisdn)
    operator = get_operator(txn, operator_code)
    txn.execute(delete(ported_numbers).where(ported_numbers.c.msisdn == number))
    txn.execute(
        insert(ported_numbers).values(
            msisdn=number, operator_code=operator.code, circle=check_circle(circle), ported_at=now
        )
    )


def lookup_number(txn: Txn, number: str) -> NumberInfo:
    """Operator and circle of a mobile number (ported numbers first)."""
    msisdn = normalise_mobile(number)
    ported = txn.execute(
        select(ported_numbers.c.operator_code, ported_numbers.c.circle).where(
            ported_numbers.c.msisdn == msisdn
        )
    ).first()
    if ported is not None:
        return NumberInfo(msisdn, get_operator(txn, ported.operator_code), ported.circle, True)
    series = txn.execute(
        select(numbering_series.c.operator_code, numbering_series.c.circle).where(
            numbering_series.c.prefix == msisdn[:4]
        )
    ).first()
    if series is None:
        raise UnknownRechargeOperator(f"no operator known for numbers starting {msisdn[:4]}")
    return NumberInfo(msisdn, get_operator(txn, series.operator_code), series.circle, False)


# --- plans cache ------------------------------------------------------------------------------


def cached_plans(txn: Txn, operator_code: str, circle: str, now: datetime) -> list[Plan] | None:
    row = txn.execute(
        select(recharge_plans.c.plans, recharge_plans.c.expires_at).where(
            recharge_plans.c.operator_code == operator_code,
            recharge_plans.c.circle == circle,
        )
    ).first()
    if row is None or row.expires_at <= now:
        return None
    return [
        Plan(
            p["code"],
            Money(p["amount"], p["currency"]),
            p["validity"],
            p["description"],
            p.get("category", "topup"),
        )
        for p in row.plans
    ]


def store_plans(
    txn: Txn, operator_code: str, circle: str, plans: list[Plan], now: datetime, ttl: timedelta
) -> None:
    txn.execute(
        delete(recharge_plans).where(
            recharge_plans.c.operator_code == operator_code, recharge_plans.c.circle == circle
        )
    )
    txn.execute(
        insert(recharge_plans).values(
            operator_code=operator_code,
            circle=circle,
            plans=[
                {
                    "code": p.code,
                    "amount": p.amount.amount,
                    "currency": p.amount.currency,
                    "validity": p.validity,
                    "description": p.description,
                    "category": p.category,
                }
                for p in plans
            ],
            fetched_at=now,
            expires_at=now + ttl,
        )
    )
