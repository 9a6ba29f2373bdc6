"""Vendors' sales batches: banking, sales and shift batches a POS terminal opens and closes.

A batch is a time window of one vendor terminal: it is opened (``start_batches``), reports
running totals while open (``batch_totals``, the batch stays open) and is closed
(``end_batches``), after which its slip can be printed again. Batches are kept per
**(vendor, terminal)**: every XMLVend request names both (clientID, terminalID), sales
record the terminal they were made at, and a shift is a cashier's session at one till
(XMLVend 1.0 had Start/End Batch as use cases of a terminal's login session, UC501-UC505).
Each kind has its own sequence numbers per vendor terminal: 1, 2, 3, ...

Totals are never counted separately: they are computed from the sales and the ledger for
the batch's window ``[started, ended)`` (the time of each ledger transfer), the vendor and
the terminal, so they cannot disagree with the ledger:

* sales: the sales whose sale (or hold) transfer falls in the window, at their price;
* reversals: the sales whose reversal (or refund) transfer falls in the window, at their
  price -- a sale made in one batch and reversed in a later one counts in each;
* net: sales - reversals (what the terminal took from its customers: the batch total);
* vendor net: the sum of the vendor account's ledger entries of those very transfers
  (price + fee - commission, signed), i.e. how much the batch moved the vendor's balance.

When a batch is closed its totals are computed once more and kept with it (a snapshot, so
a slip reprinted later shows what was printed even if a sale received before the close
committed after it). At most one batch of each kind is open per vendor terminal: a partial
unique index guarantees it even against concurrent starts.

Everything here is a transaction function ``fn(txn, ...)`` (or called from one): no side
effects outside the database, safe to retry as a whole.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    Row,
    String,
    Table,
    UniqueConstraint,
    and_,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from vending.errors import InvalidState, NotFound
from vending.money import Money
from vending.storage.database import Txn
from vending.storage.schema import (
    ledger_entries,
    metadata,
    operators,
    sales,
    transfers,
    vendors,
)
from vending.storage.types import Id, UTCDateTime

# Outermost first: a banking batch spans sales batches, a sales batch spans shifts.
BATCH_KINDS = ("bank", "sales", "shift")
BATCH_STATES = ("open", "closed")

# Created by migration 0006_vendor_batches; keep the two in step.
vendor_batches = Table(
    "vendor_batches",
    metadata,
    Column("id", Id, primary_key=True),
    Column("vendor_id", Id, ForeignKey("vendors.id"), nullable=False),
    # The XMLVend terminalID the batch belongs to (sales.terminal_id of its sales).
    Column("terminal_id", String(64), nullable=False),
    Column("kind", String(8), nullable=False),
    # 1, 2, 3, ... per (vendor, terminal, kind).
    Column("seq_no", Integer, nullable=False),
    Column("state", String(8), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime, nullable=True),
    # The requests that started and ended it (the end request's stored response is the slip).
    Column("start_request_pk", Id, ForeignKey("requests.id"), nullable=True),
    Column("end_request_pk", Id, ForeignKey("requests.id"), nullable=True),
    Column("currency", String(3), nullable=False),
    # The totals when it was closed (NULL while open: computed from the ledger on demand).
    Column("sale_count", Integer, nullable=True),
    Column("sale_amount", BigInteger, nullable=True),
    Column("reversal_count", Integer, nullable=True),
    Column("reversal_amount", BigInteger, nullable=True),
    Column("vendor_net", BigInteger, nullable=True),
    CheckConstraint("kind IN ('bank', 'sales', 'shift')", name="kind"),
    CheckConstraint(
        "(state = 'open' AND ended_at IS NULL) OR (state = 'closed' AND ended_at IS NOT NULL)",
        name="state",
    ),
    CheckConstraint("seq_no > 0", name="seq_no"),
    UniqueConstraint("vendor_id", "terminal_id", "kind", "seq_no"),
    # At most one open batch of each kind per vendor terminal.
    Index(
        "uq_vendor_batches_open",
        "vendor_id",
        "terminal_id",
        "kind",
        unique=True,
        sqlite_where=text("state = 'open'"),
        postgresql_where=text("state = 'open'"),
    ),
)


# --- errors (each answered with its own XMLVend fault class, xmlvend.server.faults) ---------


class BatchAlreadyOpen(InvalidState):
    """A batch of this kind is already open at this terminal (StartBatchEx)."""

    code = "batch_already_open"


class BatchNotOpen(InvalidState):
    """No batch of this kind is open at this terminal to end (EndBatchEx)."""

    code = "batch_not_open"


class NoBatchTotals(InvalidState):
    """No batch of this kind is open at this terminal to total (CheckBatchTotalEx)."""

    code = "no_batch_totals"


class UnknownBatch(NotFound):
    """No closed batch of this kind (and number) at this terminal (ReprintEndBatchEx)."""

    code = "unknown_batch"


# --- values ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchTotals:
    """A batch window's figures, from the sales and the ledger (see the module docstring)."""

    sale_count: int
    sales: Money
    reversal_count: int
    reversals: Money
    # Signed sum of the vendor account's ledger entries of those sales and reversals.
    vendor_net: Money
    # Net amount (sales - reversals) by operator name; sales without an operator are left out.
    by_operator: dict[str, Money] = field(default_factory=dict)

    @property
    def net(self) -> Money:
        return self.sales - self.reversals


