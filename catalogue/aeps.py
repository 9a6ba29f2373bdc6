"""AEPS (Aadhaar-enabled payments) through a sponsor bank: cash withdrawal, balance
enquiry, mini statement and Aadhaar Pay at a merchant (the agent).

* The Aadhaar number: 12 digits, not starting 0 or 1, with its Verhoeff check digit. It is
  never stored in clear: a keyed hash (keyring secret) and its last four digits.
* The bank by its IIN (6 digits, the banks we know: :data:`BANKS`).
* The PID block (the fingerprint device's encrypted ``<PidData>``) is forwarded opaque: never
  decrypted, stored or logged (:class:`PidBlock` hides it even from ``repr``).
* The agent logs in with its own biometrics once a day before any transaction.
* Limits: a cash withdrawal is at most Rs 10,000; one Aadhaar withdraws at most Rs 20,000 a
  day through us.
* Declines: bank 51 (insufficient funds), 91 (issuer unavailable); UIDAI 300 (biometric
  mismatch), 330 (biometrics locked), 998 (invalid Aadhaar).
* A cash withdrawal (the merchant handed over cash) and an Aadhaar Pay credit the merchant's
  wallet from the sponsor bank's settlement account; a withdrawal adds the commission of its
  slab, paid from the house's revenue.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update

from catalogue.errors import CatalogueError
from catalogue.tables import aeps_logins, aeps_transactions
from vending.errors import InvalidRequest
from vending.keyring import Keyring
from vending.money import Money
from vending.storage.database import Txn

KINDS = ("CW", "BE", "MS", "AP")  # withdrawal, balance, mini statement, Aadhaar Pay
MONEY_KINDS = ("CW", "AP")
CW_LIMIT = 1_000_000  # paise: Rs 10,000 a withdrawal
DAILY_CW_LIMIT = 2_000_000  # Rs 20,000 a day per Aadhaar
PID_MAX = 64 * 1024
# Commission slabs of a withdrawal: (up to paise, commission paise).
CW_SLABS = ((100_000, 200), (300_000, 600), (1_000_000, 1_200))
DECLINES = {
    "51": "Insufficient funds in the customer's account",
    "91": "The customer's bank is not available",
    "300": "Biometric data did not match",
    "330": "The customer's biometrics are locked",
    "998": "Invalid Aadhaar number",
}
BANKS = {
    "607094": "State Bank of India",
    "607027": "Punjab National Bank",
    "606985": "Bank of Baroda",
    "607161": "Union Bank of India",
    "508534": "ICICI Bank",
    "607152": "HDFC Bank",
}

# Verhoeff: multiplication (dihedral group D5), permutation and inverse tables.
_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)
_INV = (0, 4, 3, 2, 1, 5, 6, 7, 8, 9)


class AepsDeclined(CatalogueError):
    """The bank or UIDAI declined the transaction (``response_code``)."""

    code = "aeps_declined"

    def __init__(self, response_code: str, message: str | None = None) -> None:
        super().__init__(message or DECLINES.get(response_code, "Declined"))
        self.response_code = response_code


class AgentNotLoggedIn(CatalogueError):
    """The agent has not done today's biometric login."""

    code = "aeps_login_required"


class AepsLimit(CatalogueError):
    code = "aeps_limit"


def verhoeff_check(digits: str) -> int:
    """The Verhoeff check digit to append to ``digits``."""
    c = 0
    for i, ch in enumerate(reversed(digits)):
        c = _D[c][_P[(i + 1) % 8][int(ch)]]
    return _INV[c]


def verhoeff_valid(number: str) -> bool:
    if not number.isdigit():
        return False
    c = 0
    for i, ch in enumerate(reversed(number)):
        c = _D[c][_P[i % 8][int(ch)]]
    return c == 0


def check_aadhaar(number: str) -> str:
    digits = re.sub(r"[\s-]", "", number)
    if not re.fullmatch(r"[2-9]\d{11}", digits) or not verhoeff_valid(digits):
        raise InvalidRequest("not a valid Aadhaar number (12 digits with its check digit)")
    return digits


def check_iin(iin: str) -> str:
    if not re.fullmatch(r"\d{6}", iin):
        raise InvalidRequest("a bank IIN is 6 digits")
    if iin not in BANKS:
        raise InvalidRequest(f"bank IIN {iin} is not served")
    return iin


class PidBlock:
    """The biometric PID block, opaque: forwarded to the bank, never stored, logged or
    shown (``repr``/``str`` name only its size)."""

    __slots__ = ("_data",)

    def __init__(self, data: bytes) -> None:
        if not data or len(data) > PID_MAX or b"<PidData" not in data[:200]:
            raise InvalidRequest("the PID block is not the capture device's PidData")
        self._data = data

    def __repr__(self) -> str:
        return f"<PidBlock {len(self._data)} bytes>"

    __str__ = __repr__

    def reveal_to_bank(self) -> bytes:
        """The bytes, for the sponsor bank's client only."""
        return self._data


