"""Reversal policy (issue 10 §3): sales count the reprints that showed their answer again
(``sales.reprint_count``; keep in step with vending.storage.schema).

Revision ID: 0008_sale_reprints
Revises: 0006_vendor_batches
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_sale_reprints"
down_revision = "0006_vendor_batches"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sales") as batch:
        batch.add_column(
            sa.Column("reprint_count", sa.Integer, nullable=False, server_default=sa.text("0"))
        )


def downgrade() -> None:
    with op.batch_alter_table("sales") as batch:
        batch.drop_column("reprint_count")