@dataclass(frozen=True)
class VendorBatch:
    id: int
    vendor_id: int
    terminal_id: str
    kind: str
    seq_no: int
    state: str
    started_at: datetime
    ended_at: datetime | None
    start_request_pk: int | None
    end_request_pk: int | None
    currency: str
    # The snapshot taken when it was closed (None while open).
    closing_totals: BatchTotals | None

    @property
    def is_open(self) -> bool:
        return self.state == "open"


@dataclass(frozen=True)
class BatchReport:
    """A batch with its totals (running ones while open, the closing ones once closed)."""

    batch: VendorBatch
    totals: BatchTotals
    # ``ended`` for the report: the close, or "now" for the running totals of an open batch.
    ended_at: datetime


def kinds_of(which: str) -> tuple[str, ...]:
    """``bank``, ``sales``, ``shift`` or ``all`` -> the kinds, outermost first."""
    if which == "all":
        return BATCH_KINDS
    if which not in BATCH_KINDS:
        raise ValueError(f"unknown batch kind {which!r}")
    return (which,)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _from_row(row: Row) -> VendorBatch:
    closing = None
    if row.state == "closed" and row.sale_amount is not None:
        currency = row.currency
        closing = BatchTotals(
            sale_count=row.sale_count,
            sales=Money(row.sale_amount, currency),
            reversal_count=row.reversal_count,
            reversals=Money(row.reversal_amount, currency),
            vendor_net=Money(row.vendor_net, currency),
        )
    return VendorBatch(
        id=row.id,
        vendor_id=row.vendor_id,
        terminal_id=row.terminal_id,
        kind=row.kind,
        seq_no=row.seq_no,
        state=row.state,
        started_at=row.started_at,
        ended_at=row.ended_at,
        start_request_pk=row.start_request_pk,
        end_request_pk=row.end_request_pk,
        currency=row.currency,
        closing_totals=closing,
    )


# --- lookups ----------------------------------------------------------------------------------


def open_batches(txn: Txn, *, vendor_id: int, terminal_id: str) -> dict[str, VendorBatch]:
    """The vendor terminal's open batches by kind."""
    rows = txn.execute(
        select(vendor_batches).where(
            vendor_batches.c.vendor_id == vendor_id,
            vendor_batches.c.terminal_id == terminal_id[:64],
            vendor_batches.c.state == "open",
        )
    )
    return {row.kind: _from_row(row) for row in rows}


