"""Card payments through the acquirer's switch: storage, PCI basics, settlement.

PCI basics: the PAN is kept only masked (first 6, last 4) and as an HMAC-SHA256 under a
keyring secret (the same card gives the same hash, for disputes and reconciliation); the
CVV, track data and PIN blocks are never stored. A payment's answer (replayed for the
consumer's reference) never holds card data.

States: ``sent`` (0200 out) -> ``declined`` | ``approved`` -> ``sold``, or -> ``reversing``
(timeout, late answer, the sale failed after approval) -> ``reversed`` (0430 received).
An approved payment funds the checkout vendor's account from the card clearing account
(one balanced transfer, in the transaction that records the approval); a reversal after
funding takes it back (the opposite transfer), in the transaction that starts reversing.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from vending.accounts import create_account
from vending.channel_tables import card_payments
from vending.errors import IdempotencyConflict, InvalidRequest
from vending.keyring import Keyring
from vending.ledger import Leg, post_transfer, reverse_transfer
from vending.money import Money
from vending.storage.database import Txn
from vending.storage.schema import accounts

PAN_SECRET = "card-pan-hash"


class CardDataInvalid(InvalidRequest):
    """The card number, expiry or security code is not valid."""

    code = "card_data_invalid"


def luhn_ok(pan: str) -> bool:
    total = 0
    for index, digit in enumerate(reversed(pan)):
        value = int(digit)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def mask_pan(pan: str) -> str:
    return pan[:6] + "*" * (len(pan) - 10) + pan[-4:]


def check_card(pan: str, expiry: str, cvv: str, *, today: datetime) -> None:
    """Refuse a bad card before anything is stored or sent (``expiry`` YYMM)."""
    if not (pan.isdigit() and 13 <= len(pan) <= 19 and luhn_ok(pan)):
        raise CardDataInvalid("the card number is not valid")
    if not (len(expiry) == 4 and expiry.isdigit() and 1 <= int(expiry[2:]) <= 12):
        raise CardDataInvalid("the expiry date is YYMM")
    if (2000 + int(expiry[:2]), int(expiry[2:])) < (today.year, today.month):
        raise CardDataInvalid("the card has expired")
    if not (cvv.isdigit() and len(cvv) in (3, 4)):
        raise CardDataInvalid("the security code is 3 or 4 digits")


def pan_hash(txn: Txn, keyring: Keyring, pan: str) -> bytes:
    return hmac.new(keyring.secret(txn, PAN_SECRET), pan.encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class CardPayment:
    id: int
    reference: str
    fingerprint: bytes
    product_code: str
    target: str
    amount: Money
    pan_masked: str
    stan: str
    rrn: str
    transmitted_at: str
    state: str
    response_code: str | None
    auth_code: str | None
    reversal_reason: str | None
    reversal_attempts: int
    funding_transfer_id: int | None
    created_at: datetime


def _payment(row) -> CardPayment:  # type: ignore[no-untyped-def]
    return CardPayment(
        id=row.id,
        reference=row.reference,
        fingerprint=bytes(row.fingerprint),
        product_code=row.product_code,
        target=row.target,
        amount=Money(row.amount, row.currency),
        pan_masked=row.pan_masked,
        stan=row.stan,
        rrn=row.rrn,
        transmitted_at=row.transmitted_at,
        state=row.state,
        response_code=row.response_code,
        auth_code=row.auth_code,
        reversal_reason=row.reversal_reason,
        reversal_attempts=row.reversal_attempts,
        funding_transfer_id=row.funding_transfer_id,
        created_at=row.created_at,
    )


def _aad(reference: str) -> bytes:
    return b"evd-card-answer:" + reference.encode()


def find(txn: Txn, reference: str) -> CardPayment | None:
    row = txn.execute(select(card_payments).where(card_payments.c.reference == reference)).first()
    return None if row is None else _payment(row)


def find_by_stan(txn: Txn, stan: str, transmitted_at: str) -> CardPayment | None:
    row = txn.execute(
        select(card_payments).where(
            card_payments.c.stan == stan, card_payments.c.transmitted_at == transmitted_at
        )
    ).first()
    return None if row is None else _payment(row)


def stored_answer(txn: Txn, keyring: Keyring, reference: str) -> bytes | None:
    row = txn.execute(
        select(card_payments.c.answer).where(card_payments.c.reference == reference)
    ).first()
    if row is None or row.answer is None:
        return None
    (key_id,) = struct.unpack(">I", row.answer[:4])
    return keyring.decrypt(txn, key_id, bytes(row.answer[4:]), aad=_aad(reference))


def start(
    txn: Txn,
    keyring: Keyring,
    *,
    reference: str,
    fingerprint: bytes,
    product_code: str,
    target: str,
    amount: Money,
    pan: str,
    stan: str,
    rrn: str,
    transmitted_at: str,
    now: datetime,
) -> CardPayment | None:
    """Record a payment about to be sent (``sent``). None: the reference is taken by an
    identical request (replay it); IdempotencyConflict: by another one."""
    existing = find(txn, reference)
    if existing is not None:
        if not hmac.compare_digest(existing.fingerprint, fingerprint):
            raise IdempotencyConflict(f"reference {reference} was used for another payment")
        return None
    txn.execute(
        card_payments.insert().values(
            reference=reference,
            fingerprint=fingerprint,
            product_code=product_code,
            target=target,
            amount=amount.amount,
            currency=amount.currency,
            pan_masked=mask_pan(pan),
            pan_hash=pan_hash(txn, keyring, pan),
            stan=stan,
            rrn=rrn,
            transmitted_at=transmitted_at,
            state="sent",
            reversal_attempts=0,
            created_at=now,
            updated_at=now,
        )
    )
    found = find(txn, reference)
    assert found is not None
    return found


def _set(txn: Txn, payment_id: int, now: datetime, **values: object) -> None:
    txn.execute(
        update(card_payments)
        .where(card_payments.c.id == payment_id)
        .values(updated_at=now, **values)
    )


def store_answer(
    txn: Txn,
    keyring: Keyring,
    payment: CardPayment,
    answer: bytes,
    *,
    state: str | None = None,
    now: datetime,
) -> None:
    """Keep the checkout's answer (encrypted; never card data); ``state`` None keeps it."""
    key_id, blob = keyring.encrypt(txn, answer, aad=_aad(payment.reference))
    values: dict[str, object] = {"answer": struct.pack(">I", key_id) + blob}
    if state is not None:
        values["state"] = state
    _set(txn, payment.id, now, **values)


