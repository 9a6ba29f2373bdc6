"""Helpers shared by the vending core tests: a small world of accounts, vendors and
products, sale helpers, and snapshots to prove that a refused operation wrote nothing."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

from fixed_clock import NOW
from sqlalchemy import func, select

from vending.accounts import create_account, ensure_house_accounts
from vending.keyring import Keyring
from vending.ledger import Leg, PostedTransfer, post_transfer, verify_ledger
from vending.money import Money
from vending.products import create_product, get_product, price_sale, vendor_commission_bp
from vending.requests import Claim, claim_request
from vending.sales import SaleOrder, SaleResult, hold_sale, record_sale
from vending.storage.database import Database, Txn
from vending.storage.schema import (
    accounts,
    audit_log,
    data_keys,
    ledger_entries,
    operators,
    products,
    requests,
    sales,
    transfers,
    vendors,
)
from vending.vendors import adjust_vendor_balance, create_vendor

ZAR = "ZAR"
SUPPLIER = "supplier:S1"
UTILITY = "utility:U1"
VENDOR = "V1"

P = ParamSpec("P")
T = TypeVar("T")


def zar(text: str) -> Money:
    return Money.parse(text, ZAR)


def run(db: Database, fn: Callable[Concatenate[Txn, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run ``fn`` as a transaction function named after it."""
    return db.run_txn(getattr(fn, "__name__", "test"), fn, *args, **kwargs)


# --- the world --------------------------------------------------------------------------------


def build_world(txn: Txn) -> None:
    """House accounts, a supplier and a utility, three products and vendor V1 holding
    R100.00 with a R50.00 credit limit."""
    ensure_house_accounts(txn, ZAR, now=NOW)
    create_account(
        txn, code=SUPPLIER, kind="supplier", name="Airtime supplier", currency=ZAR, now=NOW
    )
    create_account(txn, code=UTILITY, kind="utility", name="City power", currency=ZAR, now=NOW)
    # A voucher: fixed R10.00, 6% from the supplier, 4% to the merchant, refundable.
    create_product(
        txn,
        code="AIR10",
        kind="voucher",
        name="Airtime R10",
        currency=ZAR,
        supplier_account_code=SUPPLIER,
        face_value=zar("10.00"),
        supplier_discount_bp=600,
        merchant_commission_bp=400,
        reversal_policy="refund",
        now=NOW,
    )
    # Electricity: open amount, never reversible once delivered.
    create_product(
        txn,
        code="ELEC",
        kind="electricity",
        name="Prepaid electricity",
        currency=ZAR,
        supplier_account_code=UTILITY,
        min_amount=zar("5.00"),
        max_amount=zar("5000.00"),
        supplier_discount_bp=300,
        merchant_commission_bp=200,
        reversal_policy="none",
        now=NOW,
    )
    # A bill payment with a R2.50 fee, reversible until confirmed.
    create_product(
        txn,
        code="BILL",
        kind="bill_payment",
        name="Municipal account",
        currency=ZAR,
        supplier_account_code=UTILITY,
        min_amount=zar("10.00"),
        max_amount=zar("2000.00"),
        supplier_discount_bp=100,
        merchant_commission_bp=50,
        fee=zar("2.50"),
        reversal_policy="refund_unconfirmed",
        now=NOW,
    )
    create_vendor(
        txn, client_id=VENDOR, name="Corner Cafe", currency=ZAR, credit_limit=zar("50"), now=NOW
    )
    adjust_vendor_balance(
        txn, VENDOR, zar("100.00"), reason="opening deposit", actor="test", now=NOW
    )


def add_vendor(
    txn: Txn, client_id: str, *, deposit: str = "0", limit: str = "0", **kwargs: Any
) -> None:
    create_vendor(
        txn,
        client_id=client_id,
        name=f"Vendor {client_id}",
        currency=ZAR,
        credit_limit=zar(limit),
        now=NOW,
    )
    if Money.parse(deposit, ZAR).amount:
        adjust_vendor_balance(txn, client_id, zar(deposit), reason="deposit", actor="test", now=NOW)


# --- sales ------------------------------------------------------------------------------------


def claim(
    txn: Txn,
    keyring: Keyring,
    request_id: str,
    *,
    client_id: str = VENDOR,
    fingerprint: bytes = b"\x01" * 32,
    operation: str = "creditVend",
) -> Claim:
    claimed = claim_request(
        txn,
        keyring,
        channel="xmlvend",
        client_id=client_id,
        request_id=request_id,
        operation=operation,
        fingerprint=fingerprint,
        now=NOW,
    )
    assert isinstance(claimed, Claim), claimed
    return claimed


