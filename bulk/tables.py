"""Bulk tables, on the core's shared ``metadata`` (created by migration ``0017_bulk``; keep
the two in step).

``bulk_batches``: one submitted file, unique on (submitter scope, file id) so the same file
sent again is the same batch. ``bulk_rows``: its rows with their results; a row's sale is
keyed in ``requests`` by (scope, ``bulk:FILE-ID:ROW``), the one idempotency path.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
)

from vending.storage.schema import metadata
from vending.storage.types import Id, UTCDateTime

BATCH_STATES = ("running", "done")
ROW_STATES = (
    "queued",  # not sold yet
    "sold",  # sold (the answer stored under the row's request key)
    "pending",  # the provider holds it; closed by callback or status poll
    "failed",  # malformed, refused or failed (refunded); the reason says why
)

bulk_batches = Table(
    "bulk_batches",
    metadata,
    Column("id", Id, primary_key=True),
    Column("scope", String(64), nullable=False),
    Column("file_id", String(40), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("vendor_id", Id, ForeignKey("vendors.id"), nullable=False),
    Column("operator_id", Id, ForeignKey("operators.id"), nullable=True),
    Column("api_key_id", Id, nullable=True),
    Column("currency", String(3), nullable=False),
    Column("total", Integer, nullable=False),
    Column("state", String(8), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    UniqueConstraint("scope", "file_id", name="uq_bulk_batches_scope_file_id"),
    CheckConstraint("state IN ('running', 'done')", name="state"),
)
Index("ix_bulk_batches_state", bulk_batches.c.state)

bulk_rows = Table(
    "bulk_rows",
    metadata,
    Column("batch_id", Id, ForeignKey("bulk_batches.id"), nullable=False),
    Column("row_no", Integer, nullable=False),
    Column("product", String(32), nullable=False),
    Column("target", String(24), nullable=False),
    Column("amount", String(16), nullable=False),
    Column("ref", String(40), nullable=False),
    Column("state", String(8), nullable=False),
    Column("reason", String(200), nullable=False),
    # Our order id (a recharge) or the voucher's serial; the operator's reference.
    Column("reference", String(64), nullable=False),
    Column("operator_ref", String(64), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("batch_id", "row_no", name="pk_bulk_rows"),
    CheckConstraint("state IN ('queued', 'sold', 'pending', 'failed')", name="state"),
)
Index("ix_bulk_rows_batch_state", bulk_rows.c.batch_id, bulk_rows.c.state)

ALL_TABLES = (bulk_batches, bulk_rows)