def closed_batch(
    txn: Txn, *, vendor_id: int, terminal_id: str, kind: str, seq_no: int | None = None
) -> VendorBatch:
    """A closed batch by number, or without one the last closed batch of ``kind``."""
    query = select(vendor_batches).where(
        vendor_batches.c.vendor_id == vendor_id,
        vendor_batches.c.terminal_id == terminal_id[:64],
        vendor_batches.c.kind == kind,
        vendor_batches.c.state == "closed",
    )
    if seq_no is not None:
        query = query.where(vendor_batches.c.seq_no == seq_no)
    row = txn.execute(query.order_by(vendor_batches.c.seq_no.desc()).limit(1)).first()
    if row is None:
        which = f"{kind} batch {seq_no}" if seq_no is not None else f"closed {kind} batch"
        raise UnknownBatch(f"no {which} for terminal {terminal_id}")
    return _from_row(row)


def list_batches(
    txn: Txn, *, vendor_id: int, terminal_id: str | None = None, limit: int = 20, now: datetime
) -> list[BatchReport]:
    """The vendor's latest batches (newest first), each with its totals: the closing ones,
    or the running ones for open batches."""
    query = select(vendor_batches).where(vendor_batches.c.vendor_id == vendor_id)
    if terminal_id is not None:
        query = query.where(vendor_batches.c.terminal_id == terminal_id[:64])
    rows = txn.execute(query.order_by(vendor_batches.c.id.desc()).limit(limit)).all()
    account_id = _vendor_account(txn, vendor_id)
    reports = []
    for row in rows:
        batch = _from_row(row)
        if batch.closing_totals is not None and batch.ended_at is not None:
            reports.append(BatchReport(batch, batch.closing_totals, batch.ended_at))
        else:
            reports.append(_running(txn, batch, account_id, now))
    return reports


def _vendor_account(txn: Txn, vendor_id: int) -> int:
    return txn.execute(select(vendors.c.account_id).where(vendors.c.id == vendor_id)).scalar_one()


# --- totals -----------------------------------------------------------------------------------


def window_totals(
    txn: Txn,
    *,
    vendor_id: int,
    account_id: int,
    terminal_id: str,
    currency: str,
    started: datetime,
    ended: datetime,
) -> BatchTotals:
    """The figures of ``[started, ended)`` for a vendor terminal, from the sales and ledger
    (see the module docstring)."""
    terminal = terminal_id[:64]
    in_window = and_(transfers.c.created_at >= started, transfers.c.created_at < ended)
    of_terminal = and_(sales.c.vendor_id == vendor_id, sales.c.terminal_id == terminal)

    def per_operator(transfer_column: Any) -> list[Row]:
        return txn.execute(
            select(
                operators.c.name,
                func.count(sales.c.id).label("n"),
                func.coalesce(func.sum(sales.c.amount), 0).label("amount"),
            )
            .select_from(sales)
            .join(transfers, transfers.c.id == transfer_column)
            .outerjoin(operators, operators.c.id == sales.c.operator_id)
            .where(of_terminal, in_window, sales.c.currency == currency)
            .group_by(operators.c.name)
        ).all()

    sold = per_operator(sales.c.transfer_id)
    reversed_ = per_operator(sales.c.reversal_transfer_id)
    vendor_net = txn.execute(
        select(func.coalesce(func.sum(ledger_entries.c.amount), 0))
        .select_from(ledger_entries)
        .join(transfers, transfers.c.id == ledger_entries.c.transfer_id)
        .where(
            ledger_entries.c.account_id == account_id,
            in_window,
            transfers.c.id.in_(
                select(sales.c.transfer_id)
                .where(of_terminal, sales.c.transfer_id.is_not(None))
                .union(
                    select(sales.c.reversal_transfer_id).where(
                        of_terminal, sales.c.reversal_transfer_id.is_not(None)
                    )
                )
            ),
        )
    ).scalar_one()
    by_operator: dict[str, int] = defaultdict(int)
    for row in sold:
        if row.name is not None:
            by_operator[row.name] += int(row.amount)
    for row in reversed_:
        if row.name is not None:
            by_operator[row.name] -= int(row.amount)
    return BatchTotals(
        sale_count=sum(int(row.n) for row in sold),
        sales=Money(sum(int(row.amount) for row in sold), currency),
        reversal_count=sum(int(row.n) for row in reversed_),
        reversals=Money(sum(int(row.amount) for row in reversed_), currency),
        vendor_net=Money(int(vendor_net), currency),
        by_operator={name: Money(amount, currency) for name, amount in sorted(by_operator.items())},
    )


