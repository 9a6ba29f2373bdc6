"""Reversal policy (issue 10 §3): sales count the reprints that showed their answer again
(``sales.reprint_count``); recovery (issue 10 §5): a request answered in two phases keeps
its encrypted body while pending (``requests.pending_key_id``, ``pending_body``). Keep in
step with vending.storage.schema.

Revision ID: 0008_sale_reprints
Revises: 0006_vendor_batches
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_sale_reprints"
down_revision = "0007_auth_throttle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sales") as batch:
        batch.add_column(
            sa.Column("reprint_count", sa.Integer, nullable=False, server_default=sa.text("0"))
        )
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("pending_key_id", sa.Integer, nullable=True))
        batch.add_column(sa.Column("pending_body", sa.LargeBinary, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("pending_body")
        batch.drop_column("pending_key_id")
    with op.batch_alter_table("sales") as batch:
        batch.drop_column("reprint_count")
