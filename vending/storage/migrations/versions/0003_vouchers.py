"""Vouchers: suppliers, stock imports, batches, encrypted PINs, stock thresholds, and the
keyring's wrapped named secrets (the PIN-hash key).

Revision ID: 0003_vouchers
Revises: 0002_utilities
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vending.storage.types import Id, UTCDateTime

revision = "0003_vouchers"
down_revision = "0002_utilities"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{target}.id", name=f"fk_{table}_{column}_{target}")


def upgrade() -> None:
    op.create_table(
        "wrapped_secrets",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("wrapped_secret", sa.LargeBinary, nullable=False),
        sa.Column("master_fingerprint", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "suppliers",
        sa.Column("id", Id, primary_key=True),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("account_id", Id, _fk("suppliers", "account_id", "accounts"), nullable=False),
        sa.Column("pgp_fingerprint", sa.String(40), nullable=True),
        sa.Column("pgp_public_key", sa.Text, nullable=True),
        sa.Column("require_signature", sa.Boolean, nullable=False, server_default=sa.text("true")),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.CheckConstraint(
            "require_signature = false OR pgp_fingerprint IS NOT NULL",
            name="ck_suppliers_signature_needs_key",
        ),
        sa.UniqueConstraint("code", name="uq_suppliers_code"),
        sa.UniqueConstraint("account_id", name="uq_suppliers_account_id"),
    )
    op.create_table(
        "stock_imports",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "supplier_id", Id, _fk("stock_imports", "supplier_id", "suppliers"), nullable=False
        ),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("signer_fingerprint", sa.String(40), nullable=True),
        sa.Column("row_count", sa.Integer, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("face_total", sa.BigInteger, nullable=False),
        sa.Column("cost_total", sa.BigInteger, nullable=False),
        sa.Column("imported_by", sa.String(64), nullable=False),
        sa.Column("imported_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("file_sha256", name="uq_stock_imports_file_sha256"),
        sa.UniqueConstraint("content_sha256", name="uq_stock_imports_content_sha256"),
    )
    op.create_table(
        "voucher_batches",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "import_id", Id, _fk("voucher_batches", "import_id", "stock_imports"), nullable=False
        ),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column(
            "supplier_id", Id, _fk("voucher_batches", "supplier_id", "suppliers"), nullable=False
        ),
        sa.Column(
            "product_id", Id, _fk("voucher_batches", "product_id", "products"), nullable=False
        ),
        sa.Column("batch_no", sa.String(32), nullable=False),
        sa.Column("row_count", sa.Integer, nullable=False),
        sa.Column("face_value", sa.BigInteger, nullable=False),
        sa.Column("cost_price", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("earliest_expiry", sa.Date, nullable=True),
        sa.Column("latest_expiry", sa.Date, nullable=True),
        sa.Column("expiry_alerted_at", UTCDateTime, nullable=True),
        sa.UniqueConstraint("import_id", "seq", name="uq_voucher_batches_import_id_seq"),
        sa.UniqueConstraint(
            "import_id",
            "product_id",
            "batch_no",
            name="uq_voucher_batches_import_id_product_id_batch_no",
        ),
    )
    op.create_table(
        "vouchers",
        sa.Column("id", Id, primary_key=True),
        sa.Column("supplier_id", Id, nullable=False),
        sa.Column("product_id", Id, nullable=False),
        sa.Column("import_id", Id, nullable=False),
        sa.Column("batch_seq", sa.Integer, nullable=False),
        sa.Column("serial_no", sa.String(32), nullable=False),
        sa.Column("pin_key_id", sa.Integer, nullable=False),
        sa.Column("pin_ciphertext", sa.LargeBinary, nullable=False),
        sa.Column("pin_hash", sa.LargeBinary(16), nullable=False),
        sa.Column("expiry", sa.Date, nullable=True),
        sa.Column("state", sa.String(12), nullable=False, server_default="available"),
        sa.Column("sale_id", Id, _fk("vouchers", "sale_id", "sales"), nullable=True),
        sa.Column("reversal_count", sa.SmallInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("state_changed_at", UTCDateTime, nullable=True),
        sa.Column("state_reason", sa.String(200), nullable=True),
        sa.CheckConstraint(
            "state IN ('available', 'sold', 'quarantined')", name="ck_vouchers_state"
        ),
        sa.CheckConstraint(
            "state <> 'sold' OR sale_id IS NOT NULL", name="ck_vouchers_sold_has_sale"
        ),
        sa.CheckConstraint(
            "state <> 'available' OR sale_id IS NULL", name="ck_vouchers_available_unsold"
        ),
        sa.UniqueConstraint("supplier_id", "serial_no", name="uq_vouchers_supplier_id_serial_no"),
        sa.UniqueConstraint("pin_hash", name="uq_vouchers_pin_hash"),
    )
    op.create_index(
        "ix_vouchers_available",
        "vouchers",
        ["product_id", "expiry", "id"],
        sqlite_where=sa.text("state = 'available'"),
        postgresql_where=sa.text("state = 'available'"),
    )
    op.create_index(
        "uq_vouchers_sale_id",
        "vouchers",
        ["sale_id"],
        unique=True,
        sqlite_where=sa.text("sale_id IS NOT NULL"),
        postgresql_where=sa.text("sale_id IS NOT NULL"),
    )
    op.create_table(
        "stock_thresholds",
        sa.Column(
            "product_id",
            Id,
            _fk("stock_thresholds", "product_id", "products"),
            primary_key=True,
        ),
        sa.Column("low_stock_threshold", sa.Integer, nullable=False),
        sa.Column("low_stock_alerted_at", UTCDateTime, nullable=True),
        sa.CheckConstraint("low_stock_threshold >= 0", name="ck_stock_thresholds_threshold"),
    )


def downgrade() -> None:
    for table in (
        "stock_thresholds", "vouchers", "voucher_batches", "stock_imports", "suppliers",
        "wrapped_secrets",
    ):  # fmt: skip
        op.drop_table(table)
