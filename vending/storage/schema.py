"""Core tables (SQLAlchemy Core). Other packages add their tables to the same ``metadata``
(``utilities.storage``, ``vending.vouchers.tables``); Alembic migrations in
``vending/storage/migrations`` create them, and a test checks the two never drift apart.

Money columns are BIGINT minor units with a CHAR(3) currency beside them; never NUMERIC.
"""

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
    MetaData,
    SmallInteger,
    String,
    Table,
    UniqueConstraint,
    text,
)

from vending.storage.types import Id, UTCDateTime

# Stable constraint names, so migrations (and SQLite batch mode) can refer to them.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ACCOUNT_KINDS = (
    "house",  # the operator's own funding/bank account (runs negative: money it put in)
    "revenue",  # the operator's margin on sales
    "supplier",  # voucher suppliers: what the operator owes them
    "utility",  # utilities: what the operator owes them for tokens sold
    "vendor",  # merchants' prepaid sales accounts (float), optional credit limit
    "consumer",  # consumers' prepaid accounts (web/SMS channels)
    "fee",  # fees charged
    "commission",  # commission accrued to dealers/franchises
    "tax",  # tax collected on behalf of the tax authority
    "suspense",  # money held while a sale is pending with a slow upstream
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("name", String(120), nullable=False),
    Column("currency", String(3), nullable=False),
    # Sum of the account's ledger entries, kept in step by conditional updates only.
    Column("balance", BigInteger, nullable=False, server_default=text("0")),
    # The balance may go down to -credit_limit; NULL = no floor (house, supplier accounts).
    Column("credit_limit", BigInteger, nullable=True),
    Column("blocked", Boolean, nullable=False, server_default=text("false")),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint(
        "kind IN (" + ", ".join(f"'{kind}'" for kind in ACCOUNT_KINDS) + ")", name="kind"
    ),
    CheckConstraint("credit_limit IS NULL OR credit_limit >= 0", name="credit_limit"),
    CheckConstraint("credit_limit IS NULL OR balance >= -credit_limit", name="balance_above_limit"),
)

transfers = Table(
    "transfers",
    metadata,
    Column("id", Id, primary_key=True),
    # deposit, withdrawal, adjustment, sale, sale_hold, sale_settle, sale_release, reversal
    Column("kind", String(24), nullable=False),
    Column("description", String(200), nullable=False),
    Column("reference", String(64), nullable=True),
    # A transfer is reversed at most once: the reversing transfer points at it, uniquely.
    Column("reverses_id", Id, ForeignKey("transfers.id"), nullable=True, unique=True),
    Column("created_by", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", Id, primary_key=True),
    Column("transfer_id", Id, ForeignKey("transfers.id"), nullable=False, index=True),
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=False),
    # Signed minor units: positive raises the account's balance.
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    # What the leg is for: merchant, commission, supplier, margin, fee, tax, deposit, ...
    Column("role", String(24), nullable=False),
    # The account's balance right after this entry (for statements without a running sum).
    Column("balance_after", BigInteger, nullable=False),
    CheckConstraint("amount <> 0", name="nonzero"),
    Index("ix_ledger_entries_account_id_id", "account_id", "id"),
)

vendors = Table(
    "vendors",
    metadata,
    Column("id", Id, primary_key=True),
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=False, unique=True),
    # The XMLVend clientID (an EAN-13 or a generic id) that identifies this vendor.
    Column("client_id", String(64), nullable=False, unique=True),
    Column("name", String(80), nullable=False),
    Column("address", String(80), nullable=False, server_default=""),
    Column("blocked", Boolean, nullable=False, server_default=text("false")),
    # NULL: follow server.require_operator_auth; true/false: override for this vendor.
    Column("require_auth", Boolean, nullable=True),
    # Operations beyond selling this vendor may use, space separated (vending.vendors
    # PRIVILEGES): free tokens and engineering tokens are the utility's to hand out.
    Column("privileges", String(200), nullable=False, server_default=""),
    Column("created_at", UTCDateTime, nullable=False),
)

