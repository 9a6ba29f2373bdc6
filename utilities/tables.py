"""Tables of the utility side, on the core's shared ``metadata`` (created by migration
``0002_utilities``; keep the two in step).

Conventions as in :mod:`vending.storage.schema`: money is BIGINT minor units beside a
CHAR(3) currency; energy is BIGINT STS base units (0.1 kWh); tariff rates are BIGINT minor
units per MWh (exact to 0.001 minor unit per kWh); months are ``YYYY-MM`` text in the
utility's time zone. Key material is only ever stored encrypted (``vending.keyring``).
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
    SmallInteger,
    String,
    Table,
    UniqueConstraint,
    text,
)

from vending.storage.schema import metadata
from vending.storage.types import Id, UTCDateTime

BASE_DATES = (1993, 2014, 2035)
TEST_BEHAVIOURS = ("slow", "upstream_failure")

# One vending key revision of a supply group: SGC + KRN identify it (IEC 62055-41 6.5.2.5).
vending_keys = Table(
    "vending_keys",
    metadata,
    Column("id", Id, primary_key=True),
    Column("sgc", String(6), nullable=False),
    Column("krn", SmallInteger, nullable=False),
    # Decoder key generation algorithm (2 = DES, 64-bit VK; 4 = HMAC-SHA-256, 160-bit VK).
    Column("dkga", SmallInteger, nullable=False),
    # Encryption algorithm of the tokens of meters on this key: 7 = STA, 11 = MISTY1.
    Column("ea", SmallInteger, nullable=False),
    # Key type of the decoder keys derived from it: 1 DDTK, 2 DUTK, 3 DCTK.
    Column("key_type", SmallInteger, nullable=False),
    # TID base date of this revision (DKGA-02 does not carry it, so it is kept here).
    Column("base_date", SmallInteger, nullable=False),
    # Key expiry number given to meters in key change tokens (255 = never).
    Column("ken", SmallInteger, nullable=False, server_default=text("255")),
    # The revision new key changes go to; one per supply group.
    Column("is_current", Boolean, nullable=False, server_default=text("false")),
    Column("description", String(80), nullable=False, server_default=""),
    # AES-GCM of the vending key under data key ``data_key_id``, bound to (sgc, krn).
    Column("data_key_id", Integer, nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("sgc", "krn"),
    CheckConstraint("krn BETWEEN 1 AND 9", name="krn"),
    CheckConstraint("dkga IN (2, 4)", name="dkga"),
    CheckConstraint("ea IN (7, 11)", name="ea"),
    CheckConstraint("dkga = 4 OR ea = 7", name="dkga_ea"),
    CheckConstraint("key_type BETWEEN 0 AND 3", name="key_type"),
    CheckConstraint("base_date IN (1993, 2014, 2035)", name="base_date"),
    CheckConstraint("ken BETWEEN 0 AND 255", name="ken"),
    Index(
        "uq_vending_keys_current_sgc",
        "sgc",
        unique=True,
        sqlite_where=text("is_current"),
        postgresql_where=text("is_current"),
    ),
)

# When a supply group has rows here, only the listed vendors may sell for it.
sgc_vendors = Table(
    "sgc_vendors",
    metadata,
    Column("sgc", String(6), primary_key=True),
    Column("vendor_id", Id, ForeignKey("vendors.id"), primary_key=True),
)

tariffs = Table(
    "tariffs",
    metadata,
    Column("id", Id, primary_key=True),
    Column("code", String(32), nullable=False, unique=True),
    Column("name", String(80), nullable=False),
    Column("currency", String(3), nullable=False),
    # VAT in basis points (1500 = 15 %); tariff rates and charges below exclude it.
    Column("vat_rate_bp", Integer, nullable=False),
    # Fixed service charge per calendar month, excluding VAT, minor units.
    Column("service_charge", BigInteger, nullable=False, server_default=text("0")),
    # Share of each purchase (after the service charge) that recovers debt, basis points.
    Column("debt_recovery_bp", Integer, nullable=False, server_default=text("0")),
    # Free basic electricity per month for FBE-eligible meters, 0.1 kWh units.
    Column("fbe_units", BigInteger, nullable=False, server_default=text("0")),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("vat_rate_bp BETWEEN 0 AND 10000", name="vat"),
    CheckConstraint("service_charge >= 0", name="service_charge"),
    CheckConstraint("debt_recovery_bp BETWEEN 0 AND 9999", name="debt_recovery"),
    CheckConstraint("fbe_units >= 0", name="fbe_units"),
)

# Steps of a tariff over the month's consumption: a flat tariff has one unbounded block.
tariff_blocks = Table(
    "tariff_blocks",
    metadata,
    Column("tariff_id", Id, ForeignKey("tariffs.id"), primary_key=True),
    Column("seq", SmallInteger, primary_key=True),
    # Month-to-date consumption (0.1 kWh) where this block ends; NULL = no end (last block).
    Column("up_to_units", BigInteger, nullable=True),
    # Minor units per MWh, excluding VAT.
    Column("rate", BigInteger, nullable=False),
    CheckConstraint("rate > 0", name="rate"),
    CheckConstraint("up_to_units IS NULL OR up_to_units > 0", name="up_to"),
)

meters = Table(
    "meters",
    metadata,
    Column("id", Id, primary_key=True),
    Column("msno", String(13), nullable=False, unique=True),
    # Key data the meter holds (as far as we know): SGC, KRN, TI, key type, algorithm.
    Column("sgc", String(6), nullable=False),
    Column("krn", SmallInteger, nullable=False),
    Column("ti", String(2), nullable=False),
    Column("key_type", SmallInteger, nullable=False),
    Column("ea", SmallInteger, nullable=False),
    # Token carrier: "02" numeric (keypad), "01" magnetic card.
    Column("tt", String(2), nullable=False, server_default="02"),
    # The TID base date the meter counts from (moves on with a roll-over key change).
    Column("base_date", SmallInteger, nullable=False),
    Column("customer_name", String(40), nullable=False, server_default=""),
    Column("customer_address", String(80), nullable=False, server_default=""),
    Column("account_no", String(20), nullable=True),
    Column("contact_no", String(12), nullable=True),
    Column("loc_ref", String(20), nullable=True),
    Column("tariff_id", Id, ForeignKey("tariffs.id"), nullable=True),
    Column("blocked", Boolean, nullable=False, server_default=text("false")),
    Column("fbe_eligible", Boolean, nullable=False, server_default=text("false")),
    # Last TID given to this meter on its base date: no two tokens share a TID.
    Column("last_tid", Integer, nullable=True),
    # Units sold this month (block tariffs step on it) and the month they count for.
    Column("mtd_month", String(7), nullable=True),
    Column("mtd_units", BigInteger, nullable=False, server_default=text("0")),
    # Month whose FBE was issued, month whose service charge was paid.
    Column("fbe_month", String(7), nullable=True),
    Column("service_charge_month", String(7), nullable=True),
    Column("last_purchase_at", UTCDateTime, nullable=True),
    # Demo/simulator meters only: "slow" (answers after the server's deadline) or
    # "upstream_failure" (fails like an unreachable utility). NULL for real meters.
    Column("test_behaviour", String(24), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("krn BETWEEN 1 AND 9", name="krn"),
    CheckConstraint("key_type BETWEEN 0 AND 3", name="key_type"),
    CheckConstraint("ea IN (7, 11)", name="ea"),
    CheckConstraint("base_date IN (1993, 2014, 2035)", name="base_date"),
    CheckConstraint("mtd_units >= 0", name="mtd_units"),
    CheckConstraint(
        "test_behaviour IS NULL OR test_behaviour IN ("
        + ", ".join(f"'{b}'" for b in TEST_BEHAVIOURS)
        + ")",
        name="test_behaviour",
    ),
)

# What a meter's customer owes the utility (arrears recovered from purchases or paid).
meter_debts = Table(
    "meter_debts",
    metadata,
    Column("meter_id", Id, ForeignKey("meters.id"), primary_key=True),
    Column("account_no", String(20), nullable=True),
    Column("description", String(80), nullable=False),
    Column("balance", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("balance >= 0", name="balance"),
)

# Every token we issued (for verifyReq and audits); the digits only as a SHA-256.
issued_tokens = Table(
    "issued_tokens",
    metadata,
    Column("id", Id, primary_key=True),
    Column("meter_id", Id, ForeignKey("meters.id"), nullable=False),
    Column("token_hash", String(64), nullable=False),
    # sale, fbe, free, mct, key_change, engineering
    Column("kind", String(16), nullable=False),
    Column("token_class", SmallInteger, nullable=False),
    Column("subclass", SmallInteger, nullable=False),
    Column("tid", Integer, nullable=True),
    Column("base_date", SmallInteger, nullable=True),
    # Base units transferred (class 0) or the register value (class 2), as on the token.
    Column("amount", BigInteger, nullable=True),
    Column("request_pk", Id, ForeignKey("requests.id"), nullable=True),
    Column("sale_id", Id, ForeignKey("sales.id"), nullable=True),
    # Receipt facts for verifyReq (credit, tax, tariff name); never key material.
    Column("details", JSON, nullable=False),
    Column("issued_at", UTCDateTime, nullable=False),
    Index("ix_issued_tokens_token_hash", "token_hash"),
    Index("ix_issued_tokens_meter_id_id", "meter_id", "id"),
)

UPSTREAM_STATES = ("pending", "settled", "failed")

# A sale held while a utility's own server vends it (route = upstream).
upstream_vends = Table(
    "upstream_vends",
    metadata,
    Column("id", Id, primary_key=True),
    Column("request_pk", Id, ForeignKey("requests.id"), nullable=False, unique=True),
    Column("sale_id", Id, ForeignKey("sales.id"), nullable=False, unique=True),
    Column("route", String(64), nullable=False),
    Column("msno", String(13), nullable=False),
    # The msgID we sent upstream (advices quote it).
    Column("upstream_date_time", String(14), nullable=False),
    Column("upstream_unique_number", String(6), nullable=False),
    # Our client's request without credentials, encrypted, to render the answer after a
    # restart (ResponseRenderer.load).
    Column("data_key_id", Integer, nullable=False),
    Column("request_body", LargeBinary, nullable=False),
    Column("state", String(12), nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("last_error", String(200), nullable=True),
    # NULL, or "needed" / "reversed" / "refused": a reversal advice for a vend the utility
    # completed but we could not deliver.
    Column("reversal", String(12), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("completed_at", UTCDateTime, nullable=True),
    CheckConstraint(
        "state IN (" + ", ".join(f"'{s}'" for s in UPSTREAM_STATES) + ")", name="state"
    ),
    CheckConstraint(
        "reversal IS NULL OR reversal IN ('needed', 'reversed', 'refused')", name="reversal"
    ),
    Index("ix_upstream_vends_state_next_attempt_at", "state", "next_attempt_at"),
)
