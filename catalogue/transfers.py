"""Domestic money transfer (IMPS-like): walk-in senders with KYC-lite monthly limits,
beneficiaries validated by a penny drop, transfers through a provider returning a UTR.

* A sender is known by mobile number; ``minimum`` KYC may send Rs 25,000 a calendar month
  (UTC), ``full`` KYC Rs 2,00,000; one transfer is at most Rs 5,000 (IMPS walk-in tranche).
  Pending and successful transfers count against the month; failed (refunded) ones do not.
* A beneficiary (account number 9-18 digits, IFSC ``AAAA0XXXXXX``) is validated by a penny
  drop: the bank's name for the account is kept beside the name given, and whether they
  match.
* The fee is 1 % of the amount, at least Rs 10; the merchant earns half of it as
  commission. The customer pays amount + fee; the bank (supplier) gets the amount.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select

from catalogue.errors import CatalogueError
from catalogue.tables import KYC_LEVELS, dmt_beneficiaries, dmt_senders, provider_orders
from vending.errors import InvalidRequest, NotFound
from vending.money import Money
from vending.products import Pricing
from vending.storage.database import Txn
from vending.storage.schema import sales

IFSC = re.compile(r"[A-Z]{4}0[A-Z0-9]{6}")
ACCOUNT = re.compile(r"\d{9,18}")
MOBILE = re.compile(r"[6-9]\d{9}")
PER_TRANSFER_LIMIT = 500_000  # paise: Rs 5,000
MONTHLY_LIMITS = {"minimum": 2_500_000, "full": 20_000_000}
FEE_BP = 100
MIN_FEE = 1_000
COMMISSION_SHARE_BP = 5_000
# Beneficiaries listed for a sender at most (a transfer screen's list).
LISTED = 9


class LimitExceeded(CatalogueError):
    """The transfer exceeds the sender's limit."""

    code = "limit_exceeded"


class UnknownSender(NotFound):
    code = "unknown_sender"


class UnknownBeneficiary(NotFound):
    code = "unknown_beneficiary"


@dataclass(frozen=True)
class Sender:
    mobile: str
    name: str
    kyc: str
    vendor_id: int

    @property
    def monthly_limit(self) -> int:
        return MONTHLY_LIMITS[self.kyc]


@dataclass(frozen=True)
class Beneficiary:
    id: int
    sender_mobile: str
    name: str
    account_no: str
    ifsc: str
    verified_name: str | None
    name_matches: bool | None


def check_mobile(mobile: str) -> str:
    if not MOBILE.fullmatch(mobile):
        raise InvalidRequest("a sender's mobile number is 10 digits starting 6-9")
    return mobile


def check_account(account_no: str, ifsc: str) -> tuple[str, str]:
    if not ACCOUNT.fullmatch(account_no):
        raise InvalidRequest("an account number is 9-18 digits")
    code = ifsc.upper()
    if not IFSC.fullmatch(code):
        raise InvalidRequest("an IFSC is 4 letters, 0, then 6 letters or digits")
    return account_no, code


def names_match(given: str, verified: str) -> bool:
    """The bank's name covers the name given (order, case and dots ignored), or they share
    at least two words (a middle name left out)."""

    def words(text: str) -> set[str]:
        return {w for w in re.split(r"[\s.]+", text.upper()) if len(w) > 1}

    mine, theirs = words(given), words(verified)
    return bool(mine) and (mine <= theirs or len(mine & theirs) >= 2)


def register_sender(
    txn: Txn, *, mobile: str, name: str, kyc: str, vendor_id: int, now: datetime
) -> Sender:
    check_mobile(mobile)
    if kyc not in KYC_LEVELS:
        raise InvalidRequest(f"KYC level: one of {', '.join(KYC_LEVELS)}")
    if not name.strip() or len(name) > 80:
        raise InvalidRequest("a sender's name is 1-80 characters")
    if txn.execute(select(dmt_senders.c.mobile).where(dmt_senders.c.mobile == mobile)).first():
        raise InvalidRequest(f"sender {mobile} is registered already")
    txn.execute(
        insert(dmt_senders).values(
            mobile=mobile, name=name.strip(), kyc=kyc, vendor_id=vendor_id, created_at=now
        )
    )
    return get_sender(txn, mobile)


