"""Deposit slips (XMLVend ``depositReq``, reference §2.6: "a deposit slip for the vendor to
bank his sales"), on the deposits model.

A slip tells the vendor how much to pay in -- its takings: the price of its completed
sales since its previous slip -- under which reference, into which of the operator's
accounts (``[[accounts]]`` of the deposit settings). The reference (``bankingRefNo``) is one
the deposit matcher recognises as this vendor: its virtual account number when it has one
that fits, else ``EVD`` + its client id. So when the bank's alert of that payment arrives
(SMS or e-mail), the deposit credits this vendor (:mod:`deposits.matching`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select

from deposits.settings import OperatorAccount
from deposits.tables import deposit_merchants, deposit_slips
from vending.auth import Principal
from vending.money import Money
from vending.storage.database import Txn
from vending.storage.schema import sales

_REF_MAX = 20  # XMLVend RefNo: 1..20 non-space characters


@dataclass(frozen=True)
class DepositSlip:
    id: int
    amount: Money
    banking_ref_no: str
    beneficiary: OperatorAccount | None
    period_from: datetime | None
    created_at: datetime


def banking_reference(txn: Txn, principal: Principal) -> str:
    """The reference the vendor quotes when it pays in (recognised by the matcher)."""
    virtual = txn.execute(
        select(deposit_merchants.c.virtual_account).where(
            deposit_merchants.c.vendor_id == principal.vendor_id
        )
    ).scalar()
    if virtual and len(virtual) <= _REF_MAX and " " not in virtual:
        return str(virtual)
    return f"EVD{principal.client_id}"[:_REF_MAX]


def issue_slip(
    txn: Txn,
    principal: Principal,
    request_pk: int,
    beneficiary: OperatorAccount | None,
    *,
    now: datetime,
) -> DepositSlip:
    """A new slip for the vendor's takings since its previous slip (zero when it sold
    nothing since: the slip still names the account and the reference)."""
    previous = txn.execute(
        select(func.max(deposit_slips.c.created_at)).where(
            deposit_slips.c.vendor_id == principal.vendor_id
        )
    ).scalar()
    takings = select(func.coalesce(func.sum(sales.c.amount), 0)).where(
        sales.c.vendor_id == principal.vendor_id,
        sales.c.state == "completed",
        sales.c.currency == principal.currency,
        sales.c.created_at <= now,
    )
    if previous is not None:
        takings = takings.where(sales.c.created_at > previous)
    amount = Money(int(txn.execute(takings).scalar_one()), principal.currency)
    reference = banking_reference(txn, principal)
    slip_id = txn.execute(
        insert(deposit_slips)
        .values(
            vendor_id=principal.vendor_id,
            request_pk=request_pk,
            amount=amount.amount,
            currency=amount.currency,
            banking_ref_no=reference,
            period_from=previous,
            created_at=now,
        )
        .returning(deposit_slips.c.id)
    ).scalar_one()
    return DepositSlip(slip_id, amount, reference, beneficiary, previous, now)


def recent_slip_requests(txn: Txn, vendor_id: int, limit: int) -> list[int]:
    """The request keys (request_pk) of the vendor's last ``limit`` slips, oldest first."""
    rows = txn.execute(
        select(deposit_slips.c.request_pk)
        .where(deposit_slips.c.vendor_id == vendor_id)
        .order_by(deposit_slips.c.id.desc())
        .limit(limit)
    ).scalars()
    return list(reversed(list(rows)))


__all__ = ["DepositSlip", "banking_reference", "issue_slip", "recent_slip_requests"]
