"""Distribution network tables, on the core's shared ``metadata`` (created by migration
``0013_moneyin``; keep the two in step)."""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, ForeignKey, SmallInteger, String, Table

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
