"""The manual queue and the merchants' deposit details: staff actions, each audited in the
same transaction as its change.

The queue holds deposits in ``suspense`` (posted to the suspense account, nobody matched)
and in ``review`` (not authentic, or two reports disagree on the amount; perhaps already
posted). ``assign`` gives one to a merchant: whatever posting holds the money is reversed
and the deposit is posted again to the merchant with its fee, in one transaction;
``reject`` reverses any posting (the money is back in bank clearing, to be returned to the
payer) and closes it. Unreadable alerts are listed beside it (``unparsed_alerts``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, delete, insert, select, update

from deposits.matching import normalise_account
from deposits.posting import credit_merchant, deposit_fee
from deposits.settings import DepositSettings
from deposits.tables import deposit_alerts, deposit_merchants, deposit_payers, deposits
from vending import audit
from vending.errors import InvalidRequest
from vending.ledger import reverse_transfer
from vending.money import Money
from vending.storage.database import Txn
from vending.storage.schema import vendors
from vending.vendors import get_vendor, get_vendor_by_id

QUEUE_STATES = ("suspense", "review")


class UnknownDeposit(InvalidRequest):
    """No such deposit."""


@dataclass(frozen=True)
class Deposit:
    id: int
    bank: str
    bank_ref: str
    amount: Money
    txn_date: date
    reference: str
    payer: str
    state: str
    reason: str
    vendor: str | None  # client id
    fee: Money
    matched_by: str | None
    transfer_id: int | None

    def as_row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "bank": self.bank,
            "bank_ref": self.bank_ref,
            "amount": f"{self.amount.format()} {self.amount.currency}",
            "date": self.txn_date.isoformat(),
            "reference": self.reference,
            "payer": self.payer,
            "state": self.state,
            "vendor": self.vendor or "",
            "reason": self.reason,
        }


def _deposit(row: Row) -> Deposit:
    return Deposit(
        id=int(row.id),
        bank=row.bank,
        bank_ref=row.bank_ref,
        amount=Money(int(row.amount), row.currency),
        txn_date=row.txn_date,
        reference=row.reference,
        payer=row.payer,
        state=row.state,
        reason=row.reason,
        vendor=row.client_id,
        fee=Money(int(row.fee), row.currency),
        matched_by=row.matched_by,
        transfer_id=row.transfer_id,
    )


def _query():  # type: ignore[no-untyped-def]
    return select(deposits, vendors.c.client_id).outerjoin(
        vendors, vendors.c.id == deposits.c.vendor_id
    )


def get_deposit(txn: Txn, deposit_id: int) -> Deposit:
    row = txn.execute(_query().where(deposits.c.id == deposit_id)).first()
    if row is None:
        raise UnknownDeposit(f"no deposit {deposit_id}")
    return _deposit(row)


def list_deposits(
    txn: Txn, states: tuple[str, ...] = QUEUE_STATES, limit: int = 100
) -> list[Deposit]:
    rows = txn.execute(
        _query().where(deposits.c.state.in_(states)).order_by(deposits.c.id).limit(limit)
    )
    return [_deposit(row) for row in rows]


def unparsed_alerts(txn: Txn, limit: int = 50) -> list[dict[str, Any]]:
    rows = txn.execute(
        select(deposit_alerts)
        .where(deposit_alerts.c.outcome == "unparsed")
        .order_by(deposit_alerts.c.id.desc())
        .limit(limit)
    )
    return [dict(row._mapping) for row in rows]


def _open(txn: Txn, deposit_id: int) -> Deposit:
    deposit = get_deposit(txn, deposit_id)
    if deposit.state not in QUEUE_STATES:
        raise InvalidRequest(f"deposit {deposit_id} is {deposit.state}, not in the manual queue")
    return deposit


def _release(txn: Txn, deposit: Deposit, actor: str, now: datetime) -> None:
    """Reverse the posting that holds the deposit's money (suspense or a disputed credit)."""
    if deposit.transfer_id is not None:
        reverse_transfer(
            txn,
            deposit.transfer_id,
            kind="deposit_release",
            description=f"Deposit {deposit.bank}:{deposit.bank_ref} resolved by staff",
            created_by=actor,
            reference=f"{deposit.bank}:{deposit.bank_ref}"[:64],
            now=now,
        )