def _running(txn: Txn, batch: VendorBatch, account_id: int, now: datetime) -> BatchReport:
    totals = window_totals(
        txn,
        vendor_id=batch.vendor_id,
        account_id=account_id,
        terminal_id=batch.terminal_id,
        currency=batch.currency,
        started=batch.started_at,
        ended=now,
    )
    return BatchReport(batch, totals, _utc(now))


def _with_operators(txn: Txn, batch: VendorBatch, account_id: int) -> BatchReport:
    """A closed batch with its closing totals and, recomputed over its window, the
    breakdown by operator (only the sums are kept)."""
    assert batch.ended_at is not None and batch.closing_totals is not None
    again = window_totals(
        txn,
        vendor_id=batch.vendor_id,
        account_id=account_id,
        terminal_id=batch.terminal_id,
        currency=batch.currency,
        started=batch.started_at,
        ended=batch.ended_at,
    )
    totals = batch.closing_totals
    if again.net == totals.net:
        totals = BatchTotals(
            totals.sale_count,
            totals.sales,
            totals.reversal_count,
            totals.reversals,
            totals.vendor_net,
            again.by_operator,
        )
    return BatchReport(batch, totals, batch.ended_at)


# --- transaction functions --------------------------------------------------------------------


def _insert_open(txn: Txn, values: dict[str, Any]) -> int | None:
    """Insert an open batch; None when the open-batch index (or the sequence number) is
    taken already -- by a concurrent start, which then wins."""
    insert = pg_insert if txn.is_postgres else sqlite_insert
    statement = (insert(vendor_batches).values(**values).on_conflict_do_nothing()).returning(
        vendor_batches.c.id
    )
    return txn.execute(statement).scalar()


def start_batches(
    txn: Txn,
    *,
    vendor_id: int,
    terminal_id: str,
    currency: str,
    kinds: Sequence[str],
    now: datetime,
    request_pk: int | None = None,
) -> list[VendorBatch]:
    """Open a batch of each of ``kinds`` at the vendor terminal (outermost first).

    Raises BatchAlreadyOpen, writing nothing, when any of them is open already."""
    terminal = terminal_id[:64]
    already = open_batches(txn, vendor_id=vendor_id, terminal_id=terminal)
    taken = [kind for kind in kinds if kind in already]
    if taken:
        raise BatchAlreadyOpen(
            "A "
            + " and a ".join(f"{kind} batch ({already[kind].seq_no})" for kind in taken)
            + f" {'is' if len(taken) == 1 else 'are'} already open at terminal {terminal}; "
            "end it first"
        )
    started: list[VendorBatch] = []
    for kind in kinds:
        last = txn.execute(
            select(func.max(vendor_batches.c.seq_no)).where(
                vendor_batches.c.vendor_id == vendor_id,
                vendor_batches.c.terminal_id == terminal,
                vendor_batches.c.kind == kind,
            )
        ).scalar()
        values = {
            "vendor_id": vendor_id,
            "terminal_id": terminal,
            "kind": kind,
            "seq_no": (last or 0) + 1,
            "state": "open",
            "started_at": now,
            "start_request_pk": request_pk,
            "currency": currency,
        }
        batch_id = _insert_open(txn, values)
        if batch_id is None:
            raise BatchAlreadyOpen(
                f"A {kind} batch was started at terminal {terminal} a moment ago; end it first"
            )
        row = txn.execute(select(vendor_batches).where(vendor_batches.c.id == batch_id)).one()
        started.append(_from_row(row))
    return started


