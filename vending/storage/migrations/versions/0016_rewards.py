"""The channel network at sale time (issue 13 §2, §4): each node's day of sales (kept by the
sale path), commission slabs per product and level, reward rules, lots and the points
statement. Keep in step with distribution.tables.

Revision ID: 0016_rewards
Revises: 0013_moneyin
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vending.storage.types import Id, UTCDateTime

revision = "0016_rewards"
down_revision = "0013_moneyin"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{target}.id", name=f"fk_{table}_{column}_{target}")


def upgrade() -> None:
    # Plain ADD COLUMN (nullable, or with a default) on both databases: no table rebuild.
    op.add_column("distribution_nodes", sa.Column("sold_day", sa.Date, nullable=True))
    op.add_column(
        "distribution_nodes",
        sa.Column("sold_today", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_table(
        "commission_slabs",
        sa.Column("id", Id, primary_key=True),
        sa.Column("product_code", sa.String(32), nullable=False),
        sa.Column("level", sa.SmallInteger, nullable=False),
        sa.Column("min_amount", sa.BigInteger, nullable=False),
        sa.Column("max_amount", sa.BigInteger, nullable=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("value", sa.String(20), nullable=False),
        sa.Column("cap", sa.BigInteger, nullable=True),
        sa.UniqueConstraint(
            "product_code",
            "level",
            "min_amount",
            name="uq_commission_slabs_product_code_level_min_amount",
        ),
        sa.CheckConstraint("kind IN ('flat', 'percentage')", name="ck_commission_slabs_kind"),
    )
    op.create_table(
        "reward_rules",
        sa.Column("id", Id, primary_key=True),
        sa.Column("product_code", sa.String(32), nullable=False),
        sa.Column("holder", sa.String(8), nullable=False),
        sa.Column("per_amount", sa.BigInteger, nullable=False),
        sa.Column("point_value", sa.BigInteger, nullable=False),
        sa.Column("valid_days", sa.Integer, nullable=False),
        sa.UniqueConstraint("product_code", "holder", name="uq_reward_rules_product_code_holder"),
        sa.CheckConstraint("holder IN ('merchant', 'consumer')", name="ck_reward_rules_holder"),
        sa.CheckConstraint(
            "per_amount > 0 AND point_value > 0 AND valid_days > 0",
            name="ck_reward_rules_positive",
        ),
    )
    op.create_table(
        "reward_lots",
        sa.Column("id", Id, primary_key=True),
        sa.Column("holder", sa.String(8), nullable=False),
        sa.Column("holder_id", Id, nullable=False),
        sa.Column("account_id", Id, _fk("reward_lots", "account_id", "accounts"), nullable=False),
        sa.Column("sale_id", Id, _fk("reward_lots", "sale_id", "sales"), nullable=True),
        sa.Column("points", sa.BigInteger, nullable=False),
        sa.Column("remaining", sa.BigInteger, nullable=False),
        sa.Column("point_value", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("earned_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.CheckConstraint(
            "remaining >= 0 AND remaining <= points", name="ck_reward_lots_remaining"
        ),
    )
    op.create_index("ix_reward_lots_holder", "reward_lots", ["holder", "holder_id", "expires_at"])
    op.create_table(
        "reward_moves",
        sa.Column("id", Id, primary_key=True),
        sa.Column("holder", sa.String(8), nullable=False),
        sa.Column("holder_id", Id, nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("points", sa.BigInteger, nullable=False),
        sa.Column("value", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("sale_id", Id, _fk("reward_moves", "sale_id", "sales"), nullable=True),
        sa.Column(
            "transfer_id", Id, _fk("reward_moves", "transfer_id", "transfers"), nullable=True
        ),
        sa.Column("reference", sa.String(64), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint(
            "holder",
            "holder_id",
            "kind",
            "reference",
            name="uq_reward_moves_holder_holder_id_kind_reference",
        ),
    )
    op.create_index("ix_reward_moves_holder", "reward_moves", ["holder", "holder_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_reward_moves_holder", "reward_moves")
    op.drop_table("reward_moves")
    op.drop_index("ix_reward_lots_holder", "reward_lots")
    op.drop_table("reward_lots")
    op.drop_table("reward_rules")
    op.drop_table("commission_slabs")
    with op.batch_alter_table("distribution_nodes") as batch:
        batch.drop_column("sold_today")
        batch.drop_column("sold_day")
