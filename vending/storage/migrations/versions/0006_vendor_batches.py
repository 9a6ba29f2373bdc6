"""Vendors' sales batches: banking, sales and shift batches per vendor terminal
(``vending.batches.vendor_batches``; keep the two in step).

Revision ID: 0006_vendor_batches
Revises: 0005_fault_reports
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vending.storage.types import Id, UTCDateTime

revision = "0006_vendor_batches"
down_revision = "0005_fault_reports"
branch_labels = None
depends_on = None


def _fk(column: str, target: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{target}.id", name=f"fk_vendor_batches_{column}_{target}")


def upgrade() -> None:
    op.create_table(
        "vendor_batches",
        sa.Column("id", Id, primary_key=True),
        sa.Column("vendor_id", Id, _fk("vendor_id", "vendors"), nullable=False),
        sa.Column("terminal_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("seq_no", sa.Integer, nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("ended_at", UTCDateTime, nullable=True),
        sa.Column("start_request_pk", Id, _fk("start_request_pk", "requests"), nullable=True),
        sa.Column("end_request_pk", Id, _fk("end_request_pk", "requests"), nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("sale_count", sa.Integer, nullable=True),
        sa.Column("sale_amount", sa.BigInteger, nullable=True),
        sa.Column("reversal_count", sa.Integer, nullable=True),
        sa.Column("reversal_amount", sa.BigInteger, nullable=True),
        sa.Column("vendor_net", sa.BigInteger, nullable=True),
        sa.CheckConstraint("kind IN ('bank', 'sales', 'shift')", name="ck_vendor_batches_kind"),
        sa.CheckConstraint(
            "(state = 'open' AND ended_at IS NULL) OR (state = 'closed' AND ended_at IS NOT NULL)",
            name="ck_vendor_batches_state",
        ),
        sa.CheckConstraint("seq_no > 0", name="ck_vendor_batches_seq_no"),
        sa.UniqueConstraint(
            "vendor_id",
            "terminal_id",
            "kind",
            "seq_no",
            name="uq_vendor_batches_vendor_id_terminal_id_kind_seq_no",
        ),
    )
    # At most one open batch of each kind per vendor terminal.
    op.create_index(
        "uq_vendor_batches_open",
        "vendor_batches",
        ["vendor_id", "terminal_id", "kind"],
        unique=True,
        sqlite_where=sa.text("state = 'open'"),
        postgresql_where=sa.text("state = 'open'"),
    )


def downgrade() -> None:
    op.drop_index("uq_vendor_batches_open", table_name="vendor_batches")
    op.drop_table("vendor_batches")
