"""Vendors (merchants with a prepaid sales account) and their operators."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row, insert, select, update

from vending import audit
from vending.accounts import create_account, ensure_house_accounts, set_credit_limit
from vending.errors import (
    CurrencyMismatch,
    InvalidAmount,
    InvalidRequest,
    UnknownOperator,
    UnknownVendor,
)
from vending.ledger import Leg, PostedTransfer, post_transfer
from vending.money import Money
from vending.storage.database import Txn
from vending.storage.schema import accounts, operators, vendors

# XMLVend clientIDs: an EAN-13, or a generic id (b:Msg, but keep them printable and short).
CLIENT_ID_PATTERN = re.compile(r"\S{1,64}")
# XMLVend b:OpName is (\S){1,10} for vendor operators.
OPERATOR_NAME_PATTERN = re.compile(r"\S{1,10}")

# What a vendor may do beyond selling and reversing its own sales. None by default: free
# credit and engineering tokens are the utility's to hand out (a clear-credit or free-issue
# token is worth money to whoever gets it).
PRIVILEGES: dict[str, str] = {
    "free_issue": "issue free credit tokens (freeIssueReq)",
    "meter_credit_transfer": "move a replaced meter's credit to its successor",
    "engineering": "meter-specific engineering tokens: power limits, clear credit, "
    "clear tamper, default credit, key changes, water factor",
    "network": "approve or reject the fund requests of its distribution subtree",
}


def parse_privileges(text: str) -> frozenset[str]:
    return frozenset(text.split())


@dataclass(frozen=True)
class Vendor:
    id: int
    client_id: str
    name: str
    address: str
    account_id: int
    currency: str
    balance: Money
    credit_limit: Money
    blocked: bool
    require_auth: bool | None
    privileges: frozenset[str] = frozenset()

    @property
    def available(self) -> Money:
        return self.balance + self.credit_limit


def _vendor_query():  # type: ignore[no-untyped-def]
    return select(
        vendors.c.id,
        vendors.c.client_id,
        vendors.c.name,
        vendors.c.address,
        vendors.c.account_id,
        vendors.c.blocked,
        vendors.c.require_auth,
        vendors.c.privileges,
        accounts.c.currency,
        accounts.c.balance,
        accounts.c.credit_limit,
    ).join(accounts, accounts.c.id == vendors.c.account_id)


def _vendor_from_row(row: Row) -> Vendor:
    return Vendor(
        id=row.id,
        client_id=row.client_id,
        name=row.name,
        address=row.address,
        account_id=row.account_id,
        currency=row.currency,
        balance=Money(row.balance, row.currency),
        credit_limit=Money(row.credit_limit or 0, row.currency),
        blocked=row.blocked,
        require_auth=row.require_auth,
        privileges=parse_privileges(row.privileges),
    )


def create_vendor(
    txn: Txn,
    *,
    client_id: str,
    name: str,
    currency: str,
    address: str = "",
    credit_limit: Money | None = None,
    require_auth: bool | None = None,
    actor: str = "system",
    now: datetime,
) -> Vendor:
    if not CLIENT_ID_PATTERN.fullmatch(client_id):
        raise InvalidRequest(f"client id {client_id!r} must be 1-64 non-space characters")
    if not name.strip() or len(name) > 80:
        raise InvalidRequest("a vendor name must be 1-80 characters")
    if len(address) > 80:
        raise InvalidRequest("a vendor address must be at most 80 characters")
    if txn.execute(select(vendors.c.id).where(vendors.c.client_id == client_id)).first():
        raise InvalidRequest(f"a vendor with client id {client_id!r} already exists")
    ensure_house_accounts(txn, currency, now=now)
    account = create_account(
        txn,
        code=f"vendor:{client_id}",
        kind="vendor",
        name=f"Sales account of {name}",
        currency=currency,
        credit_limit=credit_limit or Money.zero(currency),
        now=now,
    )
    txn.execute(
        insert(vendors).values(
            account_id=account.id,
            client_id=client_id,
            name=name,
            address=address,
            blocked=False,
            require_auth=require_auth,
            created_at=now,
        )
    )
    audit.record(
        txn,
        actor=actor,
        action="vendor.create",
        subject=client_id,
        details={"name": name, "currency": currency},
        now=now,
    )
    return get_vendor(txn, client_id)


def get_vendor(txn: Txn, client_id: str) -> Vendor:
    row = txn.execute(_vendor_query().where(vendors.c.client_id == client_id)).first()
    if row is None:
        raise UnknownVendor(f"no vendor with client id {client_id!r}")
    return _vendor_from_row(row)


def available_credit(txn: Txn, vendor_id: int) -> Money:
    """What the vendor can still spend now: balance + credit limit (XMLVend availCredit)."""
    return get_vendor_by_id(txn, vendor_id).available


def get_vendor_by_id(txn: Txn, vendor_id: int) -> Vendor:
    row = txn.execute(_vendor_query().where(vendors.c.id == vendor_id)).first()
    if row is None:
        raise UnknownVendor(f"no vendor {vendor_id}")
    return _vendor_from_row(row)


def list_vendors(txn: Txn) -> list[Vendor]:
    return [_vendor_from_row(row) for row in txn.execute(_vendor_query().order_by(vendors.c.id))]


def set_vendor_blocked(
    txn: Txn, client_id: str, blocked: bool, *, actor: str, reason: str = "", now: datetime
) -> Vendor:
    """Block or unblock a vendor and its sales account (no debit passes while blocked)."""
    vendor = get_vendor(txn, client_id)
    txn.execute(update(vendors).where(vendors.c.id == vendor.id).values(blocked=blocked))
    txn.execute(update(accounts).where(accounts.c.id == vendor.account_id).values(blocked=blocked))
    audit.record(
        txn,
        actor=actor,
        action="vendor.block" if blocked else "vendor.unblock",
        subject=client_id,
        details={"reason": reason},
        now=now,
    )
    return get_vendor(txn, client_id)


def set_vendor_privileges(
    txn: Txn,
    client_id: str,
    *,
    grant: set[str] | frozenset[str] = frozenset(),
    revoke: set[str] | frozenset[str] = frozenset(),
    actor: str,
    now: datetime,
) -> Vendor:
    """Grant and/or revoke privileges (names in :data:`PRIVILEGES`)."""
    unknown = (set(grant) | set(revoke)) - set(PRIVILEGES)
    if unknown:
        raise InvalidRequest(
            f"unknown privilege(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(PRIVILEGES))}"
        )
    vendor = get_vendor(txn, client_id)
    privileges = (vendor.privileges | set(grant)) - set(revoke)
    txn.execute(
        update(vendors)
        .where(vendors.c.id == vendor.id)
        .values(privileges=" ".join(sorted(privileges)))
    )
    audit.record(
        txn,
        actor=actor,
        action="vendor.privileges",
        subject=client_id,
        details={"granted": sorted(grant), "revoked": sorted(revoke)},
        now=now,
    )
    return get_vendor(txn, client_id)


def set_vendor_credit_limit(
    txn: Txn, client_id: str, limit: Money, *, actor: str, now: datetime
) -> Vendor:
    vendor = get_vendor(txn, client_id)
    set_credit_limit(txn, vendor.account_id, limit)
    audit.record(
        txn,
        actor=actor,
        action="vendor.credit_limit",
        subject=client_id,
        details={"credit_limit": limit.amount, "currency": limit.currency},
        now=now,
    )
    return get_vendor(txn, client_id)


def adjust_vendor_balance(
    txn: Txn,
    client_id: str,
    amount: Money,
    *,
    reason: str,
    actor: str,
    reference: str | None = None,
    now: datetime,
) -> PostedTransfer:
    """Credit (deposit, positive ``amount``) or debit (withdrawal, negative) a vendor's float
    against the operator's bank account, with a reason in the ledger and the audit log."""
    if not reason.strip():
        raise InvalidRequest("a reason is required for every balance adjustment")
    if amount.amount == 0:
        raise InvalidAmount("the amount cannot be zero")
    vendor = get_vendor(txn, client_id)
    if amount.currency != vendor.currency:
        raise CurrencyMismatch(
            f"vendor {client_id} trades in {vendor.currency}, not {amount.currency}"
        )
    bank_id = ensure_house_accounts(txn, vendor.currency, now=now)["bank"]
    kind = "deposit" if amount.amount > 0 else "withdrawal"
    posted = post_transfer(
        txn,
        kind=kind,
        legs=[Leg(vendor.account_id, amount, kind), Leg(bank_id, -amount, kind)],
        description=reason,
        created_by=actor,
        reference=reference,
        now=now,
    )
    audit.record(
        txn,
        actor=actor,
        action=f"vendor.{kind}",
        subject=client_id,
        details={"amount": amount.amount, "currency": amount.currency, "reason": reason},
        now=now,
    )
    return posted


