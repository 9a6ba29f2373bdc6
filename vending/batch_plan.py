"""The set-based sale batch's shared state (issue 16, step 2), PostgreSQL only.

While :func:`vending.sale_batch.run_sale_batch` runs a batch, ``txn.local`` holds one
:class:`BatchPlan`. The single-sale code (the very functions the single path runs: claim,
re-check, price, debit, number, tokenise, render, store) asks :func:`plan_of` at a handful of
points and, when a plan is there,

* reads what the batch fetched up front (one call, ``evd_sale_batch_start``) instead of
  running its own statement: its request key's claim, its principal's row, its meter's
  record, its vendor account's locked balance, its PIN from the batch's ``SKIP LOCKED``
  reservation, its row ids;
* checks its debit against the locked balance in Python, in arrival order;
* queues its rows instead of writing them: transfers, ledger entries, sales, issued tokens,
  stored responses, PINs sold, meter updates, account balances; the batch writes each kind
  with ONE statement before its COMMIT (:mod:`vending.sale_batch`).

A sale that fails its checks has queued nothing that is kept: the plan is rolled back to the
mark taken before the sale (:meth:`BatchPlan.mark` / :meth:`BatchPlan.rollback_to`), and its
pre-inserted claim is deleted with the batch. A sale that wrote something directly (a
statement the plan does not take over: a key change, a wallet's spend record) and then
fails cannot be undone that way: the batch is rolled back and run again without it.

Outside a batch (SQLite, PostgreSQL without batching, every other transaction) ``plan_of``
is None and every function runs its own statements as before.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from vending.storage.database import BATCH_PLAN as _KEY
from vending.storage.database import Txn


class NodeRow(NamedTuple):
    """A seller's distribution-network node as the sale checks it (read by the batch)."""

    id: int
    code: str
    parent_id: int | None
    status: str
    allowed_products: str
    allowed_channels: str


@dataclass
class LockedAccount:
    """A vendor account locked by the batch: its balance as the batch has moved it."""

    id: int
    currency: str
    balance: int
    credit_limit: int | None
    blocked: bool


@dataclass
class BatchPlan:
    # (client_id, request_id) -> request pk, claimed by the batch's one INSERT.
    claims: dict[tuple[str, str], int] = field(default_factory=dict)
    # (vendor_id, operator_id or -1) -> the principal's row (vending.auth.revalidate).
    principals: dict[tuple[int, int], Any] = field(default_factory=dict)
    # vendor id -> its distribution-network node (id, code, parent_id, status,
    # allowed_products, allowed_channels) or None, read with the principals
    # (distribution.selling.check_node).
    nodes: dict[int, Any] = field(default_factory=dict)
    accounts: dict[int, LockedAccount] = field(default_factory=dict)
    # meter id -> its last TID as the batch has moved it (read by the meters' lock).
    meter_tids: dict[int, int] = field(default_factory=dict)
    # The batch's meter numbers; their records (msno -> the registry's MeterRecord, as the
    # batch's sales have changed them), read by the batch's start;
    # meter id -> msno of those whose purchase bookkeeping a sale recorded.
    meter_numbers: frozenset[str] = frozenset()
    meters: dict[str, Any] | None = None
    meters_recorded: dict[int, str] = field(default_factory=dict)
    # What the batch read before its sales ran (only what moved is written back).
    meter_tids_before: dict[int, int] = field(default_factory=dict)
    balances_before: dict[int, int] = field(default_factory=dict)
    # sequence name -> ids fetched for the batch, handed out in order.
    ids: dict[str, list[int]] = field(default_factory=dict)
    # (product id, day) -> PINs locked by the batch's start (SKIP LOCKED), in sale order.
    vouchers: dict[tuple[int, Any], list[Any]] = field(default_factory=dict)
    # (product id, day) -> its stock as the batch's start read it (threshold or None,
    # alerted, sellable vouchers counted up to threshold + 1 beyond the batch's PINs), and
    # voucher id -> (product id, day) of the PINs locked: the batch's write decides from
    # them whether a product's low-stock check has anything to do.
    stock: dict[tuple[int, Any], tuple[int | None, bool, int | None]] = field(default_factory=dict)
    voucher_products: dict[int, tuple[int, Any]] = field(default_factory=dict)
    # Queued rows per kind, written by the batch with one statement each.
    rows: dict[str, list[Any]] = field(default_factory=dict)
    # Tables with queued inserts, by name, in the order first queued.
    tables: dict[str, Any] = field(default_factory=dict)
    # Things to do once per batch at its end (e.g. a product's low-stock check).
    once: dict[Hashable, tuple[Any, ...]] = field(default_factory=dict)
    # Pks of claims made by the batch for sales that failed (deleted with the batch).
    dropped_claims: list[int] = field(default_factory=list)
    # Set when the running sale executed a write the plan did not take over.
    wrote_directly: bool = False

    def saw(self, statement: Any) -> None:
        """Txn.execute's report of a statement a sale ran itself."""
        if getattr(statement, "is_dml", False):
            self.wrote_directly = True

    # --- handing out -----------------------------------------------------------------------

    def next_id(self, sequence: str) -> int | None:
        pool = self.ids.get(sequence)
        return pool.pop(0) if pool else None

    def queue(self, kind: str, row: Any) -> None:
        self.rows.setdefault(kind, []).append(row)

    def insert(self, table: Any, row: dict[str, Any]) -> None:
        """Queue a row for ``table``: tables are written in the order first queued (a sale
        queues a row before the rows that refer to it)."""
        self.tables.setdefault(table.name, table)
        self.queue(table.name, row)

    def at_end(self, key: Hashable, fn: Any, *args: Any) -> None:
        """Run ``fn(txn, *args)`` once for ``key`` after the batch's rows are written (the
        last registration's arguments win)."""
        self.once[key] = (fn, *args)

    def take_voucher(self, product_id: int, day: Any) -> Any | None:
        pool = self.vouchers.get((product_id, day))
        return pool.pop(0) if pool else None

    def debit_check(self, account_id: int) -> LockedAccount | None:
        return self.accounts.get(account_id)

    # --- one sale's undo ---------------------------------------------------------------------

    def mark(self) -> tuple[Any, ...]:
        return (
            {k: len(v) for k, v in self.rows.items()},
            {k: list(v) for k, v in self.ids.items()},
            {k: list(v) for k, v in self.vouchers.items()},
            {k: (a.balance,) for k, a in self.accounts.items()},
            dict(self.once),
            dict(self.meter_tids),
            None if self.meters is None else dict(self.meters),
            dict(self.meters_recorded),
        )

    def rollback_to(self, mark: tuple[Any, ...]) -> None:
        lengths, ids, vouchers, balances, once, meter_tids, meters, recorded = mark
        for kind, rows in self.rows.items():
            del rows[lengths.get(kind, 0) :]
        self.ids = ids
        self.vouchers = vouchers
        for account_id, (balance,) in balances.items():
            self.accounts[account_id].balance = balance
        self.once = once
        self.meter_tids = meter_tids
        if meters is not None:
            self.meters = meters
        self.meters_recorded = recorded


def plan_of(txn: Txn) -> BatchPlan | None:
    """The running batch's plan, or None (single path, SQLite, any other transaction)."""
    return txn.local.get(_KEY)  # type: ignore[no-any-return]


def install(txn: Txn, plan: BatchPlan | None) -> None:
    if plan is None:
        txn.local.pop(_KEY, None)
    else:
        txn.local[_KEY] = plan


__all__ = ["BatchPlan", "LockedAccount", "NodeRow", "install", "plan_of"]
