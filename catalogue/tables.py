"""Tables of the catalogue, on the core's shared ``metadata`` (created by migration
``0011_catalogue``; keep the two in step). Money is BIGINT paise beside a CHAR(3) currency.
Provider callback secrets are stored only encrypted (``vending.keyring``)."""

from __future__ import annotations

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
    Table,
    UniqueConstraint,
    text,
)

from vending.storage.schema import metadata
from vending.storage.types import Id, UTCDateTime

PROVIDER_PROTOCOLS = (
    "recharge-json", "bbps-xml", "dmt-json", "aeps-json", "insurance-json", "travel-json",
)  # fmt: skip
TRAVEL_STATES = ("held", "booking", "booked", "failed", "released", "cancelled")
ORDER_STATES = ("pending", "success", "failed")
ATTEMPT_OUTCOMES = ("SUCCESS", "PENDING", "FAILED", "UNKNOWN", "DOWN")
FETCH_REQUIREMENTS = ("MANDATORY", "OPTIONAL", "NOT_SUPPORTED")
AMOUNT_RULES = ("EXACT", "PARTIAL", "OVER", "ANY")
RECHARGE_SERVICES = ("mobile", "dth", "datacard")


def _in(column: str, values: tuple[str, ...], name: str) -> CheckConstraint:
    return CheckConstraint(f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")", name=name)


# An upstream provider or aggregator, reached by one protocol.
providers = Table(
    "providers",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(32), nullable=False, unique=True),
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
    _in("protocol", PROVIDER_PROTOCOLS, "protocol"),
    CheckConstraint("timeout_ms > 0", name="timeout_ms"),
)

# Which providers sell a product, under which of their codes, in which order.
provider_mappings = Table(
    "provider_mappings",
    metadata,
    Column("id", Id, primary_key=True),
    Column("product_id", Id, ForeignKey("products.id"), nullable=False),
    Column("provider_id", Id, ForeignKey("providers.id"), nullable=False),
    # The provider's operator/product code ("*": the biller id is sent as it is).
    Column("provider_code", String(32), nullable=False),
    # Lower first.
    Column("priority", SmallInteger, nullable=False, server_default=text("1")),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    UniqueConstraint("product_id", "provider_id"),
)

# One sale through a provider: the money is in suspense (sales.state pending) until final.
provider_orders = Table(
    "provider_orders",
    metadata,
    Column("id", Id, primary_key=True),
    # Our reference sent to the provider (status, callbacks); 20 characters.
    Column("order_id", String(20), nullable=False, unique=True),
    Column("request_pk", Id, ForeignKey("requests.id"), nullable=False, unique=True),
    Column("sale_id", Id, ForeignKey("sales.id"), nullable=False, unique=True),
    Column("service", String(16), nullable=False),
    Column("target", String(64), nullable=False),
    Column("params", JSON, nullable=False),
    Column("state", String(12), nullable=False),
    # The provider that holds the order (the one answered PENDING/UNKNOWN, or settled it).
    Column("provider_id", Id, ForeignKey("providers.id"), nullable=True),
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
    _in("state", ORDER_STATES, "state"),
    Index("ix_provider_orders_due", "state", "next_poll_at"),
)

# Every call made for an order (execute, status) and every callback applied: its outcome.
provider_attempts = Table(
    "provider_attempts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("order_pk", Id, ForeignKey("provider_orders.id"), nullable=False),
    Column("provider_id", Id, ForeignKey("providers.id"), nullable=False),
    Column("action", String(12), nullable=False),
    Column("outcome", String(8), nullable=False),
    Column("code", String(16), nullable=False, server_default=""),
    Column("message", String(200), nullable=False, server_default=""),
    Column("latency_ms", Integer, nullable=False, server_default=text("0")),
    Column("at", UTCDateTime, nullable=False),
    _in("outcome", ATTEMPT_OUTCOMES, "outcome"),
    CheckConstraint("action IN ('execute', 'status', 'callback')", name="action"),
    Index("ix_provider_attempts_provider", "provider_id", "id"),
    Index("ix_provider_attempts_order", "order_pk"),
    # Provider health on the admin dashboard (migration 0015_admin_ops).
    Index("ix_provider_attempts_at", "at"),
)