# --- operators ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operator:
    id: int
    vendor_id: int | None
    name: str
    role: str
    blocked: bool
    credential_version: int


def _operator_from_row(row: Row) -> Operator:
    return Operator(
        id=row.id,
        vendor_id=row.vendor_id,
        name=row.name,
        role=row.role,
        blocked=row.blocked,
        credential_version=row.credential_version,
    )


def create_operator(
    txn: Txn,
    *,
    name: str,
    password_hash: str,
    vendor_client_id: str | None = None,
    role: str = "operator",
    actor: str = "system",
    now: datetime,
) -> Operator:
    """An operator of a vendor (logs in from its terminals), or staff when no vendor."""
    if role not in ("operator", "admin"):
        raise InvalidRequest("role must be operator or admin")
    vendor_id = None
    if vendor_client_id is not None:
        if not OPERATOR_NAME_PATTERN.fullmatch(name):
            raise InvalidRequest("a vendor operator name must be 1-10 non-space characters")
        vendor_id = get_vendor(txn, vendor_client_id).id
    elif not re.fullmatch(r"\S{1,64}", name):
        raise InvalidRequest("an operator name must be 1-64 non-space characters")
    if _find_operator(txn, vendor_id, name) is not None:
        raise InvalidRequest(f"operator {name!r} already exists")
    operator_id = txn.execute(
        insert(operators)
        .values(
            vendor_id=vendor_id,
            name=name,
            role=role,
            password_hash=password_hash,
            credential_version=1,
            blocked=False,
            created_at=now,
            password_changed_at=now,
        )
        .returning(operators.c.id)
    ).scalar_one()
    audit.record(
        txn,
        actor=actor,
        action="operator.create",
        subject=f"{vendor_client_id or 'staff'}/{name}",
        details={"role": role},
        now=now,
    )
    return _operator_from_row(
        txn.execute(select(operators).where(operators.c.id == operator_id)).one()
    )