def declined(txn: Txn, payment_id: int, response_code: str, *, now: datetime) -> None:
    _set(txn, payment_id, now, state="declined", response_code=response_code)


def _clearing_account(txn: Txn, currency: str, now: datetime) -> int:
    code = f"clearing:CARD:{currency}"
    found = txn.execute(select(accounts.c.id).where(accounts.c.code == code)).scalar()
    if found is not None:
        return int(found)
    return create_account(
        txn,
        code=code,
        kind="house",
        name=f"Card acquirer clearing ({currency})",
        currency=currency,
        now=now,
    ).id


def approve_and_fund(
    txn: Txn,
    payment: CardPayment,
    *,
    response_code: str,
    auth_code: str | None,
    vendor_account_id: int,
    now: datetime,
) -> bool:
    """The 0210 approved it: fund the checkout vendor (one balanced transfer). False when
    the payment is no longer waiting (a timeout started its reversal first)."""
    current = txn.execute(
        select(card_payments.c.state).where(card_payments.c.id == payment.id)
    ).scalar_one()
    if current != "sent":
        return False
    transfer = post_transfer(
        txn,
        kind="card_payment",
        legs=[
            Leg(
                _clearing_account(txn, payment.amount.currency, now),
                -payment.amount,
                "card_clearing",
            ),
            Leg(vendor_account_id, payment.amount, "checkout_vendor"),
        ],
        description=f"card payment {payment.rrn} ({payment.pan_masked})",
        created_by="card-checkout",
        reference=payment.rrn,
        now=now,
    )
    _set(
        txn,
        payment.id,
        now,
        state="approved",
        response_code=response_code,
        auth_code=auth_code,
        funding_transfer_id=transfer.id,
    )
    return True


