"""Voucher stock tables, on the core's shared ``metadata`` (created by migration
``0003_vouchers``; keep the two in step).

A PIN is stored only as AES-GCM ciphertext under a data key (``pin_key_id``), bound to its
row by associated data (supplier id and serial number), plus a keyed hash for duplicate
detection. ``vouchers`` is the one bulk table: a stock file of a million PINs is COPYed
straight into it, so it carries only the indexes that selling and duplicate detection need.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from vending.storage.schema import metadata
from vending.storage.types import Id, UTCDateTime

VOUCHER_STATES = (
    "available",  # in stock; sellable while unexpired
    "sold",  # delivered to the buyer of ``sale_id``
    "quarantined",  # withheld: its sale was reversed, or an operator pulled it
)

# Bytes of the keyed PIN hash (BLAKE2b): 128 bits keep accidental collisions out of reach.
PIN_HASH_BYTES = 16

suppliers = Table(
    "suppliers",
    metadata,
    Column("id", Id, primary_key=True),
    Column("code", String(32), nullable=False, unique=True),
    Column("name", String(80), nullable=False),
    # The supplier's settlement account: credited with the cost of every PIN sold.
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=False, unique=True),
    # The supplier's OpenPGP key: stock files must be signed by it when required.
    Column("pgp_fingerprint", String(40), nullable=True),
    Column("pgp_public_key", Text, nullable=True),
    Column("require_signature", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint(
        "require_signature = false OR pgp_fingerprint IS NOT NULL", name="signature_needs_key"
    ),
)

# One row per imported stock file; a file (or its decrypted content) is imported only once.
stock_imports = Table(
    "stock_imports",
    metadata,
    Column("id", Id, primary_key=True),
    Column("supplier_id", Id, ForeignKey("suppliers.id"), nullable=False),
    Column("file_name", String(255), nullable=False),
    # SHA-256 (hex) of the file as received and of its decrypted content.
    Column("file_sha256", String(64), nullable=False, unique=True),
    Column("content_sha256", String(64), nullable=False, unique=True),
    # Primary-key fingerprint of the verified signer; NULL for an unsigned file.
    Column("signer_fingerprint", String(40), nullable=True),
    Column("row_count", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("face_total", BigInteger, nullable=False),
    Column("cost_total", BigInteger, nullable=False),
    Column("imported_by", String(64), nullable=False),
    Column("imported_at", UTCDateTime, nullable=False),
)

# A supplier batch of one product within one import, with the unit values at import time
# (the reconciliation report values stock at these, whatever the catalogue says later).
voucher_batches = Table(
    "voucher_batches",
    metadata,
    Column("id", Id, primary_key=True),
    Column("import_id", Id, ForeignKey("stock_imports.id"), nullable=False),
    # Number of the batch within its import, as in ``vouchers.batch_seq``.
    Column("seq", Integer, nullable=False),
    Column("supplier_id", Id, ForeignKey("suppliers.id"), nullable=False),
    Column("product_id", Id, ForeignKey("products.id"), nullable=False),
    Column("batch_no", String(32), nullable=False),
    Column("row_count", Integer, nullable=False),
    Column("face_value", BigInteger, nullable=False),
    Column("cost_price", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("earliest_expiry", Date, nullable=True),
    Column("latest_expiry", Date, nullable=True),
    # Set when the expiring-soon alert for this batch was raised (once per batch).
    Column("expiry_alerted_at", UTCDateTime, nullable=True),
    UniqueConstraint("import_id", "seq"),
    UniqueConstraint("import_id", "product_id", "batch_no"),
)

# The PINs. supplier_id, product_id and (import_id, batch_seq) repeat the batch's keys and
# have no foreign keys: only the importer writes them, from the batch rows it creates in
# the same transaction, and a checked foreign key costs a trigger per row (measured: it
# made a million-row COPY 2.2 s, about 30 %, slower).
vouchers = Table(
    "vouchers",
    metadata,
    Column("id", Id, primary_key=True),
    Column("supplier_id", Id, nullable=False),
    Column("product_id", Id, nullable=False),
    Column("import_id", Id, nullable=False),
    Column("batch_seq", Integer, nullable=False),
    Column("serial_no", String(32), nullable=False),
    # nonce || AES-GCM(PIN) under data key pin_key_id, associated data = supplier + serial.
    Column("pin_key_id", Integer, nullable=False),
    Column("pin_ciphertext", LargeBinary, nullable=False),
    # Keyed BLAKE2b of the PIN (key: the keyring's "voucher-pin-hash" secret).
    Column("pin_hash", LargeBinary(PIN_HASH_BYTES), nullable=False),
    # Last day the voucher may be sold; NULL: it does not expire.
    Column("expiry", Date, nullable=True),
    Column("state", String(12), nullable=False, server_default="available"),
    # The sale that delivered it (sold) or whose reversal quarantined it.
    Column("sale_id", Id, ForeignKey("sales.id"), nullable=True),
    # How many sales of this voucher were reversed (for batch reconciliation).
    Column("reversal_count", SmallInteger, nullable=False, server_default=text("0")),
    Column("state_changed_at", UTCDateTime, nullable=True),
    # Why it was quarantined or released (operator's words; never a PIN).
    Column("state_reason", String(200), nullable=True),
    CheckConstraint(
        "state IN (" + ", ".join(f"'{state}'" for state in VOUCHER_STATES) + ")", name="state"
    ),
    CheckConstraint("state <> 'sold' OR sale_id IS NOT NULL", name="sold_has_sale"),
    CheckConstraint("state <> 'available' OR sale_id IS NULL", name="available_unsold"),
    UniqueConstraint("supplier_id", "serial_no"),
    UniqueConstraint("pin_hash"),
    # Selling: the earliest-expiring available voucher of a product.
    Index(
        "ix_vouchers_available",
        "product_id",
        "expiry",
        "id",
        sqlite_where=text("state = 'available'"),
        postgresql_where=text("state = 'available'"),
    ),
    # Reprints and reversals find a sale's voucher; partial, so stock rows cost nothing.
    Index(
        "uq_vouchers_sale_id",
        "sale_id",
        unique=True,
        sqlite_where=text("sale_id IS NOT NULL"),
        postgresql_where=text("sale_id IS NOT NULL"),
    ),
)

# Per voucher product: the low-stock threshold and whether the alert for the current
# crossing was raised (cleared when stock is back above the threshold).
stock_thresholds = Table(
    "stock_thresholds",
    metadata,
    Column("product_id", Id, ForeignKey("products.id"), primary_key=True),
    Column("low_stock_threshold", Integer, nullable=False),
    Column("low_stock_alerted_at", UTCDateTime, nullable=True),
    CheckConstraint("low_stock_threshold >= 0", name="threshold"),
)
