"""Webhook events that answer no request of the key (issue 13: fund request decisions,
deposits credited): webhook_deliveries.request_pk becomes optional and such a delivery is
keyed by its event instead -- event_key, unique per API key, so the same event is queued
once per key (keep in step with vending.api_tables).

Revision ID: 0019_fund_pushes
Revises: 0018_travel
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vending.storage.types import Id

revision = "0019_fund_pushes"
down_revision = "0018_travel"
branch_labels = None
depends_on = None

UNIQUE = "uq_webhook_deliveries_api_key_id_event_key"


def upgrade() -> None:
    # SQLite cannot alter a column's nullability: batch mode copies the table.
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.alter_column("request_pk", existing_type=Id, nullable=True)
        batch.add_column(sa.Column("event_key", sa.String(80), nullable=True))
        batch.create_unique_constraint(UNIQUE, ["api_key_id", "event_key"])
        batch.create_check_constraint(
            "ck_webhook_deliveries_answers_one",
            "(request_pk IS NULL) <> (event_key IS NULL)",
        )


def downgrade() -> None:
    op.execute(
        "DELETE FROM webhook_attempts WHERE delivery_id IN "
        "(SELECT id FROM webhook_deliveries WHERE request_pk IS NULL)"
    )
    op.execute("DELETE FROM webhook_deliveries WHERE request_pk IS NULL")
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_constraint("ck_webhook_deliveries_answers_one", type_="check")
        batch.drop_constraint(UNIQUE, type_="unique")
        batch.drop_column("event_key")
        batch.alter_column("request_pk", existing_type=Id, nullable=False)
