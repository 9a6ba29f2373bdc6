"""Insurance policy issuance (issue 14 §5): the plans we sell (a vending product each,
mapped to the insurer's plan code), the holder's details and age. Premium payment of
existing policies is a biller category (``Insurance``, catalogue.bbps), not this.

quote (the insurer prices the plan for the holder's age, sum insured and term) -> issue
(a provider order for the quoted premium: held in suspense, settled on the insurer's
SUCCESS with the policy number and its document reference, refunded only on a final
FAILED) -> the policy document reference on the receipt."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from vending.errors import InvalidRequest

# Our product code -> (the plan's name, shortest and longest term in years).
PLANS = {
    "INS-TERM": ("Term life cover", 5, 40),
    "INS-HEALTH": ("Family health cover", 1, 3),
    "INS-ACCIDENT": ("Personal accident cover", 1, 5),
}
_NAME = re.compile(r"[A-Za-z][A-Za-z .'-]{1,59}")
_MOBILE = re.compile(r"[6-9]\d{9}")


@dataclass(frozen=True)
class Holder:
    name: str
    dob: date
    mobile: str


def check_plan(product_code: str, term_years: int) -> str:
    plan = PLANS.get(product_code)
    if plan is None:
        raise InvalidRequest(f"no insurance plan {product_code!r} (one of {', '.join(PLANS)})")
    _name, shortest, longest = plan
    if not shortest <= term_years <= longest:
        raise InvalidRequest(f"{product_code} terms are {shortest} to {longest} years")
    return product_code


def check_holder(name: str, dob: str, mobile: str, today: date) -> Holder:
    if not _NAME.fullmatch(name.strip()):
        raise InvalidRequest("the holder's name: 2-60 letters, spaces, '.', ''' or '-'")
    try:
        born = date.fromisoformat(dob)
    except ValueError:
        raise InvalidRequest("dob must be a date, YYYY-MM-DD") from None
    if born >= today:
        raise InvalidRequest("dob must be in the past")
    digits = mobile.removeprefix("+91") if mobile.startswith("+91") else mobile
    if not _MOBILE.fullmatch(digits):
        raise InvalidRequest("mobile: 10 digits starting 6-9")
    return Holder(name.strip(), born, digits)


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))
