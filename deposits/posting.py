"""The ledger side of a deposit: one balanced transfer, in the caller's transaction.

To a merchant: bank clearing -amount, merchant +(amount - fee), fees +fee (the fee its own
leg, left out when zero). To suspense: bank clearing -amount, suspense +amount. Every
credit to a merchant also writes its confirmation to the outbox and queues the
``deposit.credited`` webhook event for the merchant's API keys with a callback URL, in the
same transaction (credited once, pushed once; a rolled-back credit pushes nothing).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from deposits.accounts import clearing_account, fee_account, suspense_account
from deposits.settings import DepositSettings
from deposits.tables import deposit_merchants
from vending import outbox, webhooks
from vending.errors import CurrencyMismatch, InvalidAmount
from vending.ledger import Leg, PostedTransfer, post_transfer
from vending.money import Money
from vending.storage.database import Txn
from vending.vendors import Vendor


def merchant_tier(txn: Txn, vendor_id: int) -> str:
    tier = txn.execute(
        select(deposit_merchants.c.tier).where(deposit_merchants.c.vendor_id == vendor_id)
    ).scalar()
    return str(tier or "standard")


def deposit_fee(txn: Txn, settings: DepositSettings, vendor: Vendor, amount: Money) -> Money:
    fee = settings.fee_rule(merchant_tier(txn, vendor.id)).fee_for(amount)
    if fee.amount >= amount.amount:
        raise InvalidAmount(f"the deposit fee {fee} is not below the deposit {amount}")
    return fee


def credit_merchant(
    txn: Txn,
    *,
    vendor: Vendor,
    amount: Money,
    fee: Money,
    reference: str,
    bank_ref: str,
    created_by: str,
    now: datetime,
) -> PostedTransfer:
    if vendor.currency != amount.currency:
        raise CurrencyMismatch(f"vendor {vendor.client_id} trades in {vendor.currency}")
    posted = post_transfer(
        txn,
        kind="deposit",
        legs=[
            Leg(clearing_account(txn, amount.currency, now), -amount, "deposit"),
            Leg(vendor.account_id, amount - fee, "deposit"),
            Leg(fee_account(txn, amount.currency, now), fee, "fee"),
        ],
        description=f"Bank deposit {bank_ref}",
        created_by=created_by,
        reference=reference[:64],
        now=now,
    )
    confirmation = {
        "amount": amount.format(),
        "fee": fee.format(),
        "credited": (amount - fee).format(),
        "currency": amount.currency,
        "bank_ref": bank_ref,
        "balance": posted.balance_of(vendor.account_id, amount.currency).format(),
    }
    outbox.notify(
        txn, kind="deposit.confirmation", subject=vendor.client_id, payload=confirmation, now=now
    )
    # Keyed by the transfer: a deposit reversed and credited again is a new event.
    webhooks.push_event(
        txn,
        vendor_id=vendor.id,
        event="deposit.credited",
        subject=str(posted.id),
        data={**confirmation, "transfer_id": posted.id, "reference": reference[:64]},
        now=now,
    )
    return posted


def park_in_suspense(
    txn: Txn, *, amount: Money, reference: str, bank_ref: str, created_by: str, now: datetime
) -> PostedTransfer:
    return post_transfer(
        txn,
        kind="deposit_suspense",
        legs=[
            Leg(clearing_account(txn, amount.currency, now), -amount, "deposit"),
            Leg(suspense_account(txn, amount.currency, now), amount, "suspense"),
        ],
        description=f"Unmatched bank deposit {bank_ref}",
        created_by=created_by,
        reference=reference[:64],
        now=now,
    )
