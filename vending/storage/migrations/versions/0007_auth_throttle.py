"""Failed-login throttling shared by every worker: counters per operator and per client
address (``vending.storage.schema.login_failures``; keep the two in step).

Revision ID: 0007_auth_throttle
Revises: 0006_vendor_batches
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vending.storage.types import Id, UTCDateTime

revision = "0007_auth_throttle"
down_revision = "0006_vendor_batches"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", Id, primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("window_started_at", UTCDateTime, nullable=False),
        sa.Column("locked_until", UTCDateTime, nullable=True),
        sa.CheckConstraint("kind IN ('operator', 'address')", name="ck_login_failures_kind"),
        sa.CheckConstraint("failures >= 0", name="ck_login_failures_failures"),
        sa.UniqueConstraint("kind", "subject", name="uq_login_failures_kind_subject"),
    )
    op.create_index("ix_login_failures_window_started_at", "login_failures", ["window_started_at"])


def downgrade() -> None:
    op.drop_index("ix_login_failures_window_started_at", table_name="login_failures")
    op.drop_table("login_failures")