def aadhaar_ref(txn: Txn, keyring: Keyring, aadhaar: str) -> str:
    """The keyed hash an Aadhaar number is stored as (daily limits, reports)."""
    key = keyring.secret(txn, "aeps-aadhaar")
    return hmac.new(key, aadhaar.encode(), hashlib.sha256).hexdigest()


def commission_for(amount: Money) -> Money:
    for up_to, commission in CW_SLABS:
        if amount.amount <= up_to:
            return Money(commission, amount.currency)
    return Money(CW_SLABS[-1][1], amount.currency)


def day_of(now: datetime) -> str:
    return now.date().isoformat()


def record_login(txn: Txn, vendor_id: int, now: datetime) -> None:
    day = day_of(now)
    seen = txn.execute(
        select(aeps_logins.c.vendor_id).where(
            aeps_logins.c.vendor_id == vendor_id, aeps_logins.c.day == day
        )
    ).first()
    if seen is None:
        txn.execute(insert(aeps_logins).values(vendor_id=vendor_id, day=day, logged_in_at=now))


def require_login(txn: Txn, vendor_id: int, now: datetime) -> None:
    found = txn.execute(
        select(aeps_logins.c.vendor_id).where(
            aeps_logins.c.vendor_id == vendor_id, aeps_logins.c.day == day_of(now)
        )
    ).first()
    if found is None:
        raise AgentNotLoggedIn("do today's biometric login (agent) before AEPS transactions")


def withdrawn_today(txn: Txn, ref: str, now: datetime) -> int:
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    total = txn.execute(
        select(func.coalesce(func.sum(aeps_transactions.c.amount), 0)).where(
            aeps_transactions.c.aadhaar_ref == ref,
            aeps_transactions.c.kind == "CW",
            aeps_transactions.c.state.in_(("pending", "success")),
            aeps_transactions.c.created_at >= start,
        )
    ).scalar_one()
    return int(total)


def check_limits(txn: Txn, kind: str, ref: str, amount: Money | None, now: datetime) -> None:
    if kind in MONEY_KINDS:
        if amount is None or amount.amount <= 0:
            raise InvalidRequest(f"{kind} needs a positive amount")
    elif amount is not None and amount.amount:
        raise InvalidRequest(f"{kind} moves no money: no amount")
    if kind == "CW":
        assert amount is not None
        if amount.amount > CW_LIMIT:
            raise AepsLimit("a cash withdrawal is at most Rs 10,000")
        if withdrawn_today(txn, ref, now) + amount.amount > DAILY_CW_LIMIT:
            raise AepsLimit("this Aadhaar reached its daily withdrawal limit (Rs 20,000)")


@dataclass(frozen=True)
class AepsTxn:
    id: int
    request_pk: int
    vendor_id: int
    kind: str
    aadhaar_last4: str
    iin: str
    amount: Money | None
    state: str
    stan: str
    rrn: str | None
    response_code: str | None
    message: str | None
    balance: Money | None
    statement: list[dict[str, Any]]
    commission: Money | None


def _txn(row: Any) -> AepsTxn:
    currency = row.currency

    def money(value: int | None) -> Money | None:
        return None if value is None else Money(value, currency)

    return AepsTxn(
        row.id,
        row.request_pk,
        row.vendor_id,
        row.kind,
        row.aadhaar_last4,
        row.iin,
        money(row.amount),
        row.state,
        row.stan,
        row.rrn,
        row.response_code,
        row.message,
        money(row.balance),
        list(row.statement or []),
        money(row.commission),
    )


def open_txn(
    txn: Txn,
    *,
    request_pk: int,
    vendor_id: int,
    kind: str,
    ref: str,
    aadhaar: str,
    iin: str,
    amount: Money | None,
    currency: str,
    now: datetime,
) -> AepsTxn:
    new_id = txn.execute(
        insert(aeps_transactions)
        .values(
            request_pk=request_pk,
            vendor_id=vendor_id,
            kind=kind,
            aadhaar_ref=ref,
            aadhaar_last4=aadhaar[-4:],
            iin=iin,
            amount=None if amount is None else amount.amount,
            currency=currency,
            state="pending",
            stan=f"{request_pk % 1_000_000:06d}",
            created_at=now,
        )
        .returning(aeps_transactions.c.id)
    ).scalar_one()
    return get_txn(txn, new_id)


def get_txn(txn: Txn, txn_id: int) -> AepsTxn:
    return _txn(
        txn.execute(select(aeps_transactions).where(aeps_transactions.c.id == txn_id)).one()
    )


def close_txn(txn: Txn, txn_id: int, state: str, now: datetime, **values: Any) -> bool:
    result = txn.execute(
        update(aeps_transactions)
        .where(aeps_transactions.c.id == txn_id, aeps_transactions.c.state == "pending")
        .values(state=state, completed_at=now, **values)
    )
    return result.rowcount == 1
