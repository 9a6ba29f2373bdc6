"""Core: accounts, ledger, vendors, operators, products, requests, sales, keys, audit, outbox.

Revision ID: 0001_core
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vending.storage.types import Id, UTCDateTime

revision = "0001_core"
down_revision = None
branch_labels = None
depends_on = None

_ACCOUNT_KINDS = (
    "house", "revenue", "supplier", "utility", "vendor", "consumer", "fee", "commission",
    "tax", "suspense",
)  # fmt: skip
_PRODUCT_KINDS = (
    "electricity", "voucher", "pinless", "bill_payment", "dth", "data", "insurance",
    "money_transfer",
)  # fmt: skip


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", Id, primary_key=True),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("balance", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("credit_limit", sa.BigInteger, nullable=True),
        sa.Column("blocked", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.CheckConstraint(_in("kind", _ACCOUNT_KINDS), name="ck_accounts_kind"),
        sa.CheckConstraint(
            "credit_limit IS NULL OR credit_limit >= 0", name="ck_accounts_credit_limit"
        ),
        sa.CheckConstraint(
            "credit_limit IS NULL OR balance >= -credit_limit",
            name="ck_accounts_balance_above_limit",
        ),
        sa.UniqueConstraint("code", name="uq_accounts_code"),
    )
    op.create_table(
        "transfers",
        sa.Column("id", Id, primary_key=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("reference", sa.String(64), nullable=True),
        sa.Column(
            "reverses_id",
            Id,
            sa.ForeignKey("transfers.id", name="fk_transfers_reverses_id_transfers"),
            nullable=True,
        ),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("reverses_id", name="uq_transfers_reverses_id"),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "transfer_id",
            Id,
            sa.ForeignKey("transfers.id", name="fk_ledger_entries_transfer_id_transfers"),
            nullable=False,
        ),
        sa.Column(
            "account_id",
            Id,
            sa.ForeignKey("accounts.id", name="fk_ledger_entries_account_id_accounts"),
            nullable=False,
        ),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("role", sa.String(24), nullable=False),
        sa.Column("balance_after", sa.BigInteger, nullable=False),
        sa.CheckConstraint("amount <> 0", name="ck_ledger_entries_nonzero"),
    )
    op.create_index("ix_ledger_entries_transfer_id", "ledger_entries", ["transfer_id"])
    op.create_index("ix_ledger_entries_account_id_id", "ledger_entries", ["account_id", "id"])

    op.create_table(
        "vendors",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "account_id",
            Id,
            sa.ForeignKey("accounts.id", name="fk_vendors_account_id_accounts"),
            nullable=False,
        ),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("address", sa.String(80), nullable=False, server_default=""),
        sa.Column("blocked", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("require_auth", sa.Boolean, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("account_id", name="uq_vendors_account_id"),
        sa.UniqueConstraint("client_id", name="uq_vendors_client_id"),
    )
    op.create_table(
        "operators",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "vendor_id",
            Id,
            sa.ForeignKey("vendors.id", name="fk_operators_vendor_id_vendors"),
            nullable=True,
        ),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("credential_version", sa.Integer, nullable=False, server_default=sa.text("1")),
        sa.Column("blocked", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("password_changed_at", UTCDateTime, nullable=False),
        sa.CheckConstraint("role IN ('admin', 'operator')", name="ck_operators_role"),
        sa.UniqueConstraint("vendor_id", "name", name="uq_operators_vendor_id_name"),
    )
    op.create_index(
        "uq_operators_staff_name",
        "operators",
        ["name"],
        unique=True,
        sqlite_where=sa.text("vendor_id IS NULL"),
        postgresql_where=sa.text("vendor_id IS NULL"),
    )

    op.create_table(
        "products",
        sa.Column("id", Id, primary_key=True),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column(
            "supplier_account_id",
            Id,
            sa.ForeignKey("accounts.id", name="fk_products_supplier_account_id_accounts"),
            nullable=False,
        ),
        sa.Column("face_value", sa.BigInteger, nullable=True),
        sa.Column("min_amount", sa.BigInteger, nullable=True),
        sa.Column("max_amount", sa.BigInteger, nullable=True),
        sa.Column("supplier_discount_bp", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("cost_price", sa.BigInteger, nullable=True),
        sa.Column(
            "merchant_commission_bp", sa.Integer, nullable=False, server_default=sa.text("0")
        ),
        sa.Column("fee", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("reversal_policy", sa.String(24), nullable=False, server_default="refund"),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.text("true")),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.CheckConstraint(_in("kind", _PRODUCT_KINDS), name="ck_products_kind"),
        sa.CheckConstraint(
            _in("reversal_policy", ("refund", "refund_unconfirmed", "none")),
            name="ck_products_reversal_policy",
        ),
        sa.CheckConstraint(
            "(face_value IS NOT NULL AND face_value > 0 AND min_amount IS NULL "
            "AND max_amount IS NULL) OR (face_value IS NULL AND min_amount > 0 "
            "AND max_amount >= min_amount)",
            name="ck_products_price",
        ),
        sa.CheckConstraint(
            "merchant_commission_bp >= 0 AND merchant_commission_bp <= supplier_discount_bp "
            "AND supplier_discount_bp <= 10000",
            name="ck_products_commission",
        ),
        sa.CheckConstraint("fee >= 0", name="ck_products_fee"),
        sa.CheckConstraint(
            "cost_price IS NULL OR (face_value IS NOT NULL AND cost_price >= 0 "
            "AND cost_price <= face_value)",
            name="ck_products_cost_price",
        ),
        sa.UniqueConstraint("code", name="uq_products_code"),
    )
    op.create_table(
        "vendor_commissions",
        sa.Column(
            "vendor_id",
            Id,
            sa.ForeignKey("vendors.id", name="fk_vendor_commissions_vendor_id_vendors"),
            primary_key=True,
        ),
        sa.Column(
            "product_id",
            Id,
            sa.ForeignKey("products.id", name="fk_vendor_commissions_product_id_products"),
            primary_key=True,
        ),
        sa.Column("merchant_commission_bp", sa.Integer, nullable=False),
        sa.CheckConstraint("merchant_commission_bp >= 0", name="ck_vendor_commissions_commission"),
    )

    op.create_table(
        "requests",
        sa.Column("id", Id, primary_key=True),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("operation", sa.String(40), nullable=False),
        sa.Column("fingerprint", sa.LargeBinary(32), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("http_status", sa.SmallInteger, nullable=True),
        sa.Column("response_key_id", sa.Integer, nullable=True),
        sa.Column("response", sa.LargeBinary, nullable=True),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("completed_at", UTCDateTime, nullable=True),
        sa.CheckConstraint("state IN ('pending', 'completed')", name="ck_requests_state"),
        sa.UniqueConstraint("client_id", "request_id", name="uq_requests_client_id_request_id"),
    )
    op.create_table(
        "sales",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "request_pk",
            Id,
            sa.ForeignKey("requests.id", name="fk_sales_request_pk_requests"),
            nullable=False,
        ),
        sa.Column(
            "vendor_id",
            Id,
            sa.ForeignKey("vendors.id", name="fk_sales_vendor_id_vendors"),
            nullable=False,
        ),
        sa.Column(
            "product_id",
            Id,
            sa.ForeignKey("products.id", name="fk_sales_product_id_products"),
            nullable=False,
        ),
        sa.Column(
            "operator_id",
            Id,
            sa.ForeignKey("operators.id", name="fk_sales_operator_id_operators"),
            nullable=True,
        ),
        sa.Column("terminal_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("commission", sa.BigInteger, nullable=False),
        sa.Column("fee", sa.BigInteger, nullable=False),
        sa.Column("cost", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("external_ref", sa.String(64), nullable=True),
        sa.Column(
            "transfer_id",
            Id,
            sa.ForeignKey("transfers.id", name="fk_sales_transfer_id_transfers"),
            nullable=True,
        ),
        sa.Column(
            "settlement_transfer_id",
            Id,
            sa.ForeignKey("transfers.id", name="fk_sales_settlement_transfer_id_transfers"),
            nullable=True,
        ),
        sa.Column(
            "reversal_transfer_id",
            Id,
            sa.ForeignKey("transfers.id", name="fk_sales_reversal_transfer_id_transfers"),
            nullable=True,
        ),
        sa.Column("failure_reason", sa.String(200), nullable=True),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("completed_at", UTCDateTime, nullable=True),
        sa.Column("confirmed_at", UTCDateTime, nullable=True),
        sa.Column("reversed_at", UTCDateTime, nullable=True),
        sa.CheckConstraint(
            "state IN ('pending', 'completed', 'failed', 'reversed')", name="ck_sales_state"
        ),
        sa.CheckConstraint("amount > 0", name="ck_sales_amount"),
        sa.UniqueConstraint("request_pk", name="uq_sales_request_pk"),
    )
    op.create_index("ix_sales_target_id", "sales", ["target", "id"])
    op.create_index("ix_sales_vendor_id_id", "sales", ["vendor_id", "id"])

    op.create_table(
        "data_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
        sa.Column("master_fingerprint", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("retired_at", UTCDateTime, nullable=True),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", Id, primary_key=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(48), nullable=False),
        sa.Column("subject", sa.String(120), nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
    )
    op.create_table(
        "notifications",
        sa.Column("id", Id, primary_key=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(120), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("delivered_at", UTCDateTime, nullable=True),
    )
    op.create_index("ix_notifications_undelivered", "notifications", ["delivered_at", "id"])
    _make_ledger_immutable()


def _make_ledger_immutable() -> None:
    """The journal is append-only: corrections are new reversing transfers."""
    dialect = op.get_bind().dialect.name
    for table in ("transfers", "ledger_entries"):
        if dialect == "postgresql":
            op.execute(
                f"""
                CREATE FUNCTION {table}_immutable() RETURNS trigger AS $$
                BEGIN
                    RAISE EXCEPTION '{table} rows are immutable; post a reversing transfer';
                END;
                $$ LANGUAGE plpgsql
                """
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_update BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {table}_immutable()"
            )
        else:
            for event in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} rows are immutable; "
                    f"post a reversing transfer'); END"
                )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in ("transfers", "ledger_entries"):
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {table}_immutable()")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
    for table in (
        "notifications", "audit_log", "data_keys", "sales", "requests", "vendor_commissions",
        "products", "operators", "vendors", "ledger_entries", "transfers", "accounts",
    ):  # fmt: skip
        op.drop_table(table)
