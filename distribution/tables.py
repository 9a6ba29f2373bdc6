"""Distribution network tables, on the core's shared ``metadata`` (created by migration
``0013_moneyin``; keep the two in step)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    SmallInteger,
    String,
    Table,
    UniqueConstraint,
)

from vending.storage.schema import metadata
from vending.storage.types import Id, UTCDateTime

NODE_STATUSES = ("active", "suspended")

distribution_nodes = Table(
    "distribution_nodes",
    metadata,
    Column("id", Id, primary_key=True),
    Column("code", String(32), nullable=False, unique=True),
    Column("name", String(80), nullable=False),
    # NULL only for the operator (the root); a node never moves to another parent.
    Column("parent_id", Id, ForeignKey("distribution_nodes.id"), nullable=True, index=True),
    # 0 = operator, 1 = super distributor, ... (names in distribution.nodes.LEVELS).
    Column("level", SmallInteger, nullable=False),
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=False, unique=True),
    # Retailers are merchants: their node shares the vendor's sales account.
    Column("vendor_id", Id, ForeignKey("vendors.id"), nullable=True, unique=True),
    Column("status", String(12), nullable=False),
    Column("territory", String(80), nullable=False, server_default=""),
    Column("kyc_ref", String(64), nullable=False, server_default=""),
    # Per-node limits beyond the account's credit limit (NULL / empty: no limit).
    Column("daily_sale_limit", BigInteger, nullable=True),
    Column("allowed_products", String(400), nullable=False, server_default=""),
    Column("allowed_channels", String(120), nullable=False, server_default=""),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint(
        "status IN (" + ", ".join(f"'{s}'" for s in NODE_STATUSES) + ")", name="status"
    ),
    CheckConstraint("(parent_id IS NULL) = (level = 0)", name="root"),
)

FUND_REQUEST_STATES = ("pending", "approved", "rejected", "expired")

# A node asks its parent (or any ancestor: staff act as the operator) for credit; approval
# is the transfer. (requester, reference) is unique: the same request twice is refused.
fund_requests = Table(
    "fund_requests",
    metadata,
    Column("id", Id, primary_key=True),
    Column("requester_id", Id, ForeignKey("distribution_nodes.id"), nullable=False),
    Column("reference", String(32), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("state", String(10), nullable=False),
    Column("reason", String(200), nullable=False, server_default=""),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("decided_by", String(64), nullable=True),
    Column("decided_at", UTCDateTime, nullable=True),
    Column("transfer_id", Id, ForeignKey("transfers.id"), nullable=True),
    UniqueConstraint("requester_id", "reference"),
    CheckConstraint("amount > 0", name="amount"),
    CheckConstraint(
        "state IN (" + ", ".join(f"'{s}'" for s in FUND_REQUEST_STATES) + ")", name="state"
    ),
)
