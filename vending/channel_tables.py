"""Tables of the SMS, USSD and card channels (created by migration ``0010_channels``; keep
the two in step).

* ``sms_merchants``: a vendor's registered phone number and its SMS PIN (a scrypt hash,
  never the PIN), with the failed-PIN counter and the lock that throttles guessing.
* ``sms_messages``: the MT outbox. Every SMS we send is a row here, written in the
  transaction that makes it true (a sale with a recipient) or right after the answer it
  carries is stored (a reply to an MO). The text is encrypted (it may hold a PIN or a
  token); ``source`` is unique, so the same reply or PIN is never queued twice.
* ``card_payments``: one row per card purchase through the acquirer's switch: masked PAN
  and a keyed hash only (never the PAN, CVV, track data or PIN block), STAN/RRN, the
  switch's answer, the reversal state, and the sale it paid for.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    UniqueConstraint,
)

from vending.storage.schema import metadata
from vending.storage.types import Id, UTCDateTime

sms_merchants = Table(
    "sms_merchants",
    metadata,
    Column("id", Id, primary_key=True),
    # E.164 digits without the plus sign.
    Column("msisdn", String(15), nullable=False, unique=True),
    Column("vendor_id", Id, ForeignKey("vendors.id"), nullable=False),
    # The operator whose privileges and credential version SMS sales carry.
    Column("operator_id", Id, ForeignKey("operators.id"), nullable=False),
    Column("pin_hash", String(255), nullable=False),
    Column("failed_pins", Integer, nullable=False, server_default="0"),
    Column("locked_until", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

MT_STATES = (
    "pending",  # waiting for its next attempt
    "sending",  # handed to the gateway; its answer not yet recorded
    "submitted",  # the gateway accepted it (sendsms 202)
    "delivered",  # DLR 1
    "failed",  # DLR 2 / 16, or given up after the last attempt
    "unknown",  # the gateway may have it (lost answer): never sent again automatically
)

sms_messages = Table(
    "sms_messages",
    metadata,
    Column("id", Id, primary_key=True),
    # What this message is for, unique: "mo:<gateway id>:<part>", "sale:<request pk>:<part>".
    Column("source", String(120), nullable=False, unique=True),
    Column("purpose", String(16), nullable=False),
    Column("msisdn", String(15), nullable=False),
    Column("sender", String(20), nullable=False),
    # AES-GCM under the keyring (it may carry a PIN or a token).
    Column("body", LargeBinary, nullable=False),
    # 0: GSM-7, 2: UCS-2 (Kannel's ``coding``).
    Column("coding", SmallInteger, nullable=False),
    Column("vendor_id", Id, ForeignKey("vendors.id"), nullable=True),
    Column("request_pk", Id, nullable=True),
    Column("state", String(12), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True),
    # The last delivery report: Kannel's %d (1 delivered, 2 failed, 4 queued, 8 submitted,
    # 16 rejected) and when it came.
    Column("dlr_status", SmallInteger, nullable=True),
    Column("dlr_at", UTCDateTime, nullable=True),
    Column("last_error", String(200), nullable=True),
    # A random token in the delivery-report URL, so reports cannot be forged by guessing ids.
    Column("dlr_token", String(32), nullable=False),
    Index("ix_sms_messages_due", "state", "next_attempt_at"),
    Index("ix_sms_messages_vendor_id", "vendor_id", "id"),
    Index("ix_sms_messages_request_pk", "request_pk"),
)

CARD_STATES = (
    "sent",  # 0200 sent, no answer yet
    "approved",  # 0210 00: the sale may be made
    "declined",  # 0210 not 00: nothing sold
    "sold",  # approved and the sale delivered
    "reversing",  # 0420/0421 until a 0430 comes
    "reversed",  # 0430 received
)

card_payments = Table(
    "card_payments",
    metadata,
    Column("id", Id, primary_key=True),
    # The consumer's own reference, the checkout's idempotency key.
    Column("reference", String(64), nullable=False, unique=True),
    Column("fingerprint", LargeBinary(32), nullable=False),
    Column("product_code", String(32), nullable=False),
    Column("target", String(32), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("pan_masked", String(19), nullable=False),
    # HMAC-SHA256 of the PAN under a keyring-derived key: same card, same hash; no PAN.
    Column("pan_hash", LargeBinary(32), nullable=False),
    Column("stan", String(6), nullable=False),
    Column("rrn", String(12), nullable=False, unique=True),
    Column("transmitted_at", String(10), nullable=False),  # DE 7 MMDDhhmmss
    Column("state", String(12), nullable=False),
    Column("response_code", String(2), nullable=True),
    Column("auth_code", String(6), nullable=True),
    Column("reversal_reason", String(40), nullable=True),
    Column("reversal_attempts", Integer, nullable=False, server_default="0"),
    Column("funding_transfer_id", Id, nullable=True),
    # The answer the checkout gave (never card data), encrypted: replayed for the reference.
    Column("answer", LargeBinary, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("stan", "transmitted_at", name="uq_card_payments_stan_transmitted_at"),
    Index("ix_card_payments_state", "state"),
)

__all__ = ["CARD_STATES", "MT_STATES", "card_payments", "sms_merchants", "sms_messages"]
