"""Utilities: meters, vending keys, tariffs and TID state.

A frozen snapshot of ``utilities/tables.py`` as of this revision (written by hand, never
generated at run time; ``tests/utilities/test_utilities_tables.py`` checks they agree).

Revision ID: 0002_utilities
Revises: 0001_core
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vending.storage.types import Id, UTCDateTime

revision = "0002_utilities"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{target}.id", name=f"fk_{table}_{column}_{target}")


def upgrade() -> None:
    op.create_table(
        "vending_keys",
        sa.Column("id", Id, primary_key=True),
        sa.Column("sgc", sa.String(6), nullable=False),
        sa.Column("krn", sa.SmallInteger, nullable=False),
        sa.Column("dkga", sa.SmallInteger, nullable=False),
        sa.Column("ea", sa.SmallInteger, nullable=False),
        sa.Column("key_type", sa.SmallInteger, nullable=False),
        sa.Column("base_date", sa.SmallInteger, nullable=False),
        sa.Column("ken", sa.SmallInteger, nullable=False, server_default=sa.text("255")),
        sa.Column("is_current", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("description", sa.String(80), nullable=False, server_default=""),
        sa.Column("data_key_id", sa.Integer, nullable=False),
        sa.Column("ciphertext", sa.LargeBinary, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("sgc", "krn", name="uq_vending_keys_sgc_krn"),
        sa.CheckConstraint("krn BETWEEN 1 AND 9", name="ck_vending_keys_krn"),
        sa.CheckConstraint("dkga IN (2, 4)", name="ck_vending_keys_dkga"),
        sa.CheckConstraint("ea IN (7, 11)", name="ck_vending_keys_ea"),
        sa.CheckConstraint("dkga = 4 OR ea = 7", name="ck_vending_keys_dkga_ea"),
        sa.CheckConstraint("key_type BETWEEN 0 AND 3", name="ck_vending_keys_key_type"),
        sa.CheckConstraint("base_date IN (1993, 2014, 2035)", name="ck_vending_keys_base_date"),
        sa.CheckConstraint("ken BETWEEN 0 AND 255", name="ck_vending_keys_ken"),
    )
    op.create_index(
        "uq_vending_keys_current_sgc",
        "vending_keys",
        ["sgc"],
        unique=True,
        sqlite_where=sa.text("is_current"),
        postgresql_where=sa.text("is_current"),
    )
    op.create_table(
        "sgc_vendors",
        sa.Column("sgc", sa.String(6), primary_key=True),
        sa.Column("vendor_id", Id, _fk("sgc_vendors", "vendor_id", "vendors"), primary_key=True),
    )
    op.create_table(
        "tariffs",
        sa.Column("id", Id, primary_key=True),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("vat_rate_bp", sa.Integer, nullable=False),
        sa.Column("service_charge", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("debt_recovery_bp", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("fbe_units", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("code", name="uq_tariffs_code"),
        sa.CheckConstraint("vat_rate_bp BETWEEN 0 AND 10000", name="ck_tariffs_vat"),
        sa.CheckConstraint("service_charge >= 0", name="ck_tariffs_service_charge"),
        sa.CheckConstraint("debt_recovery_bp BETWEEN 0 AND 9999", name="ck_tariffs_debt_recovery"),
        sa.CheckConstraint("fbe_units >= 0", name="ck_tariffs_fbe_units"),
    )
    op.create_table(
        "tariff_blocks",
        sa.Column("tariff_id", Id, _fk("tariff_blocks", "tariff_id", "tariffs"), primary_key=True),
        sa.Column("seq", sa.SmallInteger, primary_key=True),
        sa.Column("up_to_units", sa.BigInteger, nullable=True),
        sa.Column("rate", sa.BigInteger, nullable=False),
        sa.CheckConstraint("rate > 0", name="ck_tariff_blocks_rate"),
        sa.CheckConstraint("up_to_units IS NULL OR up_to_units > 0", name="ck_tariff_blocks_up_to"),
    )
    op.create_table(
        "meters",
        sa.Column("id", Id, primary_key=True),
        sa.Column("msno", sa.String(13), nullable=False),
        sa.Column("sgc", sa.String(6), nullable=False),
        sa.Column("krn", sa.SmallInteger, nullable=False),
        sa.Column("ti", sa.String(2), nullable=False),
        sa.Column("key_type", sa.SmallInteger, nullable=False),
        sa.Column("ea", sa.SmallInteger, nullable=False),
        sa.Column("tt", sa.String(2), nullable=False, server_default="02"),
        sa.Column("base_date", sa.SmallInteger, nullable=False),
        sa.Column("customer_name", sa.String(40), nullable=False, server_default=""),
        sa.Column("customer_address", sa.String(80), nullable=False, server_default=""),
        sa.Column("account_no", sa.String(20), nullable=True),
        sa.Column("contact_no", sa.String(12), nullable=True),
        sa.Column("loc_ref", sa.String(20), nullable=True),
        sa.Column("tariff_id", Id, _fk("meters", "tariff_id", "tariffs"), nullable=True),
        sa.Column("blocked", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("fbe_eligible", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("last_tid", sa.Integer, nullable=True),
        sa.Column("mtd_month", sa.String(7), nullable=True),
        sa.Column("mtd_units", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("fbe_month", sa.String(7), nullable=True),
        sa.Column("service_charge_month", sa.String(7), nullable=True),
        sa.Column("last_purchase_at", UTCDateTime, nullable=True),
        sa.Column("test_behaviour", sa.String(24), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("msno", name="uq_meters_msno"),
        sa.CheckConstraint("krn BETWEEN 1 AND 9", name="ck_meters_krn"),
        sa.CheckConstraint("key_type BETWEEN 0 AND 3", name="ck_meters_key_type"),
        sa.CheckConstraint("ea IN (7, 11)", name="ck_meters_ea"),
        sa.CheckConstraint("base_date IN (1993, 2014, 2035)", name="ck_meters_base_date"),
        sa.CheckConstraint("mtd_units >= 0", name="ck_meters_mtd_units"),
        sa.CheckConstraint(
            "test_behaviour IS NULL OR test_behaviour IN ('slow', 'upstream_failure')",
            name="ck_meters_test_behaviour",
        ),
    )
    op.create_table(
        "meter_debts",
        sa.Column("meter_id", Id, _fk("meter_debts", "meter_id", "meters"), primary_key=True),
        sa.Column("account_no", sa.String(20), nullable=True),
        sa.Column("description", sa.String(80), nullable=False),
        sa.Column("balance", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.CheckConstraint("balance >= 0", name="ck_meter_debts_balance"),
    )
    op.create_table(
        "issued_tokens",
        sa.Column("id", Id, primary_key=True),
        sa.Column("meter_id", Id, _fk("issued_tokens", "meter_id", "meters"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("token_class", sa.SmallInteger, nullable=False),
        sa.Column("subclass", sa.SmallInteger, nullable=False),
        sa.Column("tid", sa.Integer, nullable=True),
        sa.Column("base_date", sa.SmallInteger, nullable=True),
        sa.Column("amount", sa.BigInteger, nullable=True),
        sa.Column("request_pk", Id, _fk("issued_tokens", "request_pk", "requests"), nullable=True),
        sa.Column("sale_id", Id, _fk("issued_tokens", "sale_id", "sales"), nullable=True),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("issued_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_issued_tokens_token_hash", "issued_tokens", ["token_hash"])
    op.create_index("ix_issued_tokens_meter_id_id", "issued_tokens", ["meter_id", "id"])
    op.create_table(
        "upstream_vends",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "request_pk", Id, _fk("upstream_vends", "request_pk", "requests"), nullable=False
        ),
        sa.Column("sale_id", Id, _fk("upstream_vends", "sale_id", "sales"), nullable=False),
        sa.Column("route", sa.String(64), nullable=False),
        sa.Column("msno", sa.String(13), nullable=False),
        sa.Column("upstream_date_time", sa.String(14), nullable=False),
        sa.Column("upstream_unique_number", sa.String(6), nullable=False),
        sa.Column("data_key_id", sa.Integer, nullable=False),
        sa.Column("request_body", sa.LargeBinary, nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("next_attempt_at", UTCDateTime, nullable=False),
        sa.Column("last_error", sa.String(200), nullable=True),
        sa.Column("reversal", sa.String(12), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("completed_at", UTCDateTime, nullable=True),
        sa.UniqueConstraint("request_pk", name="uq_upstream_vends_request_pk"),
        sa.UniqueConstraint("sale_id", name="uq_upstream_vends_sale_id"),
        sa.CheckConstraint(
            "state IN ('pending', 'settled', 'failed')", name="ck_upstream_vends_state"
        ),
        sa.CheckConstraint(
            "reversal IS NULL OR reversal IN ('needed', 'reversed', 'refused')",
            name="ck_upstream_vends_reversal",
        ),
    )
    op.create_index(
        "ix_upstream_vends_state_next_attempt_at",
        "upstream_vends",
        ["state", "next_attempt_at"],
    )


def downgrade() -> None:
    for table in (
        "upstream_vends", "issued_tokens", "meter_debts", "meters", "tariff_blocks", "tariffs",
        "sgc_vendors", "vending_keys",
    ):  # fmt: skip
        op.drop_table(table)