def get_sender(txn: Txn, mobile: str) -> Sender:
    row = txn.execute(select(dmt_senders).where(dmt_senders.c.mobile == mobile)).first()
    if row is None:
        raise UnknownSender(f"no sender {mobile}: register the sender first")
    return Sender(row.mobile, row.name, row.kyc, row.vendor_id)


def add_beneficiary(
    txn: Txn,
    *,
    sender: Sender,
    name: str,
    account_no: str,
    ifsc: str,
    verified_name: str | None,
    now: datetime,
) -> Beneficiary:
    account_no, ifsc = check_account(account_no, ifsc)
    matches = None if verified_name is None else names_match(name, verified_name)
    existing = txn.execute(
        select(dmt_beneficiaries.c.id).where(
            dmt_beneficiaries.c.sender_mobile == sender.mobile,
            dmt_beneficiaries.c.account_no == account_no,
            dmt_beneficiaries.c.ifsc == ifsc,
        )
    ).first()
    if existing is not None:
        raise InvalidRequest("this beneficiary is registered already")
    new_id = txn.execute(
        insert(dmt_beneficiaries)
        .values(
            sender_mobile=sender.mobile,
            name=name.strip()[:80],
            account_no=account_no,
            ifsc=ifsc,
            verified_name=verified_name,
            name_matches=matches,
            created_at=now,
        )
        .returning(dmt_beneficiaries.c.id)
    ).scalar_one()
    return get_beneficiary(txn, sender.mobile, new_id)


def get_beneficiary(txn: Txn, sender_mobile: str, beneficiary_id: int) -> Beneficiary:
    row = txn.execute(
        select(dmt_beneficiaries).where(
            dmt_beneficiaries.c.id == beneficiary_id,
            dmt_beneficiaries.c.sender_mobile == sender_mobile,
        )
    ).first()
    if row is None:
        raise UnknownBeneficiary(f"no beneficiary {beneficiary_id} of {sender_mobile}")
    return Beneficiary(
        row.id,
        row.sender_mobile,
        row.name,
        row.account_no,
        row.ifsc,
        row.verified_name,
        row.name_matches,
    )


def list_beneficiaries(txn: Txn, sender_mobile: str, limit: int = LISTED) -> list[Beneficiary]:
    """The sender's beneficiaries, oldest first."""
    rows = txn.execute(
        select(dmt_beneficiaries.c.id)
        .where(dmt_beneficiaries.c.sender_mobile == sender_mobile)
        .order_by(dmt_beneficiaries.c.id)
        .limit(limit)
    ).all()
    return [get_beneficiary(txn, sender_mobile, row.id) for row in rows]


def fee_for(amount: Money) -> Money:
    return Money(max(MIN_FEE, amount.amount * FEE_BP // 10_000), amount.currency)


def pricing_for(amount: Money) -> Pricing:
    """The customer pays amount + fee; the bank gets the amount; half the fee is the
    merchant's commission, the other half the house's margin."""
    fee = fee_for(amount)
    return Pricing(
        price=amount + fee,
        supplier_share=amount,
        commission=Money(fee.amount * COMMISSION_SHARE_BP // 10_000, amount.currency),
        fee=Money.zero(amount.currency),
    )


def used_this_month(txn: Txn, sender_mobile: str, now: datetime) -> int:
    """Paise sent (pending or successful) by the sender this calendar month."""
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    rows = txn.execute(
        select(provider_orders.c.params, sales.c.cost)
        .join(sales, sales.c.id == provider_orders.c.sale_id)
        .where(
            provider_orders.c.service == "dmt",
            provider_orders.c.state != "failed",
            provider_orders.c.created_at >= start,
            provider_orders.c.target.like(f"%:{sender_mobile}"),
        )
    ).all()
    return sum(row.cost for row in rows if row.params.get("sender") == sender_mobile)


def check_limits(txn: Txn, sender: Sender, amount: Money, now: datetime) -> None:
    if amount.amount > PER_TRANSFER_LIMIT:
        raise LimitExceeded("one transfer is at most Rs 5,000")
    used = used_this_month(txn, sender.mobile, now)
    if used + amount.amount > sender.monthly_limit:
        left = Money(max(0, sender.monthly_limit - used), amount.currency)
        raise LimitExceeded(f"the sender's monthly limit leaves {left.format()} this month")


def transfer_target(beneficiary: Beneficiary) -> str:
    """The sale's target: the account, and the sender (for the monthly sum)."""
    return f"{beneficiary.ifsc}/{beneficiary.account_no}:{beneficiary.sender_mobile}"