def start_reversal(txn: Txn, payment_id: int, reason: str, *, now: datetime) -> CardPayment:
    """Mark the payment ``reversing`` (once) and take back its funding, if any."""
    row = txn.execute(select(card_payments).where(card_payments.c.id == payment_id)).one()
    payment = _payment(row)
    if payment.state in ("reversing", "reversed", "declined"):
        return payment
    if payment.funding_transfer_id is not None:
        reverse_transfer(
            txn,
            payment.funding_transfer_id,
            kind="card_payment_reversal",
            description=f"card payment {payment.rrn} reversed: {reason}",
            created_by="card-checkout",
            reference=payment.rrn,
            now=now,
        )
    _set(txn, payment_id, now, state="reversing", reversal_reason=reason[:40])
    found = txn.execute(select(card_payments).where(card_payments.c.id == payment_id)).one()
    return _payment(found)


def count_reversal_attempt(txn: Txn, payment_id: int, *, now: datetime) -> int:
    return int(
        txn.execute(
            update(card_payments)
            .where(card_payments.c.id == payment_id)
            .values(reversal_attempts=card_payments.c.reversal_attempts + 1, updated_at=now)
            .returning(card_payments.c.reversal_attempts)
        ).scalar_one()
    )


def reversed_(txn: Txn, payment_id: int, *, now: datetime) -> None:
    _set(txn, payment_id, now, state="reversed")


def in_states(txn: Txn, *states: str) -> list[CardPayment]:
    rows = txn.execute(
        select(card_payments).where(card_payments.c.state.in_(states)).order_by(card_payments.c.id)
    ).all()
    return [_payment(row) for row in rows]


def for_day(txn: Txn, mmdd: str) -> list[CardPayment]:
    """The payments transmitted on a day (DE 7's MMDD), for settlement."""
    rows = txn.execute(
        select(card_payments)
        .where(card_payments.c.transmitted_at.like(f"{mmdd}%"))
        .order_by(card_payments.c.id)
    ).all()
    return [_payment(row) for row in rows]


@dataclass(frozen=True)
class SettlementLine:
    rrn: str
    amount_minor: int
    status: str  # "approved" (money moved) or "reversed"


@dataclass(frozen=True)
class Reconciliation:
    matched: list[str]
    missing_at_switch: list[str]
    missing_here: list[str]
    mismatched: list[str]

    @property
    def clean(self) -> bool:
        return not (self.missing_at_switch or self.missing_here or self.mismatched)


def our_settlement(payments: list[CardPayment]) -> dict[str, SettlementLine]:
    """What settles: sold payments (approved, not reversed). A reversed payment nets to
    nothing on both sides, so it is compared by its absence."""
    return {
        p.rrn: SettlementLine(p.rrn, p.amount.amount, "approved")
        for p in payments
        if p.state == "sold"
    }


def reconcile(ours: dict[str, SettlementLine], theirs: dict[str, SettlementLine]) -> Reconciliation:
    matched, mismatched = [], []
    for rrn in sorted(ours.keys() & theirs.keys()):
        (matched if ours[rrn] == theirs[rrn] else mismatched).append(rrn)
    return Reconciliation(
        matched=matched,
        missing_at_switch=sorted(ours.keys() - theirs.keys()),
        missing_here=sorted(theirs.keys() - ours.keys()),
        mismatched=mismatched,
    )


__all__ = [
    "CardDataInvalid",
    "CardPayment",
    "Reconciliation",
    "SettlementLine",
    "approve_and_fund",
    "check_card",
    "declined",
    "find",
    "luhn_ok",
    "mask_pan",
    "our_settlement",
    "reconcile",
    "start",
    "start_reversal",
]


def principal_for_operator(txn: Txn, client_id: str, operator_name: str):  # type: ignore[no-untyped-def]
    """The checkout vendor's principal (its configured operator; no password: the card
    payment is the authority for the sale)."""
    from sqlalchemy import and_

    from vending.errors import UnknownVendor
    from vending.principals import PRINCIPAL_COLUMNS, principal_from_row
    from vending.storage.schema import operators, vendors

    row = txn.execute(
        select(*PRINCIPAL_COLUMNS)
        .join(accounts, accounts.c.id == vendors.c.account_id)
        .join(
            operators,
            and_(operators.c.vendor_id == vendors.c.id, operators.c.name == operator_name),
        )
        .where(vendors.c.client_id == client_id)
    ).first()
    if row is None:
        raise UnknownVendor(f"checkout vendor {client_id}/{operator_name} is not set up")
    return principal_from_row(row)
