"""Bulk multi-recharge (issue 13 §5): bulk_batches and bulk_rows (keep in step with
bulk.tables); XMLVend deposit slips (issue 13 §1): deposit_slips (deposits.tables).

Revision ID: 0017_bulk
Revises: 0013_moneyin
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vending.storage.types import Id, UTCDateTime

revision = "0017_bulk"
down_revision = "0016_rewards"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bulk_batches",
        sa.Column("id", Id, primary_key=True),
        sa.Column("scope", sa.String(64), nullable=False),
        sa.Column("file_id", sa.String(40), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column(
            "vendor_id",
            Id,
            sa.ForeignKey("vendors.id", name="fk_bulk_batches_vendor_id_vendors"),
            nullable=False,
        ),
        sa.Column(
            "operator_id",
            Id,
            sa.ForeignKey("operators.id", name="fk_bulk_batches_operator_id_operators"),
            nullable=True,
        ),
        sa.Column("api_key_id", Id, nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("finished_at", UTCDateTime, nullable=True),
        sa.UniqueConstraint("scope", "file_id", name="uq_bulk_batches_scope_file_id"),
        sa.CheckConstraint("state IN ('running', 'done')", name="ck_bulk_batches_state"),
    )
    op.create_index("ix_bulk_batches_state", "bulk_batches", ["state"])
    op.create_table(
        "bulk_rows",
        sa.Column(
            "batch_id",
            Id,
            sa.ForeignKey("bulk_batches.id", name="fk_bulk_rows_batch_id_bulk_batches"),
            nullable=False,
        ),
        sa.Column("row_no", sa.Integer, nullable=False),
        sa.Column("product", sa.String(32), nullable=False),
        sa.Column("target", sa.String(24), nullable=False),
        sa.Column("amount", sa.String(16), nullable=False),
        sa.Column("ref", sa.String(40), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("reference", sa.String(64), nullable=False),
        sa.Column("operator_ref", sa.String(64), nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("batch_id", "row_no", name="pk_bulk_rows"),
        sa.CheckConstraint(
            "state IN ('queued', 'sold', 'pending', 'failed')", name="ck_bulk_rows_state"
        ),
    )
    op.create_index("ix_bulk_rows_batch_state", "bulk_rows", ["batch_id", "state"])
    op.create_table(
        "deposit_slips",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "vendor_id",
            Id,
            sa.ForeignKey("vendors.id", name="fk_deposit_slips_vendor_id_vendors"),
            nullable=False,
        ),
        sa.Column(
            "request_pk",
            Id,
            sa.ForeignKey("requests.id", name="fk_deposit_slips_request_pk_requests"),
            nullable=False,
        ),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("banking_ref_no", sa.String(20), nullable=False),
        sa.Column("period_from", UTCDateTime, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("request_pk", name="uq_deposit_slips_request_pk"),
    )
    op.create_index("ix_deposit_slips_vendor_id_id", "deposit_slips", ["vendor_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_deposit_slips_vendor_id_id", "deposit_slips")
    op.drop_table("deposit_slips")
    op.drop_index("ix_bulk_rows_batch_state", "bulk_rows")
    op.drop_table("bulk_rows")
    op.drop_index("ix_bulk_batches_state", "bulk_batches")
    op.drop_table("bulk_batches")
