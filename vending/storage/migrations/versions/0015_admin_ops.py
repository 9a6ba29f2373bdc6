"""Indexes of the admin suite's transaction search, dashboard and reports (issue 15):
sales by time (date ranges, the dashboard's last minute, daily reports) and by state and
time (pending sales left waiting), requests by request id (searched without the client id),
sales by upstream reference, provider attempts by time (provider health). Keep in step with
vending.storage.schema and catalogue.tables.

Revision ID: 0015_admin_ops
Revises: 0014_admin
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0015_admin_ops"
down_revision = "0014_admin"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_sales_created_at_id", "sales", ["created_at", "id"]),
    ("ix_sales_state_created_at", "sales", ["state", "created_at"]),
    ("ix_sales_external_ref", "sales", ["external_ref"]),
    ("ix_requests_request_id", "requests", ["request_id"]),
    ("ix_provider_attempts_at", "provider_attempts", ["at"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
