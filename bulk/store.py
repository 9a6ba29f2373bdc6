"""The batches and their rows (SQL; transaction functions ``fn(txn, ...)``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, select, update

from bulk.errors import UnknownBatch
from bulk.fileformat import BulkFile
from bulk.tables import ROW_STATES, bulk_batches, bulk_rows
from vending.auth import Principal
from vending.principals import PRINCIPAL_COLUMNS, principal_from_row
from vending.storage.database import Txn
from vending.storage.schema import accounts, operators, vendors


@dataclass(frozen=True)
class Batch:
    id: int
    scope: str
    file_id: str
    digest: str
    vendor_id: int
    operator_id: int | None
    api_key_id: int | None
    currency: str
    total: int
    state: str
    created_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class RowRecord:
    row_no: int
    product: str
    target: str
    amount: str
    ref: str
    state: str
    reason: str
    reference: str
    operator_ref: str


def _batch(row: object) -> Batch:
    return Batch(**{name: getattr(row, name) for name in Batch.__dataclass_fields__})


def _row(row: object) -> RowRecord:
    return RowRecord(**{name: getattr(row, name) for name in RowRecord.__dataclass_fields__})


def find_by_file(txn: Txn, scope: str, file_id: str) -> Batch | None:
    row = txn.execute(
        select(bulk_batches).where(bulk_batches.c.scope == scope, bulk_batches.c.file_id == file_id)
    ).first()
    return None if row is None else _batch(row)


def get_batch(txn: Txn, batch_id: int, scope: str | None = None) -> Batch:
    """The batch; ``scope``: only the submitter's own (another's is 'unknown' too)."""
    query = select(bulk_batches).where(bulk_batches.c.id == batch_id)
    if scope is not None:
        query = query.where(bulk_batches.c.scope == scope)
    row = txn.execute(query).first()
    if row is None:
        raise UnknownBatch(f"no bulk batch {batch_id}")
    return _batch(row)


def create_batch(
    txn: Txn,
    file: BulkFile,
    *,
    scope: str,
    principal: Principal,
    api_key_id: int | None,
    now: datetime,
) -> int:
    """The batch and every row (malformed ones failed already with their reason)."""
    batch_id = txn.execute(
        insert(bulk_batches)
        .values(
            scope=scope,
            file_id=file.file_id,
            digest=file.digest.hex(),
            vendor_id=principal.vendor_id,
            operator_id=principal.operator_id,
            api_key_id=api_key_id,
            currency=principal.currency,
            total=len(file.rows),
            state="running",
            created_at=now,
        )
        .returning(bulk_batches.c.id)
    ).scalar_one()
    txn.execute(
        insert(bulk_rows),
        [
            {
                "batch_id": batch_id,
                "row_no": row.number,
                "product": row.product,
                "target": row.target,
                "amount": row.amount,
                "ref": row.ref,
                "state": "queued" if row.error is None else "failed",
                "reason": (row.error or "")[:200],
                "reference": "",
                "operator_ref": "",
                "updated_at": now,
            }
            for row in file.rows
        ],
    )
    return batch_id


def counts(txn: Txn, batch_id: int) -> dict[str, int]:
    found = dict.fromkeys(ROW_STATES, 0)
    for state, n in txn.execute(
        select(bulk_rows.c.state, func.count())
        .where(bulk_rows.c.batch_id == batch_id)
        .group_by(bulk_rows.c.state)
    ):
        found[state] = n
    return found


def rows(txn: Txn, batch_id: int, *, state: str | None = None) -> list[RowRecord]:
    query = select(bulk_rows).where(bulk_rows.c.batch_id == batch_id)
    if state is not None:
        query = query.where(bulk_rows.c.state == state)
    return [_row(r) for r in txn.execute(query.order_by(bulk_rows.c.row_no))]


def set_row(
    txn: Txn,
    batch_id: int,
    row_no: int,
    *,
    state: str,
    reason: str = "",
    reference: str = "",
    operator_ref: str = "",
    now: datetime,
) -> None:
    txn.execute(
        update(bulk_rows)
        .where(bulk_rows.c.batch_id == batch_id, bulk_rows.c.row_no == row_no)
        .values(
            state=state,
            reason=reason[:200],
            reference=reference[:64],
            operator_ref=operator_ref[:64],
            updated_at=now,
        )
    )


_SET_ROW = (
    update(bulk_rows)
    .where(bulk_rows.c.batch_id == bindparam("b_batch"), bulk_rows.c.row_no == bindparam("b_row"))
    .values(
        state=bindparam("b_state"),
        reason=bindparam("b_reason"),
        reference=bindparam("b_reference"),
        operator_ref=bindparam("b_operator_ref"),
        updated_at=bindparam("b_at"),
    )
)


def set_rows(txn: Txn, batch_id: int, results: list[dict[str, Any]], *, now: datetime) -> None:
    """Many rows' results (``row_no``, ``state`` and optionally ``reason``, ``reference``,
    ``operator_ref``) with one executemany: a flush of the processing loop is one
    statement, not one per row."""
    if not results:
        return
    txn.execute(
        _SET_ROW,
        [
            {
                "b_batch": batch_id,
                "b_row": result["row_no"],
                "b_state": result["state"],
                "b_reason": result.get("reason", "")[:200],
                "b_reference": result.get("reference", "")[:64],
                "b_operator_ref": result.get("operator_ref", "")[:64],
                "b_at": now,
            }
            for result in results
        ],
    )


def finish(txn: Txn, batch_id: int, now: datetime) -> bool:
    """Mark the batch done once no row is queued; True when this call did it."""
    queued = txn.execute(
        select(func.count())
        .select_from(bulk_rows)
        .where(bulk_rows.c.batch_id == batch_id, bulk_rows.c.state == "queued")
    ).scalar_one()
    if queued:
        return False
    done = txn.execute(
        update(bulk_batches)
        .where(bulk_batches.c.id == batch_id, bulk_batches.c.state == "running")
        .values(state="done", finished_at=now)
    )
    return done.rowcount == 1


def running(txn: Txn) -> list[int]:
    """Batches a stopped process left unfinished (resumed at start)."""
    return list(
        txn.execute(
            select(bulk_batches.c.id)
            .where(bulk_batches.c.state == "running")
            .order_by(bulk_batches.c.id)
        ).scalars()
    )


def principal_of(txn: Txn, batch: Batch) -> Principal:
    """The submitter as a principal again (a resumed batch sells as its submitter; the
    idempotency path re-checks it before every row's sale)."""
    row = txn.execute(
        select(*PRINCIPAL_COLUMNS)
        .select_from(vendors)
        .join(accounts, accounts.c.id == vendors.c.account_id)
        .outerjoin(
            operators,
            and_(
                operators.c.vendor_id == vendors.c.id,
                operators.c.id == (batch.operator_id or -1),
            ),
        )
        .where(vendors.c.id == batch.vendor_id)
    ).one()
    return principal_from_row(row)


__all__ = [
    "Batch",
    "RowRecord",
    "UnknownBatch",
    "counts",
    "create_batch",
    "find_by_file",
    "finish",
    "get_batch",
    "principal_of",
    "rows",
    "running",
    "set_row",
]
