"""API channels: API keys, consumers with wallets and sessions, webhook deliveries and their
log (``vending.api_tables``; keep the two in step).

Revision ID: 0009_api_consumers
Revises: 0008_sale_reprints
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vending.storage.types import Id, UTCDateTime

revision = "0009_api_consumers"
down_revision = "0008_sale_reprints"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{target}.id", name=f"fk_{table}_{column}_{target}")


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", Id, primary_key=True),
        sa.Column("key_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("hint", sa.String(16), nullable=False),
        sa.Column("label", sa.String(80), nullable=False, server_default=""),
        sa.Column("vendor_id", Id, _fk("api_keys", "vendor_id", "vendors"), nullable=False),
        sa.Column("operator_id", Id, _fk("api_keys", "operator_id", "operators"), nullable=False),
        sa.Column("callback_url", sa.String(500), nullable=True),
        sa.Column("webhook_key_id", sa.Integer, nullable=True),
        sa.Column("webhook_secret", sa.LargeBinary, nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("revoked_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )
    op.create_index("ix_api_keys_vendor_id", "api_keys", ["vendor_id"])
    op.create_table(
        "consumers",
        sa.Column("id", Id, primary_key=True),
        sa.Column("msisdn", sa.String(15), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("kyc_level", sa.SmallInteger, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("account_id", Id, _fk("consumers", "account_id", "accounts"), nullable=False),
        sa.Column("pin_hash", sa.String(255), nullable=True),
        sa.Column("failed_logins", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("locked_until", UTCDateTime, nullable=True),
        sa.Column("credential_version", sa.Integer, nullable=False, server_default=sa.text("1")),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_consumers"),
        sa.UniqueConstraint("msisdn", name="uq_consumers_msisdn"),
        sa.UniqueConstraint("account_id", name="uq_consumers_account_id"),
        sa.CheckConstraint("status IN ('active', 'blocked', 'closed')", name="ck_consumers_status"),
        sa.CheckConstraint("kyc_level >= 0", name="ck_consumers_kyc_level"),
    )
    op.create_table(
        "consumer_sessions",
        sa.Column("id", Id, primary_key=True),
        sa.Column("token_hash", sa.LargeBinary(32), nullable=False),
        sa.Column(
            "consumer_id",
            Id,
            _fk("consumer_sessions", "consumer_id", "consumers"),
            nullable=False,
        ),
        sa.Column("credential_version", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("revoked_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_consumer_sessions"),
        sa.UniqueConstraint("token_hash", name="uq_consumer_sessions_token_hash"),
    )
    op.create_index("ix_consumer_sessions_consumer_id", "consumer_sessions", ["consumer_id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "api_key_id", Id, _fk("webhook_deliveries", "api_key_id", "api_keys"), nullable=False
        ),
        sa.Column(
            "request_pk", Id, _fk("webhook_deliveries", "request_pk", "requests"), nullable=False
        ),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("url", sa.String(500), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("next_attempt_at", UTCDateTime, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("delivered_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
        sa.CheckConstraint(
            "state IN ('pending', 'delivered', 'failed')", name="ck_webhook_deliveries_state"
        ),
        sa.UniqueConstraint(
            "api_key_id", "request_pk", name="uq_webhook_deliveries_api_key_id_request_pk"
        ),
    )
    op.create_index(
        "ix_webhook_deliveries_state_next_attempt_at",
        "webhook_deliveries",
        ["state", "next_attempt_at"],
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "delivery_id",
            Id,
            _fk("webhook_attempts", "delivery_id", "webhook_deliveries"),
            nullable=False,
        ),
        sa.Column("attempted_at", UTCDateTime, nullable=False),
        sa.Column("http_status", sa.SmallInteger, nullable=True),
        sa.Column("error", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_attempts"),
    )
    op.create_index("ix_webhook_attempts_delivery_id", "webhook_attempts", ["delivery_id"])


def downgrade() -> None:
    op.drop_index("ix_webhook_attempts_delivery_id", table_name="webhook_attempts")
    op.drop_table("webhook_attempts")
    op.drop_index("ix_webhook_deliveries_state_next_attempt_at", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index("ix_consumer_sessions_consumer_id", table_name="consumer_sessions")
    op.drop_table("consumer_sessions")
    op.drop_table("consumers")
    op.drop_index("ix_api_keys_vendor_id", table_name="api_keys")
    op.drop_table("api_keys")
