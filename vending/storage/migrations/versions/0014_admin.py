"""The admin web suite (issue 15): staff and partner users, server-side sessions, login
history and four-eyes approvals (keep in step with staff.tables).

Revision ID: 0014_admin
Revises: 0013_moneyin
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vending.storage.types import Id, UTCDateTime

revision = "0014_admin"
down_revision = "0013_moneyin"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{target}.id", name=f"fk_{table}_{column}_{target}")


def upgrade() -> None:
    op.create_table(
        "staff_users",
        sa.Column("id", Id, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(80), nullable=False),
        sa.Column("role", sa.String(24), nullable=False),
        sa.Column("permissions", sa.String(2000), nullable=False),
        sa.Column(
            "node_id", Id, _fk("staff_users", "node_id", "distribution_nodes"), nullable=True
        ),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("must_change_password", sa.Boolean, nullable=False),
        sa.Column("totp_key_id", sa.Integer, nullable=True),
        sa.Column("totp_secret", sa.LargeBinary, nullable=True),
        sa.Column("totp_enabled", sa.Boolean, nullable=False),
        sa.Column("totp_last_step", sa.BigInteger, nullable=True),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("password_changed_at", UTCDateTime, nullable=True),
        sa.Column("last_login_at", UTCDateTime, nullable=True),
        sa.UniqueConstraint("username", name="uq_staff_users_username"),
        sa.CheckConstraint("status IN ('active', 'blocked')", name="ck_staff_users_status"),
    )
    op.create_table(
        "staff_sessions",
        sa.Column("id", Id, primary_key=True),
        sa.Column("id_hash", sa.String(64), nullable=False),
        sa.Column("user_id", Id, _fk("staff_sessions", "user_id", "staff_users"), nullable=False),
        sa.Column("stage", sa.String(8), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("last_seen_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("ended_at", UTCDateTime, nullable=True),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("user_agent", sa.String(200), nullable=False),
        sa.UniqueConstraint("id_hash", name="uq_staff_sessions_id_hash"),
        sa.CheckConstraint(
            "stage IN ('password', 'enrol', 'change', 'active')", name="ck_staff_sessions_stage"
        ),
    )
    op.create_index("ix_staff_sessions_user_id", "staff_sessions", ["user_id"])
    op.create_table(
        "staff_logins",
        sa.Column("id", Id, primary_key=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("user_id", Id, _fk("staff_logins", "user_id", "staff_users"), nullable=True),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("user_agent", sa.String(200), nullable=False),
        sa.Column("outcome", sa.String(24), nullable=False),
    )
    op.create_index("ix_staff_logins_user_id_id", "staff_logins", ["user_id", "id"])
    op.create_index("ix_staff_logins_at", "staff_logins", ["at"])
    op.create_table(
        "approvals",
        sa.Column("id", Id, primary_key=True),
        sa.Column("kind", sa.String(48), nullable=False),
        sa.Column("subject", sa.String(120), nullable=False),
        sa.Column("summary", sa.String(200), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("node_id", Id, _fk("approvals", "node_id", "distribution_nodes"), nullable=True),
        sa.Column(
            "requested_by_id",
            Id,
            _fk("approvals", "requested_by_id", "staff_users"),
            nullable=False,
        ),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("requested_at", UTCDateTime, nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_at", UTCDateTime, nullable=True),
        sa.Column("note", sa.String(200), nullable=False, server_default=""),
        sa.Column("result", sa.JSON, nullable=True),
        sa.CheckConstraint(
            "state IN ('pending', 'approved', 'rejected', 'failed')", name="ck_approvals_state"
        ),
    )
    op.create_index("ix_approvals_state_id", "approvals", ["state", "id"])


def downgrade() -> None:
    op.drop_index("ix_approvals_state_id", "approvals")
    op.drop_table("approvals")
    op.drop_index("ix_staff_logins_at", "staff_logins")
    op.drop_index("ix_staff_logins_user_id_id", "staff_logins")
    op.drop_table("staff_logins")
    op.drop_index("ix_staff_sessions_user_id", "staff_sessions")
    op.drop_table("staff_sessions")
    op.drop_table("staff_users")
