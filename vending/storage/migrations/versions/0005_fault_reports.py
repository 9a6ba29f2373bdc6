"""Customer fault reports (XMLVend custReportFaultReq; utilities.faults).

Revision ID: 0005_fault_reports
Revises: 0004_vendor_privileges
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vending.storage.types import Id, UTCDateTime

revision = "0005_fault_reports"
down_revision = "0004_vendor_privileges"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{target}.id", name=f"fk_{table}_{column}_{target}")


def upgrade() -> None:
    op.create_table(
        "fault_reports",
        sa.Column("id", Id, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("msno", sa.String(13), nullable=True),
        sa.Column("meter_registered", sa.Boolean, nullable=True),
        sa.Column("customer_name", sa.String(40), nullable=False),
        sa.Column("customer_address", sa.String(80), nullable=False),
        sa.Column("contact_no", sa.String(12), nullable=True),
        sa.Column("account_no", sa.String(20), nullable=True),
        sa.Column("loc_ref", sa.String(20), nullable=True),
        sa.Column("description", sa.String(160), nullable=True),
        sa.Column("vendor_id", Id, _fk("fault_reports", "vendor_id", "vendors"), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("terminal_id", sa.String(64), nullable=False),
        sa.Column("operator_name", sa.String(64), nullable=True),
        sa.Column("request_pk", Id, _fk("fault_reports", "request_pk", "requests"), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("status", sa.String(8), nullable=False, server_default=sa.text("'open'")),
        sa.Column("closed_at", UTCDateTime, nullable=True),
        sa.Column("closed_by", sa.String(64), nullable=True),
        sa.Column("resolution", sa.String(500), nullable=True),
        sa.CheckConstraint("kind IN ('general', 'meter', 'network')", name="ck_fault_reports_kind"),
        sa.CheckConstraint("status IN ('open', 'closed')", name="ck_fault_reports_status"),
        sa.CheckConstraint(
            "(kind = 'meter') = (msno IS NOT NULL) AND (msno IS NULL) = (meter_registered IS NULL)",
            name="ck_fault_reports_meter",
        ),
        sa.CheckConstraint(
            "(status = 'open' AND closed_at IS NULL AND closed_by IS NULL AND resolution IS NULL)"
            " OR (status = 'closed' AND closed_at IS NOT NULL AND closed_by IS NOT NULL"
            " AND resolution IS NOT NULL)",
            name="ck_fault_reports_closed",
        ),
        sa.UniqueConstraint("request_pk", name="uq_fault_reports_request_pk"),
    )
    op.create_index("ix_fault_reports_status_created_at", "fault_reports", ["status", "created_at"])
    op.create_index("ix_fault_reports_msno", "fault_reports", ["msno"])


def downgrade() -> None:
    op.drop_table("fault_reports")
