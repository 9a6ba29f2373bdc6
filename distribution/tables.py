"""Distribution network tables, on the core's shared ``metadata`` (created by migration
``0013_moneyin``; keep the two in step)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
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
    # What the node sold on ``sold_day`` (UTC), kept by the sale path in the sale's own
    # transaction with one conditional UPDATE (migration 0016_rewards).
    Column("sold_day", Date, nullable=True),
    Column("sold_today", BigInteger, nullable=False, server_default="0"),
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


# --- migration 0016_rewards: commission slabs and reward points -------------------------------

SLAB_KINDS = ("flat", "percentage")

# Commission slabs per product and network level (distribution.commissions): an amount band
# [min_amount, max_amount) with a flat amount (minor units) or a percentage, capped.
commission_slabs = Table(
    "commission_slabs",
    metadata,
    Column("id", Id, primary_key=True),
    Column("product_code", String(32), nullable=False),
    Column("level", SmallInteger, nullable=False),
    Column("min_amount", BigInteger, nullable=False),
    Column("max_amount", BigInteger, nullable=True),
    Column("kind", String(10), nullable=False),
    # A decimal as text: minor units (flat) or percent.
    Column("value", String(20), nullable=False),
    Column("cap", BigInteger, nullable=True),
    UniqueConstraint("product_code", "level", "min_amount"),
    CheckConstraint("kind IN ('flat', 'percentage')", name="kind"),
)

REWARD_HOLDERS = ("merchant", "consumer")

# Reward rules per product and holder kind: one point per ``per_amount`` minor units of the
# sale, worth ``point_value`` minor units on redemption, valid ``valid_days`` days.
reward_rules = Table(
    "reward_rules",
    metadata,
    Column("id", Id, primary_key=True),
    Column("product_code", String(32), nullable=False),
    Column("holder", String(8), nullable=False),
    Column("per_amount", BigInteger, nullable=False),
    Column("point_value", BigInteger, nullable=False),
    Column("valid_days", Integer, nullable=False),
    UniqueConstraint("product_code", "holder"),
    CheckConstraint("holder IN ('merchant', 'consumer')", name="holder"),
    CheckConstraint("per_amount > 0 AND point_value > 0 AND valid_days > 0", name="positive"),
)

# Points earned by one sale (a lot): redeemed first-expiring first; what is left at
# ``expires_at`` expires. The rewards liability account holds sum(remaining * point_value).
reward_lots = Table(
    "reward_lots",
    metadata,
    Column("id", Id, primary_key=True),
    Column("holder", String(8), nullable=False),
    Column("holder_id", Id, nullable=False),  # vendors.id or consumers.id
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("sale_id", Id, ForeignKey("sales.id"), nullable=True),
    Column("points", BigInteger, nullable=False),
    Column("remaining", BigInteger, nullable=False),
    Column("point_value", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("earned_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    CheckConstraint("remaining >= 0 AND remaining <= points", name="remaining"),
    Index("ix_reward_lots_holder", "holder", "holder_id", "expires_at"),
)

REWARD_MOVES = ("earn", "redeem", "expire", "reverse", "clawback")

# The points statement: every earning, redemption, expiry and reversal, signed.
reward_moves = Table(
    "reward_moves",
    metadata,
    Column("id", Id, primary_key=True),
    Column("holder", String(8), nullable=False),
    Column("holder_id", Id, nullable=False),
    Column("kind", String(10), nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("value", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("sale_id", Id, ForeignKey("sales.id"), nullable=True),
    Column("transfer_id", Id, ForeignKey("transfers.id"), nullable=True),
    # A redemption's client reference: the same reference twice redeems once.
    Column("reference", String(64), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("holder", "holder_id", "kind", "reference"),
    Index("ix_reward_moves_holder", "holder", "holder_id", "id"),
)