# Callbacks received (authenticated), once each: a repeat of the same body is a duplicate.
provider_callbacks = Table(
    "provider_callbacks",
    metadata,
    Column("id", Id, primary_key=True),
    Column("provider_id", Id, ForeignKey("providers.id"), nullable=False),
    # SHA-256 of the body (hex).
    Column("digest", String(64), nullable=False),
    Column("order_id", String(20), nullable=False),
    Column("status", String(8), nullable=False),
    # applied | unknown_order | already_final | wrong_provider
    Column("result", String(16), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    UniqueConstraint("provider_id", "digest"),
)

# --- recharge ---------------------------------------------------------------------------------

recharge_operators = Table(
    "recharge_operators",
    metadata,
    Column("code", String(8), primary_key=True),
    Column("name", String(60), nullable=False),
    Column("service", String(12), nullable=False),
    # The vending product sold for this operator (price range, commission, mappings).
    Column("product_id", Id, ForeignKey("products.id"), nullable=False),
    _in("service", RECHARGE_SERVICES, "service"),
)

# Mobile numbering series (the first 4 digits) as allocated: operator and circle.
numbering_series = Table(
    "numbering_series",
    metadata,
    Column("prefix", String(5), primary_key=True),
    Column("operator_code", String(8), ForeignKey("recharge_operators.code"), nullable=False),
    Column("circle", String(4), nullable=False),
)

# Numbers ported away from their series' operator (mobile number portability).
ported_numbers = Table(
    "ported_numbers",
    metadata,
    Column("msisdn", String(10), primary_key=True),
    Column("operator_code", String(8), ForeignKey("recharge_operators.code"), nullable=False),
    Column("circle", String(4), nullable=False),
    Column("ported_at", UTCDateTime, nullable=False),
)

# Plans fetched from a provider by operator and circle, kept until they expire.
recharge_plans = Table(
    "recharge_plans",
    metadata,
    Column("id", Id, primary_key=True),
    Column("operator_code", String(8), nullable=False),
    Column("circle", String(4), nullable=False),
    Column("plans", JSON, nullable=False),
    Column("fetched_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    UniqueConstraint("operator_code", "circle"),
)

# --- bill payment -----------------------------------------------------------------------------

billers = Table(
    "billers",
    metadata,
    Column("biller_id", String(14), primary_key=True),
    Column("name", String(80), nullable=False),
    Column("category", String(32), nullable=False),
    # The vending product (category) sold for this biller: commission, fee, mappings.
    Column("product_id", Id, ForeignKey("products.id"), nullable=False),
    Column("fetch_requirement", String(16), nullable=False),
    Column("amount_rule", String(8), nullable=False),
    # [{"name": ..., "pattern": regex, "optional": bool}], in the biller's order.
    Column("params", JSON, nullable=False),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    CheckConstraint("length(biller_id) = 14", name="biller_id"),
    _in("fetch_requirement", FETCH_REQUIREMENTS, "fetch_requirement"),
    _in("amount_rule", AMOUNT_RULES, "amount_rule"),
)

# Bills fetched: the payment quotes the fetch's ref_id (the same from fetch to pay).
bill_fetches = Table(
    "bill_fetches",
    metadata,
    Column("id", Id, primary_key=True),
    Column("ref_id", String(35), nullable=False, unique=True),
    Column("biller_id", String(14), ForeignKey("billers.biller_id"), nullable=False),
    Column("vendor_id", Id, ForeignKey("vendors.id"), nullable=False),
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
    Column("order_pk", Id, ForeignKey("provider_orders.id"), nullable=True, unique=True),
)

bill_complaints = Table(
    "bill_complaints",
    metadata,
    Column("id", Id, primary_key=True),
    Column("complaint_id", String(20), nullable=False, unique=True),
    Column("order_pk", Id, ForeignKey("provider_orders.id"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("description", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# --- money transfer ----------------------------------------------------------------------------

KYC_LEVELS = ("minimum", "full")

# A walk-in remitter, known by mobile number, with its KYC level (monthly limit).
dmt_senders = Table(
    "dmt_senders",
    metadata,
    Column("mobile", String(10), primary_key=True),
    Column("name", String(80), nullable=False),
    Column("kyc", String(8), nullable=False),
    Column("vendor_id", Id, ForeignKey("vendors.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    _in("kyc", KYC_LEVELS, "kyc"),
)

# A sender's beneficiary account, validated by a penny drop (the bank's name for it).
dmt_beneficiaries = Table(
    "dmt_beneficiaries",
    metadata,
    Column("id", Id, primary_key=True),
    Column("sender_mobile", String(10), ForeignKey("dmt_senders.mobile"), nullable=False),
    Column("name", String(80), nullable=False),
    Column("account_no", String(20), nullable=False),
    Column("ifsc", String(11), nullable=False),
    # The account holder's name as the bank returned it (None: not verified).
    Column("verified_name", String(80), nullable=True),
    Column("name_matches", Boolean, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("sender_mobile", "account_no", "ifsc"),
)

# --- AEPS ---------------------------------------------------------------------------------------

# The agent's daily biometric login (one row a day).
aeps_logins = Table(
    "aeps_logins",
    metadata,
    Column("vendor_id", Id, ForeignKey("vendors.id"), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("logged_in_at", UTCDateTime, nullable=False),
)

# An AEPS transaction. The Aadhaar number is never stored: its keyed hash and last 4 digits;
# the PID block is never stored at all.
aeps_transactions = Table(
    "aeps_transactions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("request_pk", Id, ForeignKey("requests.id"), nullable=False, unique=True),
    Column("vendor_id", Id, ForeignKey("vendors.id"), nullable=False),
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
    Column("transfer_id", Id, ForeignKey("transfers.id"), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("completed_at", UTCDateTime, nullable=True),
    CheckConstraint("kind IN ('CW', 'BE', 'MS', 'AP')", name="kind"),
    CheckConstraint("state IN ('pending', 'success', 'declined')", name="state"),
    Index("ix_aeps_transactions_aadhaar", "aadhaar_ref", "created_at"),
)

# A travel booking (issue 14 §5; migration 0018_travel): seats held at the partner with the
# money in suspense (its sale pending), then booked (settled), released (refunded: expired or
# refused) or, once booked, cancelled with the partner's refund.
travel_bookings = Table(
    "travel_bookings",
    metadata,
    Column("id", Id, primary_key=True),
    Column("booking_ref", String(20), nullable=False, unique=True),
    Column("request_pk", Id, ForeignKey("requests.id"), nullable=False, unique=True),
    # The book request, whose answer is stored when a pending booking resolves.
    Column("book_request_pk", Id, ForeignKey("requests.id"), nullable=True),
    Column("sale_id", Id, ForeignKey("sales.id"), nullable=False),
    Column("vendor_id", Id, ForeignKey("vendors.id"), nullable=False),
    Column("provider_id", Id, ForeignKey("providers.id"), nullable=False),
    Column("trip_id", String(32), nullable=False),
    Column("trip", JSON, nullable=False),
    Column("seats", JSON, nullable=False),
    Column("passengers", JSON, nullable=False),
    Column("contact", String(15), nullable=False),
    Column("fare", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("state", String(10), nullable=False),
    Column("hold_id", String(32), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("pnr", String(20), nullable=True),
    Column("ticket_no", String(32), nullable=True),
    Column("refund", BigInteger, nullable=True),
    Column("refund_transfer_id", Id, ForeignKey("transfers.id"), nullable=True),
    Column("message", String(200), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    _in("state", TRAVEL_STATES, "state"),
    Index("ix_travel_bookings_state_expires_at", "state", "expires_at"),
)

ALL_TABLES = (
    providers,
    provider_mappings,
    provider_orders,
    provider_attempts,
    provider_callbacks,
    recharge_operators,
    numbering_series,
    ported_numbers,
    recharge_plans,
    billers,
    bill_fetches,
    bill_complaints,
    dmt_senders,
    dmt_beneficiaries,
    aeps_logins,
    aeps_transactions,
    travel_bookings,
)