def _find_operator(txn: Txn, vendor_id: int | None, name: str) -> Row | None:
    vendor_match = (
        operators.c.vendor_id.is_(None) if vendor_id is None else operators.c.vendor_id == vendor_id
    )
    return txn.execute(select(operators).where(vendor_match, operators.c.name == name)).first()


def get_operator(txn: Txn, name: str, vendor_client_id: str | None = None) -> Operator:
    vendor_id = get_vendor(txn, vendor_client_id).id if vendor_client_id else None
    row = _find_operator(txn, vendor_id, name)
    if row is None:
        raise UnknownOperator(f"no operator {name!r}")
    return _operator_from_row(row)


def list_operators(txn: Txn, vendor_client_id: str | None = None) -> list[Operator]:
    query = select(operators).order_by(operators.c.id)
    if vendor_client_id is not None:
        query = query.where(operators.c.vendor_id == get_vendor(txn, vendor_client_id).id)
    return [_operator_from_row(row) for row in txn.execute(query)]


def set_operator_password(
    txn: Txn, operator_id: int, password_hash: str, *, actor: str, now: datetime
) -> None:
    result = txn.execute(
        update(operators)
        .where(operators.c.id == operator_id)
        .values(
            password_hash=password_hash,
            credential_version=operators.c.credential_version + 1,
            password_changed_at=now,
        )
    )
    if result.rowcount != 1:
        raise UnknownOperator(f"no operator {operator_id}")
    audit.record(txn, actor=actor, action="operator.password", subject=str(operator_id), now=now)


def set_operator_blocked(
    txn: Txn, operator_id: int, blocked: bool, *, actor: str, now: datetime
) -> None:
    result = txn.execute(
        update(operators)
        .where(operators.c.id == operator_id)
        .values(blocked=blocked, credential_version=operators.c.credential_version + 1)
    )
    if result.rowcount != 1:
        raise UnknownOperator(f"no operator {operator_id}")
    audit.record(
        txn,
        actor=actor,
        action="operator.block" if blocked else "operator.unblock",
        subject=str(operator_id),
        now=now,
    )
