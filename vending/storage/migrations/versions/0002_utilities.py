"""Utilities: meters, vending keys, tariffs and TID state.

Revision ID: 0002_utilities
Revises: 0001_core
Create Date: 2026-11-22
"""

from __future__ import annotations

revision = "0002_utilities"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
