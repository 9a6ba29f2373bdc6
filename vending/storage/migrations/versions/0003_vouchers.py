"""Vouchers: suppliers, stock imports, batches and encrypted PINs.

Revision ID: 0003_vouchers
Revises: 0002_utilities
Create Date: 2026-11-22
"""

from __future__ import annotations

revision = "0003_vouchers"
down_revision = "0002_utilities"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
