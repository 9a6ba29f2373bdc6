"""Money in and the channel network (issue 13): deposits recognised from bank alerts
(deposit_alerts, deposits, deposit_merchants, deposit_payers; keep in step with
deposits.tables) and the distribution network (distribution_nodes; distribution.tables).

Revision ID: 0013_moneyin
Revises: 0008_sale_reprints
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vending.storage.types import Id, UTCDateTime

revision = "0013_moneyin"
down_revision = "0010_channels"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{target}.id", name=f"fk_{table}_{column}_{target}")


def upgrade() -> None:
    op.create_table(
        "deposits",
        sa.Column("id", Id, primary_key=True),
        sa.Column("bank", sa.String(32), nullable=False),
        sa.Column("bank_ref", sa.String(40), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("txn_date", sa.Date, nullable=False),
        sa.Column("reference", sa.String(200), nullable=False, server_default=""),
        sa.Column("payer", sa.String(64), nullable=False, server_default=""),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False, server_default=""),
        sa.Column("matched_by", sa.String(16), nullable=True),
        sa.Column("vendor_id", Id, _fk("deposits", "vendor_id", "vendors"), nullable=True),
        sa.Column("fee", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("transfer_id", Id, _fk("deposits", "transfer_id", "transfers"), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("resolved_by", sa.String(64), nullable=True),
        sa.Column("resolved_at", UTCDateTime, nullable=True),
        sa.UniqueConstraint("bank", "bank_ref", name="uq_deposits_bank_bank_ref"),
        sa.CheckConstraint("amount > 0", name="ck_deposits_amount"),
        sa.CheckConstraint(
            "state IN ('credited', 'suspense', 'review', 'rejected')", name="ck_deposits_state"
        ),
    )
    op.create_index("ix_deposits_state_id", "deposits", ["state", "id"])
    op.create_table(
        "deposit_alerts",
        sa.Column("id", Id, primary_key=True),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("sender", sa.String(120), nullable=False),
        sa.Column("bank", sa.String(32), nullable=True),
        sa.Column("authentic", sa.Boolean, nullable=False),
        sa.Column("outcome", sa.String(12), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False, server_default=""),
        sa.Column("deposit_id", Id, _fk("deposit_alerts", "deposit_id", "deposits"), nullable=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.CheckConstraint(
            "outcome IN ('deposit', 'duplicate', 'ignored', 'unparsed')",
            name="ck_deposit_alerts_outcome",
        ),
    )
    op.create_index("ix_deposit_alerts_outcome_id", "deposit_alerts", ["outcome", "id"])
    op.create_table(
        "deposit_merchants",
        sa.Column(
            "vendor_id", Id, _fk("deposit_merchants", "vendor_id", "vendors"), primary_key=True
        ),
        sa.Column("tier", sa.String(24), nullable=False, server_default="standard"),
        sa.Column("virtual_account", sa.String(34), nullable=True),
        sa.UniqueConstraint("virtual_account", name="uq_deposit_merchants_virtual_account"),
    )
    op.create_table(
        "deposit_payers",
        sa.Column("id", Id, primary_key=True),
        sa.Column("payer_account", sa.String(64), nullable=False),
        sa.Column("vendor_id", Id, _fk("deposit_payers", "vendor_id", "vendors"), nullable=False),
        sa.UniqueConstraint("payer_account", name="uq_deposit_payers_payer_account"),
    )

    op.create_table(
        "distribution_nodes",
        sa.Column("id", Id, primary_key=True),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column(
            "parent_id",
            Id,
            _fk("distribution_nodes", "parent_id", "distribution_nodes"),
            nullable=True,
        ),
        sa.Column("level", sa.SmallInteger, nullable=False),
        sa.Column(
            "account_id", Id, _fk("distribution_nodes", "account_id", "accounts"), nullable=False
        ),
        sa.Column(
            "vendor_id", Id, _fk("distribution_nodes", "vendor_id", "vendors"), nullable=True
        ),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("territory", sa.String(80), nullable=False, server_default=""),
        sa.Column("kyc_ref", sa.String(64), nullable=False, server_default=""),
        sa.Column("daily_sale_limit", sa.BigInteger, nullable=True),
        sa.Column("allowed_products", sa.String(400), nullable=False, server_default=""),
        sa.Column("allowed_channels", sa.String(120), nullable=False, server_default=""),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("code", name="uq_distribution_nodes_code"),
        sa.UniqueConstraint("account_id", name="uq_distribution_nodes_account_id"),
        sa.UniqueConstraint("vendor_id", name="uq_distribution_nodes_vendor_id"),
        sa.CheckConstraint(
            "status IN ('active', 'suspended')", name="ck_distribution_nodes_status"
        ),
        sa.CheckConstraint("(parent_id IS NULL) = (level = 0)", name="ck_distribution_nodes_root"),
    )
    op.create_index("ix_distribution_nodes_parent_id", "distribution_nodes", ["parent_id"])
    op.create_table(
        "fund_requests",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "requester_id",
            Id,
            _fk("fund_requests", "requester_id", "distribution_nodes"),
            nullable=False,
        ),
        sa.Column("reference", sa.String(32), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False, server_default=""),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_at", UTCDateTime, nullable=True),
        sa.Column(
            "transfer_id", Id, _fk("fund_requests", "transfer_id", "transfers"), nullable=True
        ),
        sa.UniqueConstraint(
            "requester_id", "reference", name="uq_fund_requests_requester_id_reference"
        ),
        sa.CheckConstraint("amount > 0", name="ck_fund_requests_amount"),
        sa.CheckConstraint(
            "state IN ('pending', 'approved', 'rejected', 'expired')",
            name="ck_fund_requests_state",
        ),
    )


def downgrade() -> None:
    op.drop_table("fund_requests")
    op.drop_index("ix_distribution_nodes_parent_id", "distribution_nodes")
    op.drop_table("distribution_nodes")
    op.drop_table("deposit_payers")
    op.drop_table("deposit_merchants")
    op.drop_index("ix_deposit_alerts_outcome_id", "deposit_alerts")
    op.drop_table("deposit_alerts")
    op.drop_index("ix_deposits_state_id", "deposits")
    op.drop_table("deposits")