operators = Table(
    "operators",
    metadata,
    Column("id", Id, primary_key=True),
    # NULL for staff (admin) operators; else the vendor whose terminals this operator uses.
    Column("vendor_id", Id, ForeignKey("vendors.id"), nullable=True),
    Column("name", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    # scrypt$<log_n>$<r>$<p>$<salt b64>$<hash b64>; never the password itself.
    Column("password_hash", String(255), nullable=False),
    # Bumped on every password change or block, so cached verifications expire at once.
    Column("credential_version", Integer, nullable=False, server_default=text("1")),
    Column("blocked", Boolean, nullable=False, server_default=text("false")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("password_changed_at", UTCDateTime, nullable=False),
    CheckConstraint("role IN ('admin', 'operator')", name="role"),
    UniqueConstraint("vendor_id", "name"),
    Index(
        "uq_operators_staff_name",
        "name",
        unique=True,
        sqlite_where=text("vendor_id IS NULL"),
        postgresql_where=text("vendor_id IS NULL"),
    ),
)

# Failed logins per operator and per client address (vending.login_throttle), shared by
# every worker process: after too many failures in a window the key is locked for a while.
login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Id, primary_key=True),
    Column("kind", String(8), nullable=False),
    # "<clientID> <opName>" for an operator (whether or not it exists), the address else.
    Column("subject", String(200), nullable=False),
    Column("failures", Integer, nullable=False),
    Column("window_started_at", UTCDateTime, nullable=False),
    Column("locked_until", UTCDateTime, nullable=True),
    CheckConstraint("kind IN ('operator', 'address')", name="kind"),
    CheckConstraint("failures >= 0", name="failures"),
    UniqueConstraint("kind", "subject"),
    Index("ix_login_failures_window_started_at", "window_started_at"),
)

PRODUCT_KINDS = (
    "electricity",  # STS token from a utility backend
    "voucher",  # denominated PIN from stock
    "pinless",  # PIN-less top-up sent to a phone number
    "bill_payment",  # third-party bill or account payment
    "dth",  # satellite TV subscription voucher or top-up
    "data",  # data bundle
    "insurance",
    "money_transfer",
    "travel",  # bus/train/flight tickets through a travel partner (migration 0018_travel)
)

REVERSAL_POLICIES = (
    "refund",  # a reversal advice refunds the vendor in full
    "refund_unconfirmed",  # only until the sale has been confirmed
    "none",  # never reversible once delivered (e.g. STS tokens)
)

products = Table(
    "products",
    metadata,
    Column("id", Id, primary_key=True),
    Column("code", String(32), nullable=False, unique=True),
    Column("kind", String(24), nullable=False),
    Column("name", String(80), nullable=False),
    Column("currency", String(3), nullable=False),
    # The supplier or utility account credited with the product's cost.
    Column("supplier_account_id", Id, ForeignKey("accounts.id"), nullable=False),
    # Fixed price (face value) or an open amount between min and max.
    Column("face_value", BigInteger, nullable=True),
    Column("min_amount", BigInteger, nullable=True),
    Column("max_amount", BigInteger, nullable=True),
    # The operator's discount from the supplier, in basis points of the price ...
    Column("supplier_discount_bp", Integer, nullable=False, server_default=text("0")),
    # ... or, for fixed-price products, the exact cost price the supplier charges.
    Column("cost_price", BigInteger, nullable=True),
    # The merchant's commission (discount), in basis points of the price.
    Column("merchant_commission_bp", Integer, nullable=False, server_default=text("0")),
    # A fixed fee the vendor pays on top of the price, credited to the fee account.
    Column("fee", BigInteger, nullable=False, server_default=text("0")),
    Column("reversal_policy", String(24), nullable=False, server_default="refund"),
    # Kind-specific settings: network, brand, utility, resource, pin_length, ...
    Column("attributes", JSON, nullable=False),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint(
        "kind IN (" + ", ".join(f"'{kind}'" for kind in PRODUCT_KINDS) + ")", name="kind"
    ),
    CheckConstraint(
        "reversal_policy IN (" + ", ".join(f"'{p}'" for p in REVERSAL_POLICIES) + ")",
        name="reversal_policy",
    ),
    CheckConstraint(
        "(face_value IS NOT NULL AND face_value > 0 AND min_amount IS NULL "
        "AND max_amount IS NULL) OR (face_value IS NULL AND min_amount > 0 "
        "AND max_amount >= min_amount)",
        name="price",
    ),
    CheckConstraint(
        "merchant_commission_bp >= 0 AND merchant_commission_bp <= supplier_discount_bp "
        "AND supplier_discount_bp <= 10000",
        name="commission",
    ),
    CheckConstraint("fee >= 0", name="fee"),
    CheckConstraint(
        "cost_price IS NULL OR (face_value IS NOT NULL AND cost_price >= 0 "
        "AND cost_price <= face_value)",
        name="cost_price",
    ),
)

# A vendor's own commission on a product, overriding the product's default.
vendor_commissions = Table(
    "vendor_commissions",
    metadata,
    Column("vendor_id", Id, ForeignKey("vendors.id"), primary_key=True),
    Column("product_id", Id, ForeignKey("products.id"), primary_key=True),
    Column("merchant_commission_bp", Integer, nullable=False),
    CheckConstraint("merchant_commission_bp >= 0", name="commission"),
)

