"""The multi-service catalogue (issue 14): providers, product <-> provider code mappings,
provider orders (suspense holds), attempts, callbacks, recharge operators, numbering
series, ported numbers, plans cache, billers, bill fetches, complaints (keep in step with
catalogue.tables).

Revision ID: 0011_catalogue
Revises: 0009_api_consumers
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
)

from vending.storage.types import Id, UTCDateTime

revision = "0011_catalogue"
down_revision = "0009_api_consumers"
branch_labels = None
depends_on = None

PROVIDER_PROTOCOLS = ("recharge-json", "bbps-xml", "dmt-json", "aeps-json")
ORDER_STATES = ("pending", "success", "failed")
ATTEMPT_OUTCOMES = ("SUCCESS", "PENDING", "FAILED", "UNKNOWN", "DOWN")
FETCH_REQUIREMENTS = ("MANDATORY", "OPTIONAL", "NOT_SUPPORTED")
AMOUNT_RULES = ("EXACT", "PARTIAL", "OVER", "ANY")
RECHARGE_SERVICES = ("mobile", "dth", "datacard")
KYC_LEVELS = ("minimum", "full")


def _in(table: str, column: str, values: tuple[str, ...]) -> CheckConstraint:
    return CheckConstraint(
        f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")", name=f"ck_{table}_{column}"
    )


def _fk(table: str, column: str, target: str) -> ForeignKey:
    return ForeignKey(target, name=f"fk_{table}_{column}_{target.split('.', maxsplit=1)[0]}")


def upgrade() -> None:
    # An upstream provider or aggregator, reached by one protocol.
    op.create_table(
        "providers",
        Column("id", Id, primary_key=True),
        Column("name", String(32), nullable=False),
        Column("protocol", String(16), nullable=False),
        Column("url", String(255), nullable=False),
        Column("timeout_ms", Integer, nullable=False),
        Column("active", Boolean, nullable=False, server_default=text("true")),
        # Addresses callbacks may come from (comma-separated IPs); empty = no callbacks.
        Column("callback_ips", String(255), nullable=False, server_default=""),
        # The HMAC secret shared with the provider, AES-GCM under data key ``data_key_id``.
        Column("data_key_id", Integer, nullable=True),
        Column("secret", LargeBinary, nullable=True),
        Column("created_at", UTCDateTime, nullable=False),
        _in("providers", "protocol", PROVIDER_PROTOCOLS),
        CheckConstraint("timeout_ms > 0", name="ck_providers_timeout_ms"),
        UniqueConstraint("name", name="uq_providers_name"),
    )

    # Which providers sell a product, under which of their codes, in which order.
    op.create_table(
        "provider_mappings",
        Column("id", Id, primary_key=True),
        Column(
            "product_id", Id, _fk("provider_mappings", "product_id", "products.id"), nullable=False
        ),
        Column(
            "provider_id",
            Id,
            _fk("provider_mappings", "provider_id", "providers.id"),
            nullable=False,
        ),
        # The provider's operator/product code ("*": the biller id is sent as it is).
        Column("provider_code", String(32), nullable=False),
        # Lower first.
        Column("priority", SmallInteger, nullable=False, server_default=text("1")),
        Column("active", Boolean, nullable=False, server_default=text("true")),
        UniqueConstraint(
            "product_id", "provider_id", name="uq_provider_mappings_product_id_provider_id"
        ),
    )

    # One sale through a provider: the money is in suspense (sales.state pending) until final.
    op.create_table(
        "provider_orders",
        Column("id", Id, primary_key=True),
        # Our reference sent to the provider (status, callbacks); 20 characters.
        Column("order_id", String(20), nullable=False),
        Column(
            "request_pk", Id, _fk("provider_orders", "request_pk", "requests.id"), nullable=False
        ),
        Column("sale_id", Id, _fk("provider_orders", "sale_id", "sales.id"), nullable=False),
        Column("service", String(16), nullable=False),
        Column("target", String(64), nullable=False),
        Column("params", JSON, nullable=False),
        Column("state", String(12), nullable=False),
        # The provider that holds the order (the one answered PENDING/UNKNOWN, or settled it).
        Column(
            "provider_id", Id, _fk("provider_orders", "provider_id", "providers.id"), nullable=True
        ),
        Column("provider_ref", String(64), nullable=True),
        Column("operator_ref", String(64), nullable=True),
        Column("message", String(200), nullable=True),
        Column("polls", Integer, nullable=False, server_default=text("0")),
        Column("next_poll_at", UTCDateTime, nullable=True),
        # The channel request without credentials (its renderer's ``load``), encrypted.
        Column("data_key_id", Integer, nullable=False),
        Column("request_body", LargeBinary, nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
        Column("completed_at", UTCDateTime, nullable=True),
        _in("provider_orders", "state", ORDER_STATES),
        Index("ix_provider_orders_due", "state", "next_poll_at"),
        UniqueConstraint("order_id", name="uq_provider_orders_order_id"),
        UniqueConstraint("request_pk", name="uq_provider_orders_request_pk"),
        UniqueConstraint("sale_id", name="uq_provider_orders_sale_id"),
    )

    # Every call made for an order (execute, status) and every callback applied: its outcome.
    op.create_table(
        "provider_attempts",
        Column("id", Id, primary_key=True),
        Column(
            "order_pk",
            Id,
            _fk("provider_attempts", "order_pk", "provider_orders.id"),
            nullable=False,
        ),
        Column(
            "provider_id",
            Id,
            _fk("provider_attempts", "provider_id", "providers.id"),
            nullable=False,
        ),
        Column("action", String(12), nullable=False),
        Column("outcome", String(8), nullable=False),
        Column("code", String(16), nullable=False, server_default=""),
        Column("message", String(200), nullable=False, server_default=""),
        Column("latency_ms", Integer, nullable=False, server_default=text("0")),
        Column("at", UTCDateTime, nullable=False),
        _in("provider_attempts", "outcome", ATTEMPT_OUTCOMES),
        CheckConstraint(
            "action IN ('execute', 'status', 'callback')", name="ck_provider_attempts_action"
        ),
        Index("ix_provider_attempts_provider", "provider_id", "id"),
        Index("ix_provider_attempts_order", "order_pk"),
    )

    # Callbacks received (authenticated), once each: a repeat of the same body is a duplicate.
    op.create_table(
        "provider_callbacks",
        Column("id", Id, primary_key=True),
        Column(
            "provider_id",
            Id,
            _fk("provider_callbacks", "provider_id", "providers.id"),
            nullable=False,
        ),
        # SHA-256 of the body (hex).
        Column("digest", String(64), nullable=False),
        Column("order_id", String(20), nullable=False),
        Column("status", String(8), nullable=False),
        # applied | unknown_order | already_final | wrong_provider
        Column("result", String(16), nullable=False),
        Column("received_at", UTCDateTime, nullable=False),
        UniqueConstraint("provider_id", "digest", name="uq_provider_callbacks_provider_id_digest"),
    )

    # --- recharge ---------------------------------------------------------------------------------

    op.create_table(
        "recharge_operators",
        Column("code", String(8), primary_key=True),
        Column("name", String(60), nullable=False),
        Column("service", String(12), nullable=False),
        # The vending product sold for this operator (price range, commission, mappings).
        Column(
            "product_id", Id, _fk("recharge_operators", "product_id", "products.id"), nullable=False
        ),
        _in("recharge_operators", "service", RECHARGE_SERVICES),
    )

    # Mobile numbering series (the first 4 digits) as allocated: operator and circle.
    op.create_table(
        "numbering_series",
        Column("prefix", String(5), primary_key=True),
        Column(
            "operator_code",
            String(8),
            _fk("numbering_series", "operator_code", "recharge_operators.code"),
            nullable=False,
        ),
        Column("circle", String(4), nullable=False),
    )

    # Numbers ported away from their series' operator (mobile number portability).
    op.create_table(
        "ported_numbers",
        Column("msisdn", String(10), primary_key=True),
        Column(
            "operator_code",
            String(8),
            _fk("ported_numbers", "operator_code", "recharge_operators.code"),
            nullable=False,
        ),
        Column("circle", String(4), nullable=False),
        Column("ported_at", UTCDateTime, nullable=False),
    )

    # Plans fetched from a provider by operator and circle, kept until they expire.
    op.create_table(
        "recharge_plans",
        Column("id", Id, primary_key=True),
        Column("operator_code", String(8), nullable=False),
        Column("circle", String(4), nullable=False),
        Column("plans", JSON, nullable=False),
        Column("fetched_at", UTCDateTime, nullable=False),
        Column("expires_at", UTCDateTime, nullable=False),
        UniqueConstraint("operator_code", "circle", name="uq_recharge_plans_operator_code_circle"),
    )

    # --- bill payment -----------------------------------------------------------------------------

    op.create_table(
        "billers",
        Column("biller_id", String(14), primary_key=True),
        Column("name", String(80), nullable=False),
        Column("category", String(32), nullable=False),
        # The vending product (category) sold for this biller: commission, fee, mappings.
        Column("product_id", Id, _fk("billers", "product_id", "products.id"), nullable=False),
        Column("fetch_requirement", String(16), nullable=False),
        Column("amount_rule", String(8), nullable=False),
        # [{"name": ..., "pattern": regex, "optional": bool}], in the biller's order.
        Column("params", JSON, nullable=False),
        Column("active", Boolean, nullable=False, server_default=text("true")),
        CheckConstraint("length(biller_id) = 14", name="ck_billers_biller_id"),
        _in("billers", "fetch_requirement", FETCH_REQUIREMENTS),
        _in("billers", "amount_rule", AMOUNT_RULES),
    )

    # Bills fetched: the payment quotes the fetch's ref_id (the same from fetch to pay).
    op.create_table(
        "bill_fetches",
        Column("id", Id, primary_key=True),
        Column("ref_id", String(35), nullable=False),
        Column(
            "biller_id",
            String(14),
            _fk("bill_fetches", "biller_id", "billers.biller_id"),
            nullable=False,
        ),
        Column("vendor_id", Id, _fk("bill_fetches", "vendor_id", "vendors.id"), nullable=False),
        Column("params", JSON, nullable=False),
        Column("customer_name", String(80), nullable=False),
        Column("bill_number", String(40), nullable=False),
        Column("bill_date", String(10), nullable=True),
        Column("due_date", String(10), nullable=True),
        Column("amount", BigInteger, nullable=False),
        Column("currency", String(3), nullable=False),
        Column("fetched_at", UTCDateTime, nullable=False),
        Column("expires_at", UTCDateTime, nullable=False),
        # The payment order made against this fetch (one only).
        Column(
            "order_pk", Id, _fk("bill_fetches", "order_pk", "provider_orders.id"), nullable=True
        ),
        UniqueConstraint("ref_id", name="uq_bill_fetches_ref_id"),
        UniqueConstraint("order_pk", name="uq_bill_fetches_order_pk"),
    )

    op.create_table(
        "bill_complaints",
        Column("id", Id, primary_key=True),
        Column("complaint_id", String(20), nullable=False),
        Column(
            "order_pk", Id, _fk("bill_complaints", "order_pk", "provider_orders.id"), nullable=False
        ),
        Column("kind", String(32), nullable=False),
        Column("description", String(200), nullable=False),
        Column("status", String(16), nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
        UniqueConstraint("complaint_id", name="uq_bill_complaints_complaint_id"),
    )

    # A walk-in remitter, known by mobile number, with its KYC level (monthly limit).
    op.create_table(
        "dmt_senders",
        Column("mobile", String(10), primary_key=True),
        Column("name", String(80), nullable=False),
        Column("kyc", String(8), nullable=False),
        Column("vendor_id", Id, _fk("dmt_senders", "vendor_id", "vendors.id"), nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
        _in("dmt_senders", "kyc", KYC_LEVELS),
    )

    # A sender's beneficiary account, validated by a penny drop.
    op.create_table(
        "dmt_beneficiaries",
        Column("id", Id, primary_key=True),
        Column(
            "sender_mobile",
            String(10),
            _fk("dmt_beneficiaries", "sender_mobile", "dmt_senders.mobile"),
            nullable=False,
        ),
        Column("name", String(80), nullable=False),
        Column("account_no", String(20), nullable=False),
        Column("ifsc", String(11), nullable=False),
        Column("verified_name", String(80), nullable=True),
        Column("name_matches", Boolean, nullable=True),
        Column("created_at", UTCDateTime, nullable=False),
        UniqueConstraint(
            "sender_mobile",
            "account_no",
            "ifsc",
            name="uq_dmt_beneficiaries_sender_mobile_account_no_ifsc",
        ),
    )

    # The agent's daily biometric login.
    op.create_table(
        "aeps_logins",
        Column("vendor_id", Id, _fk("aeps_logins", "vendor_id", "vendors.id"), primary_key=True),
        Column("day", String(10), primary_key=True),
        Column("logged_in_at", UTCDateTime, nullable=False),
    )

    # AEPS transactions: the Aadhaar as a keyed hash and its last 4 digits; no PID block.
    op.create_table(
        "aeps_transactions",
        Column("id", Id, primary_key=True),
        Column(
            "request_pk",
            Id,
            _fk("aeps_transactions", "request_pk", "requests.id"),
            nullable=False,
        ),
        Column(
            "vendor_id", Id, _fk("aeps_transactions", "vendor_id", "vendors.id"), nullable=False
        ),
        Column("kind", String(2), nullable=False),
        Column("aadhaar_ref", String(64), nullable=False),
        Column("aadhaar_last4", String(4), nullable=False),
        Column("iin", String(6), nullable=False),
        Column("amount", BigInteger, nullable=True),
        Column("currency", String(3), nullable=False),
        Column("state", String(10), nullable=False),
        Column("stan", String(6), nullable=False),
        Column("rrn", String(12), nullable=True),
        Column("response_code", String(4), nullable=True),
        Column("message", String(200), nullable=True),
        Column("balance", BigInteger, nullable=True),
        Column("statement", JSON, nullable=True),
        Column("commission", BigInteger, nullable=True),
        Column(
            "transfer_id",
            Id,
            _fk("aeps_transactions", "transfer_id", "transfers.id"),
            nullable=True,
        ),
        Column("created_at", UTCDateTime, nullable=False),
        Column("completed_at", UTCDateTime, nullable=True),
        CheckConstraint("kind IN ('CW', 'BE', 'MS', 'AP')", name="ck_aeps_transactions_kind"),
        CheckConstraint(
            "state IN ('pending', 'success', 'declined')", name="ck_aeps_transactions_state"
        ),
        UniqueConstraint("request_pk", name="uq_aeps_transactions_request_pk"),
        Index("ix_aeps_transactions_aadhaar", "aadhaar_ref", "created_at"),
    )


def downgrade() -> None:
    op.drop_table("aeps_transactions")
    op.drop_table("aeps_logins")
    op.drop_table("dmt_beneficiaries")
    op.drop_table("dmt_senders")
    op.drop_table("bill_complaints")
    op.drop_table("bill_fetches")
    op.drop_table("billers")
    op.drop_table("recharge_plans")
    op.drop_table("ported_numbers")
    op.drop_table("numbering_series")
    op.drop_table("recharge_operators")
    op.drop_table("provider_callbacks")
    op.drop_table("provider_attempts")
    op.drop_table("provider_orders")
    op.drop_table("provider_mappings")
    op.drop_table("providers")
