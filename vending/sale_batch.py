"""Many sales in one transaction: the batch transaction function (issue 16, first step).

A batch is a list of :class:`BatchedSale`: each is a sale's own transaction function (the very
one the single path runs: ``VoucherSales._sell``, ``EmbeddedBackend.credit_vend``) with its
arguments, and the rows it will lock. :func:`run_sale_batch` runs them all in ONE transaction
(one BEGIN, one COMMIT, one WAL flush for the whole batch):

1. on PostgreSQL, lock the rows the batch touches in one global order -- meters by id, then
   vendor accounts by id (the hot accounts are locked last, in id order, by the ledger's
   deferred credits right before COMMIT) -- so two batches wait for each other but never
   deadlock;
2. each sale in arrival order inside its own SAVEPOINT, through the unchanged single-sale
   code (claim the key, re-check the principal, debit against the locked balance, TID,
   token, transfer, stored answer): what a batched sale stores is byte for byte what the
   single path stores for the same request and clock. A sale that fails -- a checked
   refusal (InsufficientFunds ...) or an unexpected error -- is rolled back to its savepoint
   (its claim too, with the transaction's hooks and scratch state), gets its own exception,
   and the others go on;
3. the hot accounts are credited once for the batch (the deferred credits of every sale,
   summed, one statement) and the batch commits; the caller answers each sale only then.

A retryable database error (deadlock, serialization failure, lost connection) is not a
sale's fault: it propagates and the runner retries the whole batch.

Not yet here (see docs/PERFORMANCE.md): the set-based form (one statement per table for
the whole batch); each sale still runs its own statements, only the transaction is shared.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from vending.ledger import restore_deferred_credits, snapshot_deferred_credits
from vending.storage.database import Txn, is_retryable


@dataclass(frozen=True)
class SaleLocks:
    """The rows a sale will lock: its meter (by number, None for a voucher) and the
    vendor's account."""

    account_id: int | None = None
    meter_number: str | None = None


@dataclass
class BatchedSale:
    """One sale's transaction function ``fn(txn, *args, **kwargs)`` and its locks."""

    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    locks: SaleLocks = field(default_factory=SaleLocks)


@dataclass(frozen=True)
class SaleDone:
    """A sale's outcome in a batch: its result, or the exception that refused it."""

    result: Any = None
    error: BaseException | None = None


_LOCK_METERS = "SELECT id FROM meters WHERE msno = ANY(%(numbers)s) ORDER BY id FOR UPDATE"
_LOCK_ACCOUNTS = "SELECT id FROM accounts WHERE id = ANY(%(ids)s::bigint[]) ORDER BY id FOR UPDATE"


def lock_in_order(txn: Txn, sales: Sequence[BatchedSale]) -> None:
    """Lock the batch's meters, then its vendor accounts, each in id order."""
    numbers = sorted({s.locks.meter_number for s in sales if s.locks.meter_number})
    ids = sorted({s.locks.account_id for s in sales if s.locks.account_id is not None})
    if numbers:
        txn.conn.exec_driver_sql(_LOCK_METERS, {"numbers": numbers}).fetchall()
    if ids:
        txn.conn.exec_driver_sql(_LOCK_ACCOUNTS, {"ids": ids}).fetchall()


def run_sale_batch(txn: Txn, sales: Sequence[BatchedSale]) -> list[SaleDone]:
    """Transaction function: every sale of ``sales`` in this one transaction (see the
    module docstring); one :class:`SaleDone` per sale, in order."""
    if txn.is_postgres:
        lock_in_order(txn, sales)
    done: list[SaleDone] = []
    for sale in sales:
        local = dict(txn.local)
        credits = snapshot_deferred_credits(txn)
        before = list(txn._before_commit)
        after = list(txn._after_commit)
        savepoint = txn.conn.begin_nested()
        try:
            result = sale.fn(txn, *sale.args, **sale.kwargs)
        except Exception as error:
            if is_retryable(error):
                raise
            savepoint.rollback()
            txn.local.clear()
            txn.local.update(local)
            restore_deferred_credits(txn, credits)
            txn._before_commit[:] = before
            txn._after_commit[:] = after
            done.append(SaleDone(error=error))
            continue
        savepoint.commit()
        done.append(SaleDone(result=result))
    return done


__all__ = ["BatchedSale", "SaleDone", "SaleLocks", "lock_in_order", "run_sale_batch"]
