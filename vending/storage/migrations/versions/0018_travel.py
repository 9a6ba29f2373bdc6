"""Insurance and travel (issue 14 §5): travel_bookings (keep in step with
catalogue.tables), the insurer and travel partner protocols in providers, and the travel
product kind.

Revision ID: 0018_travel
Revises: 0013_moneyin
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vending.storage.types import Id, UTCDateTime

revision = "0018_travel"
down_revision = "0017_bulk"
branch_labels = None
depends_on = None

OLD_PROTOCOLS = ("recharge-json", "bbps-xml", "dmt-json", "aeps-json")
PROTOCOLS = (*OLD_PROTOCOLS, "insurance-json", "travel-json")
OLD_KINDS = (
    "electricity", "voucher", "pinless", "bill_payment", "dth", "data", "insurance",
    "money_transfer",
)  # fmt: skip
KINDS = (*OLD_KINDS, "travel")
STATES = ("held", "booking", "booked", "failed", "released", "cancelled")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _fk(table: str, column: str, target: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{target}.id", name=f"fk_{table}_{column}_{target}")


def _recheck(table: str, name: str, column: str, values: tuple[str, ...]) -> None:
    # SQLite cannot alter a constraint: batch mode copies the table (with this check).
    with op.batch_alter_table(table) as batch:
        batch.drop_constraint(name, type_="check")
        batch.create_check_constraint(name, _in(column, values))


def upgrade() -> None:
    _recheck("providers", "ck_providers_protocol", "protocol", PROTOCOLS)
    _recheck("products", "ck_products_kind", "kind", KINDS)
    op.create_table(
        "travel_bookings",
        sa.Column("id", Id, primary_key=True),
        sa.Column("booking_ref", sa.String(20), nullable=False),
        sa.Column("request_pk", Id, _fk("travel_bookings", "request_pk", "requests"),
                  nullable=False),
        sa.Column("book_request_pk", Id, _fk("travel_bookings", "book_request_pk", "requests"),
                  nullable=True),
        sa.Column("sale_id", Id, _fk("travel_bookings", "sale_id", "sales"), nullable=False),
        sa.Column("vendor_id", Id, _fk("travel_bookings", "vendor_id", "vendors"),
                  nullable=False),
        sa.Column("provider_id", Id, _fk("travel_bookings", "provider_id", "providers"),
                  nullable=False),
        sa.Column("trip_id", sa.String(32), nullable=False),
        sa.Column("trip", sa.JSON, nullable=False),
        sa.Column("seats", sa.JSON, nullable=False),
        sa.Column("passengers", sa.JSON, nullable=False),
        sa.Column("contact", sa.String(15), nullable=False),
        sa.Column("fare", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("hold_id", sa.String(32), nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("pnr", sa.String(20), nullable=True),
        sa.Column("ticket_no", sa.String(32), nullable=True),
        sa.Column("refund", sa.BigInteger, nullable=True),
        sa.Column("refund_transfer_id", Id,
                  _fk("travel_bookings", "refund_transfer_id", "transfers"), nullable=True),
        sa.Column("message", sa.String(200), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.CheckConstraint(_in("state", STATES), name="ck_travel_bookings_state"),
        sa.UniqueConstraint("booking_ref", name="uq_travel_bookings_booking_ref"),
        sa.UniqueConstraint("request_pk", name="uq_travel_bookings_request_pk"),
    )  # fmt: skip
    op.create_index(
        "ix_travel_bookings_state_expires_at", "travel_bookings", ["state", "expires_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_travel_bookings_state_expires_at", table_name="travel_bookings")
    op.drop_table("travel_bookings")
    _recheck("products", "ck_products_kind", "kind", OLD_KINDS)
    _recheck("providers", "ck_providers_protocol", "protocol", OLD_PROTOCOLS)
