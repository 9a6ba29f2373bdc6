"""Tables of the API channels: API keys, consumers and their sessions, webhook deliveries
(created by migration ``0009_api_consumers``; keep the two in step).

Secrets are never stored: an API key or a session token only as its SHA-256 (they carry 256
bits of entropy, so a plain digest cannot be brute-forced and a lookup by digest leaks
nothing); a consumer's PIN as a scrypt hash (``vending.passwords``); a webhook signing
secret encrypted under a data key (``vending.keyring``), because we must sign with it.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
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

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Id, primary_key=True),
    # SHA-256 of the whole key; the key itself is shown once and never stored.
    Column("key_hash", LargeBinary(32), nullable=False, unique=True),
    # The first characters of the random part, so staff can tell keys apart in listings.
    Column("hint", String(16), nullable=False),
    Column("label", String(80), nullable=False, server_default=""),
    Column("vendor_id", Id, ForeignKey("vendors.id"), nullable=False, index=True),
    # The operator whose privileges the key carries (re-checked on every change).
    Column("operator_id", Id, ForeignKey("operators.id"), nullable=False),
    # Where final results of delayed sales are pushed, and the secret they are signed with.
    Column("callback_url", String(500), nullable=True),
    Column("webhook_key_id", Integer, nullable=True),
    Column("webhook_secret", LargeBinary, nullable=True),
    Column("created_by", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
)

CONSUMER_STATES = ("active", "blocked", "closed")

consumers = Table(
    "consumers",
    metadata,
    Column("id", Id, primary_key=True),
    # E.164 digits without the plus sign.
    Column("msisdn", String(15), nullable=False, unique=True),
    Column("name", String(80), nullable=False),
    Column("kyc_level", SmallInteger, nullable=False),
    Column("status", String(12), nullable=False),
    # The prepaid wallet: a ledger account of kind 'consumer'.
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=False, unique=True),
    Column("pin_hash", String(255), nullable=True),
    # Throttling of PIN guesses: consecutive failures and the lock they earned.
    Column("failed_logins", Integer, nullable=False, server_default=text("0")),
    Column("locked_until", UTCDateTime, nullable=True),
    # Bumped on every PIN change or block, so sessions made before it end at once.
    Column("credential_version", Integer, nullable=False, server_default=text("1")),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint(
        "status IN (" + ", ".join(f"'{s}'" for s in CONSUMER_STATES) + ")", name="status"
    ),
    CheckConstraint("kyc_level >= 0", name="kyc_level"),
)

consumer_sessions = Table(
    "consumer_sessions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("token_hash", LargeBinary(32), nullable=False, unique=True),
    Column("consumer_id", Id, ForeignKey("consumers.id"), nullable=False, index=True),
    Column("credential_version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
)

DELIVERY_STATES = ("pending", "delivered", "failed")

# The webhook outbox: written when a delayed result becomes final, drained by the deliverer.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Id, primary_key=True),
    Column("api_key_id", Id, ForeignKey("api_keys.id"), nullable=False),
    # The request whose final answer this is; NULL for an event that answers no request of
    # the key (a fund request decided, a deposit credited), keyed by ``event_key`` instead.
    Column("request_pk", Id, ForeignKey("requests.id"), nullable=True),
    Column("event_key", String(80), nullable=True),
    Column("event", String(40), nullable=False),
    Column("url", String(500), nullable=False),
    # The exact JSON body that is signed and sent (the final result, never a secret of ours).
    Column("payload", Text, nullable=False),
    Column("state", String(12), nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime, nullable=True),
    CheckConstraint(
        "state IN (" + ", ".join(f"'{s}'" for s in DELIVERY_STATES) + ")", name="state"
    ),
    CheckConstraint("(request_pk IS NULL) <> (event_key IS NULL)", name="answers_one"),
    UniqueConstraint("api_key_id", "request_pk"),
    UniqueConstraint("api_key_id", "event_key"),
    Index("ix_webhook_deliveries_state_next_attempt_at", "state", "next_attempt_at"),
)

# The delivery log: one row per attempt.
webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("delivery_id", Id, ForeignKey("webhook_deliveries.id"), nullable=False, index=True),
    Column("attempted_at", UTCDateTime, nullable=False),
    Column("http_status", SmallInteger, nullable=True),
    Column("error", String(200), nullable=True),
)
