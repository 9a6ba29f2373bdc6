"""Deposit tables, on the core's shared ``metadata`` (created by migration
``0013_deposits``; keep the two in step).

``deposit_alerts`` keeps every alert as received (an SMS or an e-mail), parsed or not;
``deposits`` holds one row per real bank credit, unique on (bank, bank reference), so the
same credit reported twice (SMS and e-mail, or resent) is posted once.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from vending.storage.schema import metadata
from vending.storage.types import Id, UTCDateTime

DEPOSIT_STATES = (
    "credited",  # posted to the merchant (bank clearing -> merchant, fee leg)
    "suspense",  # posted to the suspense account: no merchant matched; manual queue
    "review",  # not posted: not authentic or amounts disagree; manual queue
    "rejected",  # refused by staff (any posting reversed)
)

ALERT_OUTCOMES = (
    "deposit",  # made or updated a deposit (see deposit_id)
    "duplicate",  # the same credit again, same amount: nothing more
    "ignored",  # a debit alert or a sender we have no template for
    "unparsed",  # a known bank's template did not match: an alert to staff
)

deposit_alerts = Table(
    "deposit_alerts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("received_at", UTCDateTime, nullable=False),
    # sms or email
    Column("source", String(8), nullable=False),
    # SMS: the number that forwarded it (Kannel %p); e-mail: the From address.
    Column("sender", String(120), nullable=False),
    Column("bank", String(32), nullable=True),
    Column("authentic", Boolean, nullable=False),
    Column("outcome", String(12), nullable=False),
    Column("reason", String(200), nullable=False, server_default=""),
    Column("deposit_id", Id, ForeignKey("deposits.id"), nullable=True),
    # The alert's text (an SMS, or the e-mail's text part): no secrets in bank alerts.
    Column("text", Text, nullable=False),
    CheckConstraint(
        "outcome IN (" + ", ".join(f"'{o}'" for o in ALERT_OUTCOMES) + ")", name="outcome"
    ),
    Index("ix_deposit_alerts_outcome_id", "outcome", "id"),
)

deposits = Table(
    "deposits",
    metadata,
    Column("id", Id, primary_key=True),
    Column("bank", String(32), nullable=False),
    # UTR (NEFT 16, RTGS 22), RRN (UPI/IMPS 12) or the bank's own reference.
    Column("bank_ref", String(40), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("txn_date", Date, nullable=False),
    Column("reference", String(200), nullable=False, server_default=""),
    Column("payer", String(64), nullable=False, server_default=""),
    Column("state", String(12), nullable=False),
    Column("reason", String(200), nullable=False, server_default=""),
    # reference, virtual_account, payer, staff
    Column("matched_by", String(16), nullable=True),
    Column("vendor_id", Id, ForeignKey("vendors.id"), nullable=True),
    Column("fee", BigInteger, nullable=False, server_default="0"),
    # The transfer that holds the money now (to the merchant or to suspense).
    Column("transfer_id", Id, ForeignKey("transfers.id"), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("resolved_by", String(64), nullable=True),
    Column("resolved_at", UTCDateTime, nullable=True),
    UniqueConstraint("bank", "bank_ref"),
    CheckConstraint("amount > 0", name="amount"),
    CheckConstraint("state IN (" + ", ".join(f"'{s}'" for s in DEPOSIT_STATES) + ")", name="state"),
    Index("ix_deposits_state_id", "state", "id"),
)

# Per merchant: its fee tier and its virtual account number (named in deposit references).
deposit_merchants = Table(
    "deposit_merchants",
    metadata,
    Column("vendor_id", Id, ForeignKey("vendors.id"), primary_key=True),
    Column("tier", String(24), nullable=False, server_default="standard"),
    Column("virtual_account", String(34), nullable=True, unique=True),
)

# Bank accounts known to pay for a merchant (the fallback match: payer + date window).
deposit_payers = Table(
    "deposit_payers",
    metadata,
    Column("id", Id, primary_key=True),
    Column("payer_account", String(64), nullable=False, unique=True),
    Column("vendor_id", Id, ForeignKey("vendors.id"), nullable=False),
)


# Deposit slips a vendor asked for (XMLVend depositReq): how much to pay in (its takings
# since its previous slip), under which reference (one the matcher recognises as this
# vendor), into which of the operator's accounts. The slip's answer is stored under its
# request key (request_pk): reprintDepReq reprints those bytes.
deposit_slips = Table(
    "deposit_slips",
    metadata,
    Column("id", Id, primary_key=True),
    Column("vendor_id", Id, ForeignKey("vendors.id"), nullable=False),
    Column("request_pk", Id, ForeignKey("requests.id"), nullable=False, unique=True),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("banking_ref_no", String(20), nullable=False),
    Column("period_from", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_deposit_slips_vendor_id_id", "vendor_id", "id"),
)