def batch_totals(
    txn: Txn,
    *,
    vendor_id: int,
    account_id: int,
    terminal_id: str,
    kinds: Sequence[str],
    now: datetime,
) -> list[BatchReport]:
    """Running totals of the open batches among ``kinds`` (outermost first); nothing
    changes. Raises NoBatchTotals when none of them is open."""
    opened = open_batches(txn, vendor_id=vendor_id, terminal_id=terminal_id)
    found = [opened[kind] for kind in kinds if kind in opened]
    if not found:
        raise NoBatchTotals(
            f"No {' or '.join(kinds)} batch is open at terminal {terminal_id[:64]} to total"
        )
    return [_running(txn, batch, account_id, now) for batch in found]


def end_batches(
    txn: Txn,
    *,
    vendor_id: int,
    account_id: int,
    terminal_id: str,
    kinds: Sequence[str],
    now: datetime,
    request_pk: int | None = None,
) -> list[BatchReport]:
    """Close the open batch of each of ``kinds`` (outermost first), keeping its totals.

    Raises BatchNotOpen, writing nothing, when any of them is not open."""
    terminal = terminal_id[:64]
    opened = open_batches(txn, vendor_id=vendor_id, terminal_id=terminal)
    missing = [kind for kind in kinds if kind not in opened]
    if missing:
        raise BatchNotOpen(f"No {' or '.join(missing)} batch is open at terminal {terminal} to end")
    reports: list[BatchReport] = []
    for kind in kinds:
        batch = opened[kind]
        totals = window_totals(
            txn,
            vendor_id=vendor_id,
            account_id=account_id,
            terminal_id=terminal,
            currency=batch.currency,
            started=batch.started_at,
            ended=now,
        )
        result = txn.execute(
            update(vendor_batches)
            .where(vendor_batches.c.id == batch.id, vendor_batches.c.state == "open")
            .values(
                state="closed",
                ended_at=now,
                end_request_pk=request_pk,
                sale_count=totals.sale_count,
                sale_amount=totals.sales.amount,
                reversal_count=totals.reversal_count,
                reversal_amount=totals.reversals.amount,
                vendor_net=totals.vendor_net.amount,
            )
        )
        if result.rowcount != 1:  # closed by a concurrent end
            raise BatchNotOpen(f"The {kind} batch at terminal {terminal} was just ended")
        row = txn.execute(select(vendor_batches).where(vendor_batches.c.id == batch.id)).one()
        reports.append(BatchReport(_from_row(row), totals, _utc(now)))
    return reports


def reprint_batch(
    txn: Txn, *, vendor_id: int, account_id: int, terminal_id: str, kind: str, seq_no: int | None
) -> BatchReport:
    """A closed batch (by number, else the last closed one) with its closing totals.
    Raises UnknownBatch."""
    batch = closed_batch(
        txn, vendor_id=vendor_id, terminal_id=terminal_id, kind=kind, seq_no=seq_no
    )
    return _with_operators(txn, batch, account_id)


__all__ = [
    "BATCH_KINDS",
    "BatchAlreadyOpen",
    "BatchNotOpen",
    "BatchReport",
    "BatchTotals",
    "NoBatchTotals",
    "UnknownBatch",
    "VendorBatch",
    "batch_totals",
    "closed_batch",
    "end_batches",
    "kinds_of",
    "list_batches",
    "open_batches",
    "reprint_batch",
    "start_batches",
    "vendor_batches",
    "window_totals",
]
