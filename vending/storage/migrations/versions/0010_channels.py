"""SMS, USSD and card channels: SMS merchants (registered number + hashed PIN), the MT
outbox with delivery states, card payments through the acquirer's switch
(``vending.channel_tables``; keep the two in step).

Revision ID: 0010_channels
Revises: 0011_catalogue (chained after main's 0011 at merge; the lead may renumber)
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vending.storage.types import Id, UTCDateTime

revision = "0010_channels"
down_revision = "0011_catalogue"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{target}.id", name=f"fk_{table}_{column}_{target}")


def upgrade() -> None:
    op.create_table(
        "sms_merchants",
        sa.Column("id", Id, primary_key=True),
        sa.Column("msisdn", sa.String(15), nullable=False),
        sa.Column("vendor_id", Id, _fk("sms_merchants", "vendor_id", "vendors"), nullable=False),
        sa.Column(
            "operator_id", Id, _fk("sms_merchants", "operator_id", "operators"), nullable=False
        ),
        sa.Column("pin_hash", sa.String(255), nullable=False),
        sa.Column("failed_pins", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_until", UTCDateTime, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sms_merchants"),
        sa.UniqueConstraint("msisdn", name="uq_sms_merchants_msisdn"),
    )
    op.create_table(
        "sms_messages",
        sa.Column("id", Id, primary_key=True),
        sa.Column("source", sa.String(120), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("msisdn", sa.String(15), nullable=False),
        sa.Column("sender", sa.String(20), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("coding", sa.SmallInteger, nullable=False),
        sa.Column("vendor_id", Id, _fk("sms_messages", "vendor_id", "vendors"), nullable=True),
        sa.Column("request_pk", Id, nullable=True),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", UTCDateTime, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("sent_at", UTCDateTime, nullable=True),
        sa.Column("dlr_status", sa.SmallInteger, nullable=True),
        sa.Column("dlr_at", UTCDateTime, nullable=True),
        sa.Column("last_error", sa.String(200), nullable=True),
        sa.Column("dlr_token", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sms_messages"),
        sa.UniqueConstraint("source", name="uq_sms_messages_source"),
    )
    op.create_index("ix_sms_messages_due", "sms_messages", ["state", "next_attempt_at"])
    op.create_index("ix_sms_messages_vendor_id", "sms_messages", ["vendor_id", "id"])
    op.create_index("ix_sms_messages_request_pk", "sms_messages", ["request_pk"])
    op.create_table(
        "card_payments",
        sa.Column("id", Id, primary_key=True),
        sa.Column("reference", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.LargeBinary(32), nullable=False),
        sa.Column("product_code", sa.String(32), nullable=False),
        sa.Column("target", sa.String(32), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("pan_masked", sa.String(19), nullable=False),
        sa.Column("pan_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("stan", sa.String(6), nullable=False),
        sa.Column("rrn", sa.String(12), nullable=False),
        sa.Column("transmitted_at", sa.String(10), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("response_code", sa.String(2), nullable=True),
        sa.Column("auth_code", sa.String(6), nullable=True),
        sa.Column("reversal_reason", sa.String(40), nullable=True),
        sa.Column("reversal_attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("funding_transfer_id", Id, nullable=True),
        sa.Column("answer", sa.LargeBinary, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_card_payments"),
        sa.UniqueConstraint("reference", name="uq_card_payments_reference"),
        sa.UniqueConstraint("rrn", name="uq_card_payments_rrn"),
        sa.UniqueConstraint("stan", "transmitted_at", name="uq_card_payments_stan_transmitted_at"),
    )
    op.create_index("ix_card_payments_state", "card_payments", ["state"])


def downgrade() -> None:
    op.drop_index("ix_card_payments_state", table_name="card_payments")
    op.drop_table("card_payments")
    op.drop_index("ix_sms_messages_request_pk", table_name="sms_messages")
    op.drop_index("ix_sms_messages_vendor_id", table_name="sms_messages")
    op.drop_index("ix_sms_messages_due", table_name="sms_messages")
    op.drop_table("sms_messages")
    op.drop_table("sms_merchants")