def assign(
    txn: Txn,
    settings: DepositSettings,
    deposit_id: int,
    client_id: str,
    *,
    actor: str,
    reason: str,
    now: datetime,
    amount: Money | None = None,
) -> Deposit:
    """Credit a queued deposit to ``client_id`` (``amount``: staff's corrected amount when
    two reports disagreed)."""
    if not reason.strip():
        raise InvalidRequest("a reason is required")
    deposit = _open(txn, deposit_id)
    vendor = get_vendor(txn, client_id)
    amount = amount or deposit.amount
    if amount.currency != deposit.amount.currency or amount.amount <= 0:
        raise InvalidRequest(f"the amount must be positive and in {deposit.amount.currency}")
    fee = deposit_fee(txn, settings, vendor, amount)
    _release(txn, deposit, actor, now)
    posted = credit_merchant(
        txn,
        vendor=vendor,
        amount=amount,
        fee=fee,
        reference=f"{deposit.bank}:{deposit.bank_ref}",
        bank_ref=deposit.bank_ref,
        created_by=actor,
        now=now,
    )
    txn.execute(
        update(deposits)
        .where(deposits.c.id == deposit_id)
        .values(
            state="credited",
            amount=amount.amount,
            vendor_id=vendor.id,
            matched_by="staff",
            fee=fee.amount,
            transfer_id=posted.id,
            reason=reason[:200],
            resolved_by=actor[:64],
            resolved_at=now,
        )
    )
    audit.record(
        txn,
        actor=actor,
        action="deposit.assign",
        subject=f"deposit:{deposit_id}",
        details={
            "vendor": client_id,
            "amount": amount.amount,
            "fee": fee.amount,
            "currency": amount.currency,
            "was": deposit.state,
            "reason": reason,
        },
        now=now,
    )
    return get_deposit(txn, deposit_id)


def reject(txn: Txn, deposit_id: int, *, actor: str, reason: str, now: datetime) -> Deposit:
    """Refuse a queued deposit: any posting reversed, the money back in bank clearing."""
    if not reason.strip():
        raise InvalidRequest("a reason is required")
    deposit = _open(txn, deposit_id)
    _release(txn, deposit, actor, now)
    txn.execute(
        update(deposits)
        .where(deposits.c.id == deposit_id)
        .values(
            state="rejected",
            transfer_id=None,
            reason=reason[:200],
            resolved_by=actor[:64],
            resolved_at=now,
        )
    )
    audit.record(
        txn,
        actor=actor,
        action="deposit.reject",
        subject=f"deposit:{deposit_id}",
        details={"was": deposit.state, "vendor": deposit.vendor, "reason": reason},
        now=now,
    )
    return get_deposit(txn, deposit_id)


def set_merchant(
    txn: Txn,
    client_id: str,
    *,
    tier: str | None,
    virtual_account: str | None,
    actor: str,
    settings: DepositSettings | None = None,
    now: datetime,
) -> None:
    """A merchant's fee tier and virtual account number."""
    vendor = get_vendor(txn, client_id)
    if tier is not None and settings is not None and tier not in settings.fees:
        raise InvalidRequest(f"no fee tier {tier!r} (known: {', '.join(sorted(settings.fees))})")
    current = txn.execute(
        select(deposit_merchants).where(deposit_merchants.c.vendor_id == vendor.id)
    ).first()
    values: dict[str, Any] = {}
    if tier is not None:
        values["tier"] = tier
    if virtual_account is not None:
        values["virtual_account"] = normalise_account(virtual_account) or None
    if current is None:
        txn.execute(insert(deposit_merchants).values(vendor_id=vendor.id, **values))
    elif values:
        txn.execute(
            update(deposit_merchants)
            .where(deposit_merchants.c.vendor_id == vendor.id)
            .values(**values)
        )
    audit.record(
        txn, actor=actor, action="deposit.merchant", subject=client_id, details=values, now=now
    )


def add_payer(txn: Txn, client_id: str, payer_account: str, *, actor: str, now: datetime) -> None:
    """A bank account known to pay for ``client_id`` (the fallback match)."""
    vendor = get_vendor(txn, client_id)
    account = normalise_account(payer_account)
    if not account:
        raise InvalidRequest("the payer account is empty")
    existing = txn.execute(
        select(deposit_payers.c.vendor_id).where(deposit_payers.c.payer_account == account)
    ).scalar()
    if existing is not None:
        owner = get_vendor_by_id(txn, int(existing))
        raise InvalidRequest(f"payer account {account} already pays for {owner.client_id}")
    txn.execute(insert(deposit_payers).values(payer_account=account, vendor_id=vendor.id))
    audit.record(
        txn,
        actor=actor,
        action="deposit.payer",
        subject=client_id,
        details={"payer": account},
        now=now,
    )


def remove_payer(txn: Txn, payer_account: str, *, actor: str, now: datetime) -> None:
    account = normalise_account(payer_account)
    if (
        txn.execute(
            delete(deposit_payers).where(deposit_payers.c.payer_account == account)
        ).rowcount
        != 1
    ):
        raise InvalidRequest(f"no payer account {account}")
    audit.record(
        txn, actor=actor, action="deposit.payer_removed", subject=account, details={}, now=now
    )
