"""Vendors' privileges: operations beyond selling (free issue, engineering tokens, ...).

Revision ID: 0004_vendor_privileges
Revises: 0003_vouchers
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_vendor_privileges"
down_revision = "0003_vouchers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("vendors") as batch:
        batch.add_column(sa.Column("privileges", sa.String(200), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("vendors") as batch:
        batch.drop_column("privileges")