# Idempotency and replay: one row per (client, request id). The response is stored,
# encrypted, in the same transaction as the work it reports, before it is sent.
requests = Table(
    "requests",
    metadata,
    Column("id", Id, primary_key=True),
    Column("client_id", String(64), nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("operation", String(40), nullable=False),
    # Digest of the canonical request: same key + other digest = a different request.
    Column("fingerprint", LargeBinary(32), nullable=False),
    Column("state", String(12), nullable=False),
    Column("http_status", SmallInteger, nullable=True),
    Column("response_key_id", Integer, nullable=True),
    Column("response", LargeBinary, nullable=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("completed_at", UTCDateTime, nullable=True),
    # A request answered in two phases (claimed now, answered later: a demo slow vend)
    # keeps its credential-free body, encrypted, so that after a restart its answer can
    # still be rendered (vending.services.recovery); cleared once answered.
    Column("pending_key_id", Integer, nullable=True),
    Column("pending_body", LargeBinary, nullable=True),
    CheckConstraint("state IN ('pending', 'completed')", name="state"),
    UniqueConstraint("client_id", "request_id"),
    # The admin suite finds a request by its id alone (migration 0015_admin_ops).
    Index("ix_requests_request_id", "request_id"),
)

SALE_STATES = ("pending", "completed", "failed", "reversed")

sales = Table(
    "sales",
    metadata,
    Column("id", Id, primary_key=True),
    Column("request_pk", Id, ForeignKey("requests.id"), nullable=False, unique=True),
    Column("vendor_id", Id, ForeignKey("vendors.id"), nullable=False),
    Column("product_id", Id, ForeignKey("products.id"), nullable=False),
    Column("operator_id", Id, ForeignKey("operators.id"), nullable=True),
    Column("terminal_id", String(64), nullable=False),
    Column("state", String(12), nullable=False),
    # What the customer pays (the product price), the vendor's commission and fee.
    Column("amount", BigInteger, nullable=False),
    Column("commission", BigInteger, nullable=False),
    Column("fee", BigInteger, nullable=False),
    # The supplier's or utility's share of the price (fixed when the sale is made).
    Column("cost", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    # Meter number, phone number, account or voucher product the sale was for.
    Column("target", String(64), nullable=False),
    # The utility's or supplier's own reference (receipt number upstream), when any.
    Column("external_ref", String(64), nullable=True),
    # The sale transfer (one-step sales) or the hold transfer (sales pending upstream) ...
    Column("transfer_id", Id, ForeignKey("transfers.id"), nullable=True),
    # ... and, for the latter, the settlement once the upstream delivered.
    Column("settlement_transfer_id", Id, ForeignKey("transfers.id"), nullable=True),
    # The transfer that gave the vendor its money back (failed or reversed sale).
    Column("reversal_transfer_id", Id, ForeignKey("transfers.id"), nullable=True),
    Column("failure_reason", String(200), nullable=True),
    # Kind-specific facts (units, tariff, token count, voucher id); never PINs or keys.
    Column("details", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("completed_at", UTCDateTime, nullable=True),
    Column("confirmed_at", UTCDateTime, nullable=True),
    Column("reversed_at", UTCDateTime, nullable=True),
    # Times the sale's answer (a PIN, a token) was shown again by a reprint: a delivery, so
    # a reprinted PIN voucher can no longer be reversed (vending.services.reversal_policy).
    Column("reprint_count", Integer, nullable=False, server_default=text("0")),
    CheckConstraint(
        "state IN (" + ", ".join(f"'{state}'" for state in SALE_STATES) + ")", name="state"
    ),
    CheckConstraint("amount > 0", name="amount"),
    Index("ix_sales_target_id", "target", "id"),
    Index("ix_sales_vendor_id_id", "vendor_id", "id"),
    # The admin suite's search, dashboard and reports (migration 0015_admin_ops).
    Index("ix_sales_created_at_id", "created_at", "id"),
    Index("ix_sales_state_created_at", "state", "created_at"),
    Index("ix_sales_external_ref", "external_ref"),
)

# Data keys for encryption at rest, each wrapped (AES-GCM) by the master key.
data_keys = Table(
    "data_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("wrapped_key", LargeBinary, nullable=False),
    # Fingerprint of the master key that wrapped it, to name a wrong master key clearly.
    Column("master_fingerprint", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("retired_at", UTCDateTime, nullable=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(48), nullable=False),
    Column("subject", String(120), nullable=False),
    Column("details", JSON, nullable=False),
)

# Outbox for events that later channels deliver (low stock, delayed vend completed, ...).
notifications = Table(
    "notifications",
    metadata,
    Column("id", Id, primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("kind", String(40), nullable=False),
    Column("subject", String(120), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("delivered_at", UTCDateTime, nullable=True),
    Index("ix_notifications_undelivered", "delivered_at", "id"),
)