def order_for(
    txn: Txn,
    product_code: str,
    amount: Money | None = None,
    *,
    client_id: str = VENDOR,
    target: str = "01234567890",
) -> SaleOrder:
    from vending.vendors import get_vendor

    vendor = get_vendor(txn, client_id)
    product = get_product(txn, product_code)
    pricing = price_sale(
        product, amount, commission_bp=vendor_commission_bp(txn, vendor.id, product)
    )
    return SaleOrder(
        vendor_id=vendor.id,
        vendor_account_id=vendor.account_id,
        product=product,
        pricing=pricing,
        target=target,
        terminal_id="T1",
    )


def sell(
    txn: Txn,
    keyring: Keyring,
    product_code: str,
    amount: Money | None = None,
    *,
    request_id: str,
    client_id: str = VENDOR,
    target: str = "01234567890",
    hold: bool = False,
) -> SaleResult:
    """Claim a request and record (or hold) one sale for it."""
    claimed = claim(txn, keyring, request_id, client_id=client_id)
    order = order_for(txn, product_code, amount, client_id=client_id, target=target)
    return (hold_sale if hold else record_sale)(txn, claimed, order, created_by="test", now=NOW)


# --- inspection -------------------------------------------------------------------------------

_COUNTED = {
    "transfers": transfers,
    "ledger_entries": ledger_entries,
    "sales": sales,
    "requests": requests,
    "audit_log": audit_log,
    "accounts": accounts,
    "vendors": vendors,
    "operators": operators,
    "products": products,
    "data_keys": data_keys,
}


@dataclass(frozen=True)
class Snapshot:
    counts: dict[str, int]
    balances: dict[str, int]
    blocked: dict[str, bool]
    sale_states: dict[int, str]


def _snapshot(txn: Txn) -> Snapshot:
    counts = {
        name: txn.execute(select(func.count()).select_from(table)).scalar_one()
        for name, table in _COUNTED.items()
    }
    rows = txn.execute(select(accounts.c.code, accounts.c.balance, accounts.c.blocked)).all()
    states = dict(txn.execute(select(sales.c.id, sales.c.state)).all())
    return Snapshot(
        counts,
        {r.code: int(r.balance) for r in rows},
        {r.code: bool(r.blocked) for r in rows},
        states,
    )


def snapshot(db: Database) -> Snapshot:
    """Row counts, balances and sale states: equal before and after = nothing written."""
    return db.run_txn("snapshot", _snapshot)


def balance(db: Database, code: str) -> int:
    return db.run_txn(
        "balance",
        lambda txn: txn.execute(
            select(accounts.c.balance).where(accounts.c.code == code)
        ).scalar_one(),
    )


def post_deferred_supply(txn: Txn, amount: int = 500) -> tuple[PostedTransfer, dict[str, int]]:
    """Vendor V1 pays the supplier ``amount`` cents, the supplier's credit deferred to the
    commit (vending.ledger); the transfer and the account ids by code."""
    ids = dict(txn.execute(select(accounts.c.code, accounts.c.id)).all())
    money = Money(amount, "ZAR")
    posted = post_transfer(
        txn,
        kind="test",
        legs=[Leg(ids[f"vendor:{VENDOR}"], -money, "sale"), Leg(ids[SUPPLIER], money, "supplier")],
        description="test",
        created_by="test",
        defer=(ids[SUPPLIER],),
        now=NOW,
    )
    return posted, ids


def house(purpose: str) -> str:
    return f"house:{purpose}:{ZAR}"


def transfer_legs(db: Database, transfer_id: int) -> list[tuple[str, int, str]]:
    """(account code, amount, role) of every leg of a transfer, in entry order."""

    def fetch(txn: Txn) -> list[tuple[str, int, str]]:
        rows = txn.execute(
            select(accounts.c.code, ledger_entries.c.amount, ledger_entries.c.role)
            .join(accounts, accounts.c.id == ledger_entries.c.account_id)
            .where(ledger_entries.c.transfer_id == transfer_id)
            .order_by(ledger_entries.c.id)
        )
        return [(r.code, int(r.amount), r.role) for r in rows]

    return db.run_txn("transfer_legs", fetch)


def assert_ledger_consistent(db: Database) -> None:
    """verify_ledger is clean and all balances sum to zero per currency."""

    def check(txn: Txn) -> tuple[Any, dict[str, int]]:
        totals: dict[str, int] = defaultdict(int)
        for row in txn.execute(select(accounts.c.currency, accounts.c.balance)):
            totals[row.currency] += int(row.balance)
        return verify_ledger(txn), dict(totals)

    report, totals = db.run_txn("check_ledger", check)
    assert report.ok, report.problems()
    assert all(total == 0 for total in totals.values()), totals
