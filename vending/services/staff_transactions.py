"""Transactions for the admin suite: search, detail (ledger legs, request, masked answer),
CSV export streamed page by page, and reversal with four-eyes approval. Scope is resolved
inside each transaction (:mod:`vending.oversight.scope`): a sale outside the user's
subtree is answered as unknown, whatever id is asked for."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from vending import audit
from vending.errors import InvalidRequest, UnknownSale
from vending.keyring import Keyring
from vending.oversight import reversals, transactions
from vending.oversight.scope import Scope, resolve
from vending.oversight.transactions import (
    CSV_HEADER,
    TransactionDetail,
    TransactionFilter,
    TransactionPage,
)
from vending.sales import Sale
from vending.services.context import Clock, TxnRunner
from vending.services.oversight_access import (
    TRANSACTIONS_REPRINT,
    TRANSACTIONS_REVERSE,
    TRANSACTIONS_VIEW,
    AccessGuard,
    Actor,
    Guard,
    scope_of,
)
from vending.services.rendering import Renderers
from vending.services.reversal_policy import ReversalPolicy
from vending.storage.database import Txn

EXPORT_PAGE = 500
_OUTSIDE = "no such sale in your network"


def _search(
    txn: Txn, scope: Scope, f: TransactionFilter, before: int | None, limit: int
) -> TransactionPage:
    return transactions.search(txn, resolve(txn, scope), f, before=before, limit=limit)


def _detail(
    txn: Txn, keyring: Keyring, staff: Actor, sale_id: int, clear: bool, now: datetime
) -> TransactionDetail | None:
    found = transactions.detail(txn, keyring, resolve(txn, scope_of(staff)), sale_id, clear=clear)
    if found is not None and clear and found.response is not None:
        # Seeing a PIN or token in clear is a delivery: it is recorded like a reprint.
        audit.record(
            txn,
            actor=staff.actor,
            action="sale.view_clear",
            subject=f"sale:{sale_id}",
            details={"receipt": found.sale.receipt_no},
            now=now,
        )
    return found


def _export_started(txn: Txn, staff: Actor, f: TransactionFilter, now: datetime) -> None:
    audit.record(
        txn,
        actor=staff.actor,
        action="transactions.export",
        subject=scope_of(staff).describe(),
        details={"filter": f.describe()},
        now=now,
    )


def _refusal(txn: Txn, scope: Scope, sale_id: int, policy: ReversalPolicy, now: datetime) -> str:
    return reversals.refusal(txn, resolve(txn, scope), sale_id, policy, now)


def _reverse(
    txn: Txn,
    keyring: Keyring,
    renderers: Renderers,
    policy: ReversalPolicy,
    scope: Scope,
    sale_id: int,
    **kwargs: Any,
) -> Sale:
    return reversals.reverse(
        txn, keyring, renderers, policy, resolve(txn, scope), sale_id, **kwargs
    )


class StaffTransactions:
    def __init__(
        self,
        runner: TxnRunner,
        keyring: Keyring,
        clock: Clock,
        renderers: Renderers,
        policy: ReversalPolicy | None = None,
        guard: AccessGuard | None = None,
    ) -> None:
        self._runner = runner
        self._keyring = keyring
        self._clock = clock
        self._renderers = renderers
        self.policy = policy or ReversalPolicy()
        self.guard: AccessGuard = guard or Guard(runner, clock)

    async def search(
        self,
        staff: Actor,
        f: TransactionFilter,
        *,
        before: int | None = None,
        limit: int = 50,
    ) -> TransactionPage:
        await self.guard.require(staff, TRANSACTIONS_VIEW, "transactions")
        return await self._runner.run(
            "admin_transaction_search", _search, scope_of(staff), f, before, limit
        )

    async def detail(self, staff: Actor, sale_id: int) -> TransactionDetail:
        """The sale with every ledger leg and its answer (masked unless the user may
        reprint); UnknownSale when it is not in the user's scope."""
        await self.guard.require(staff, TRANSACTIONS_VIEW, f"sale:{sale_id}")
        found = await self._runner.run(
            "admin_transaction_detail",
            _detail,
            self._keyring,
            staff,
            sale_id,
            staff.can(TRANSACTIONS_REPRINT),
            self._clock(),
        )
        if found is None:
            # Outside the scope and not there at all answer alike: 403, audited.
            await self.guard.deny(staff, TRANSACTIONS_VIEW, f"sale:{sale_id}", _OUTSIDE)
        assert found is not None
        return found

    async def export_csv(self, staff: Actor, f: TransactionFilter) -> AsyncIterator[bytes]:
        """The CSV of every transaction matching ``f`` (in scope), newest first, as chunks:
        the header, then one chunk per page read, so a large export never sits in memory.
        The permission is checked and the export audited before the first chunk."""
        await self.guard.require(staff, TRANSACTIONS_VIEW, "transactions")
        await self._runner.run("admin_transaction_export", _export_started, staff, f, self._clock())
        return self._csv_chunks(scope_of(staff), f)

    async def _csv_chunks(self, scope: Scope, f: TransactionFilter) -> AsyncIterator[bytes]:
        yield _csv_line([CSV_HEADER])
        before: int | None = None
        while True:
            page: TransactionPage = await self._runner.run(
                "admin_transaction_export_page", _search, scope, f, before, EXPORT_PAGE
            )
            if page.rows:
                yield _csv_line([row.csv_fields() for row in page.rows])
            if page.next_before is None:
                return
            before = page.next_before

    async def reversal_refusal(self, staff: Actor, sale_id: int) -> str:
        """Why the sale cannot be reversed now ("" when it can): asked before a reversal
        is proposed for approval, so nobody approves what the rules refuse."""
        subject = f"sale:{sale_id}"
        await self.guard.require(staff, TRANSACTIONS_REVERSE, subject)
        try:
            return await self._runner.run(
                "admin_reversal_check", _refusal, scope_of(staff), sale_id, self.policy,
                self._clock(),
            )  # fmt: skip
        except UnknownSale:
            await self.guard.deny(staff, TRANSACTIONS_REVERSE, subject, _OUTSIDE)
            raise

    async def reverse(
        self, approver: Actor, sale_id: int, *, reason: str, requested_by: str
    ) -> Sale:
        """Reverse the sale on the approval of a second user (four-eyes): ``approver`` may
        reverse and see the sale, and is not the user who asked (``requested_by``)."""
        subject = f"sale:{sale_id}"
        await self.guard.require(approver, TRANSACTIONS_REVERSE, subject)
        if requested_by in (approver.username, approver.actor):
            await self.guard.deny(
                approver, TRANSACTIONS_REVERSE, subject, "four-eyes: a second user must approve"
            )
        if not reason.strip():
            raise InvalidRequest("a reversal needs a reason")
        try:
            return await self._run_reversal(approver, sale_id, reason, requested_by)
        except UnknownSale:
            await self.guard.deny(approver, TRANSACTIONS_REVERSE, subject, _OUTSIDE)
            raise

    async def _run_reversal(
        self, approver: Actor, sale_id: int, reason: str, requested_by: str
    ) -> Sale:
        return await self._runner.run(
            "admin_reverse_sale",
            _reverse,
            self._keyring,
            self._renderers,
            self.policy,
            scope_of(approver),
            sale_id,
            reason=reason,
            requested_by=requested_by,
            approved_by=approver.username,
            now=self._clock(),
        )


def _csv_line(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        # A cell starting with = + - @ is read as a formula by spreadsheets: quote it away.
        writer.writerow(["'" + c if c[:1] in ("=", "+", "-", "@") else c for c in row])
    return out.getvalue().encode()


__all__ = ["StaffTransactions"]
