"""Bulk multi-recharge (issue 13 §5, docs/BULK.md): a dealer's or merchant's file of up to
10,000 sales.

:meth:`BulkSales.submit` records the batch and its rows in one transaction under the file's
request key (submitter scope, ``bulk:FILE-ID``) through the one idempotency path, and
answers at once with the batch id (the same file again: the same batch, nothing new).
:meth:`BulkSales.process` then sells the queued rows with bounded concurrency -- a few
workers on the caller's event loop, each taking the next row, never a thread per row --
through the ordinary services: a recharge product through ``RechargeSales`` (the provider
fulfilment), a voucher product through ``VoucherSales``. Every row is its own idempotent
sale keyed (scope, ``bulk:FILE-ID:ROW``), so a resubmitted file, a restart in the middle
or a resumed batch replays rows already sold and sells nothing twice. A row that fails
(malformed, refused, out of stock, failed and refunded) fails alone with its reason.

No Twisted here: the adapter gives ``spawn`` (start a coroutine, get an awaitable of it;
``ensureDeferred`` on the reactor).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bulk import store
from bulk.fileformat import BulkFile
from bulk.renderer import CHANNEL, BulkRenderer, read_answer
from bulk.store import Batch, RowRecord
from vending import api_keys, webhooks
from vending.auth import Principal
from vending.errors import IdempotencyConflict, InvalidRequest, UnknownProduct, VendingError
from vending.keyring import Keyring
from vending.money import Money
from vending.products import get_product
from vending.requests import RequestKey, StoredResponse
from vending.services import idempotency
from vending.services.context import Clock, RequestContext, TxnRunner
from vending.services.voucher_sales import VoucherSaleRequest, VoucherSales
from vending.storage.database import Txn

log = logging.getLogger("evd.bulk")

RECHARGE_KINDS = frozenset({"pinless", "dth", "data"})
Spawn = Callable[[Coroutine[Any, Any, Any]], Awaitable[Any]]


@dataclass(frozen=True)
class BatchStatus:
    id: int
    file_id: str
    state: str
    total: int
    counts: dict[str, int]
    created_at: datetime
    finished_at: datetime | None
    # The submission was the same file again (nothing new was recorded).
    replayed: bool = False


@dataclass(frozen=True)
class RowResult:
    row: int
    product: str
    target: str
    amount: str
    ref: str
    state: str
    reason: str
    reference: str
    operator_ref: str
    serial: str = ""
    pin: str = field(default="", repr=False)


def row_key(
    scope: str, file_id: str, row_no: int, operation: str, fingerprint: bytes
) -> RequestKey:
    return RequestKey(CHANNEL, scope, f"bulk:{file_id}:{row_no}", operation, fingerprint)


def _status(txn: Txn, batch: Batch, replayed: bool = False) -> BatchStatus:
    return BatchStatus(
        id=batch.id,
        file_id=batch.file_id,
        state=batch.state,
        total=batch.total,
        counts=store.counts(txn, batch.id),
        created_at=batch.created_at,
        finished_at=batch.finished_at,
        replayed=replayed,
    )


class BulkSales:
    def __init__(
        self,
        runner: TxnRunner,
        keyring: Keyring,
        clock: Clock,
        *,
        vouchers: VoucherSales,
        recharge: Callable[[], Any],
        concurrency: int = 16,
        flush_rows: int = 50,
        chunk_rows: int = 20,
    ) -> None:
        self._runner = runner
        self._keyring = keyring
        self._clock = clock
        self._vouchers = vouchers
        # The recharge service, when a provider fulfilment is wired (looked up when needed).
        self._recharge = recharge
        self.concurrency = max(1, concurrency)
        self._flush_rows = max(1, flush_rows)
        self._chunk_rows = max(1, chunk_rows)
        self.renderer = BulkRenderer()
        # Batches this process is selling now (a second process() of one is a no-op).
        self._active: set[int] = set()

    # --- submit -------------------------------------------------------------------------

    async def submit(
        self, principal: Principal, scope: str, file: BulkFile, *, api_key_id: int | None = None
    ) -> BatchStatus:
        """Record the batch (one transaction, the file's own request key); the same file
        again answers with the same batch. The file id reused for other content:
        :class:`IdempotencyConflict`."""
        return await self._runner.run(
            "bulk_submit", self._submit, principal, scope, file, api_key_id, self._clock()
        )

    def _submit(
        self,
        txn: Txn,
        principal: Principal,
        scope: str,
        file: BulkFile,
        api_key_id: int | None,
        now: datetime,
    ) -> BatchStatus:
        key = RequestKey(CHANNEL, scope, f"bulk:{file.file_id}", "bulkSubmit", file.digest)

        def change(txn: Txn, _claim: Any) -> int:
            if store.find_by_file(txn, scope, file.file_id) is not None:
                raise IdempotencyConflict(f"file id {file.file_id} was used for another file")
            return store.create_batch(
                txn, file, scope=scope, principal=principal, api_key_id=api_key_id, now=now
            )

        def render(batch_id: int) -> StoredResponse:
            return StoredResponse(json.dumps({"batch_id": batch_id}).encode(), http_status=200)

        try:
            processed = idempotency.run_once(
                txn, self._keyring, key, principal, change, render, now=now
            )
        except IdempotencyConflict:
            raise IdempotencyConflict(
                f"file id {file.file_id} was already used for a different file"
            ) from None
        batch_id = json.loads(processed.response.body)["batch_id"]
        return _status(txn, store.get_batch(txn, batch_id), processed.replayed)

    # --- processing ---------------------------------------------------------------------

    async def process(self, batch_id: int, spawn: Spawn) -> BatchStatus | None:
        """Sell the batch's queued rows, ``concurrency`` at a time; then mark it done and
        queue the completion webhook. None when this process is selling it already."""
        if batch_id in self._active:
            return None
        self._active.add(batch_id)
        try:
            return await self._process(batch_id, spawn)
        finally:
            self._active.discard(batch_id)

    async def _process(self, batch_id: int, spawn: Spawn) -> BatchStatus:
        batch, principal, todo, kinds = await self._runner.run("bulk_work", self._work, batch_id)
        pending_results: list[dict[str, Any]] = []
        units = iter(self._units(todo, kinds))

        async def flush() -> None:
            if pending_results:
                done = list(pending_results)
                pending_results.clear()
                await self._runner.run("bulk_rows_done", self._record, batch.id, done)

        async def worker() -> None:
            for unit in units:
                if len(unit) > 1:
                    pending_results.extend(await self._sell_chunk(batch, principal, unit))
                else:
                    pending_results.append(await self._sell_row(batch, principal, kinds, unit[0]))
                if len(pending_results) >= self._flush_rows:
                    await flush()

        workers = [spawn(worker()) for _ in range(min(self.concurrency, len(todo)))]
        for waiting in workers:
            await waiting
        await flush()
        status: BatchStatus = await self._runner.run(
            "bulk_finish", self._finish, batch.id, self._clock()
        )
        log.info("bulk batch %s (%s): %s", batch.id, batch.file_id, status.counts)
        return status

    def _work(
        self, txn: Txn, batch_id: int
    ) -> tuple[Batch, Principal, list[RowRecord], dict[str, str | None]]:
        batch = store.get_batch(txn, batch_id)
        todo = store.rows(txn, batch_id, state="queued")
        kinds: dict[str, str | None] = {}
        for code in {row.product for row in todo}:
            try:
                kinds[code] = get_product(txn, code).kind
            except UnknownProduct:
                kinds[code] = None
        return batch, store.principal_of(txn, batch), todo, kinds

    def _units(self, todo: list[RowRecord], kinds: dict[str, str | None]) -> list[list[RowRecord]]:
        """What one worker sells at a time: recharges in chunks of ``chunk_rows`` (their
        holds and settlements one transaction per chunk: ``RechargeSales.sell_many``),
        every other row alone."""
        units: list[list[RowRecord]] = []
        chunk: list[RowRecord] = []
        for row in todo:
            if self._chunk_rows > 1 and kinds.get(row.product) in RECHARGE_KINDS:
                chunk.append(row)
                if len(chunk) == self._chunk_rows:
                    units.append(chunk)
                    chunk = []
            else:
                units.append([row])
        if chunk:
            units.append(chunk)
        return units

    async def _sell_chunk(
        self, batch: Batch, principal: Principal, rows: list[RowRecord]
    ) -> list[dict[str, Any]]:
        results: dict[int, dict[str, Any]] = {}
        requests = []
        asked: list[RowRecord] = []
        recharge = self._recharge()
        from vending.services.recharge_sales import RechargeRequest

        for row in rows:
            try:
                if recharge is None:
                    raise InvalidRequest("recharges are not offered here (no provider wired)")
                if not row.target or not row.amount:
                    raise InvalidRequest("a recharge needs a target and an amount")
                amount = Money.parse(row.amount, batch.currency)
                ctx = self._context(batch, principal, row, "bulkRecharge")
            except VendingError as error:
                results[row.row_no] = {
                    "row_no": row.row_no,
                    "state": "failed",
                    "reason": error.message,
                }
                continue
            requests.append(RechargeRequest(ctx, row.target, amount, product_code=row.product))
            asked.append(row)
        if requests:
            assert recharge is not None
            try:
                outcomes = await recharge.sell_many(requests, self.renderer)
            except Exception as error:  # the chunk's transaction failed: nothing was sold
                log.exception("bulk batch %s: a chunk failed", batch.id)
                outcomes = [error] * len(requests)
            for row, outcome in zip(asked, outcomes, strict=True):
                results[row.row_no] = self._row_result(batch, row, outcome)
        return [results[row.row_no] for row in rows]

    def _row_result(self, batch: Batch, row: RowRecord, outcome: Any) -> dict[str, Any]:
        result: dict[str, Any] = {"row_no": row.row_no}
        if isinstance(outcome, VendingError):
            result.update(state="failed", reason=outcome.message)
        elif isinstance(outcome, Exception):
            log.error("bulk batch %s row %s: %r", batch.id, row.row_no, outcome)
            result.update(state="failed", reason="internal error (nothing sold; send again)")
        else:
            answer = read_answer(outcome.response)
            result.update(
                state=answer.state,
                reference=answer.reference or answer.serial,
                operator_ref=answer.operator_ref,
                reason=answer.message if answer.state == "failed" else "",
            )
        return result

    def _context(
        self, batch: Batch, principal: Principal, row: RowRecord, operation: str
    ) -> RequestContext:
        document = {
            "batch": batch.id,
            "file_id": batch.file_id,
            "row": row.row_no,
            "product": row.product,
            "target": row.target,
            "amount": row.amount,
        }
        body = json.dumps(document, sort_keys=True).encode()
        return RequestContext(
            key=row_key(
                batch.scope, batch.file_id, row.row_no, operation, hashlib.sha256(body).digest()
            ),
            principal=principal,
            terminal_id="bulk",
            request=document,
            request_body=body,
            received_at=self._clock(),
            details={"bulk_batch": batch.id, "bulk_row": row.row_no},
        )

    async def _sell_row(
        self,
        batch: Batch,
        principal: Principal,
        kinds: dict[str, str | None],
        row: RowRecord,
    ) -> dict[str, Any]:
        result: dict[str, Any] = {"row_no": row.row_no}
        try:
            answer = read_answer(await self._sell(batch, principal, kinds.get(row.product), row))
            result.update(
                state=answer.state,
                reference=answer.reference or answer.serial,
                operator_ref=answer.operator_ref,
                reason=answer.message if answer.state == "failed" else "",
            )
        except VendingError as error:
            result.update(state="failed", reason=error.message)
        except Exception:  # one row's surprise must not stop the others
            log.exception("bulk batch %s row %s", batch.id, row.row_no)
            result.update(state="failed", reason="internal error (nothing sold; send again)")
        return result

    async def _sell(
        self, batch: Batch, principal: Principal, kind: str | None, row: RowRecord
    ) -> StoredResponse:
        if kind is None:
            raise UnknownProduct(f"no product {row.product}")
        amount = Money.parse(row.amount, batch.currency) if row.amount else None
        operation = "bulkVoucher" if kind == "voucher" else "bulkRecharge"
        ctx = self._context(batch, principal, row, operation)
        if kind == "voucher":
            sold = await self._vouchers.sell(
                VoucherSaleRequest(ctx, row.product, amount, recipient=row.target or None),
                self.renderer,
            )
            return sold.response
        if kind not in RECHARGE_KINDS:
            raise InvalidRequest(f"{row.product} cannot be sold in bulk")
        recharge = self._recharge()
        if recharge is None:
            raise InvalidRequest("recharges are not offered here (no provider wired)")
        if not row.target or amount is None:
            raise InvalidRequest("a recharge needs a target and an amount")
        from vending.services.recharge_sales import RechargeRequest

        outcome = await recharge.sell(
            RechargeRequest(ctx, row.target, amount, product_code=row.product), self.renderer
        )
        return outcome.response

    def _record(self, txn: Txn, batch_id: int, done: list[dict[str, Any]]) -> None:
        store.set_rows(txn, batch_id, done, now=self._clock())

    def _finish(self, txn: Txn, batch_id: int, now: datetime) -> BatchStatus:
        finished = store.finish(txn, batch_id, now)
        batch = store.get_batch(txn, batch_id)
        status = _status(txn, batch)
        if finished and batch.api_key_id is not None:
            self._queue_webhook(txn, batch, status, now)
        return status

    def _queue_webhook(self, txn: Txn, batch: Batch, status: BatchStatus, now: datetime) -> None:
        """The completion event for the submitting key's callback URL, if it has one."""
        assert batch.api_key_id is not None
        callback = api_keys.callback_of(txn, self._keyring, batch.api_key_id)
        record = idempotency.lookup(txn, self._keyring, batch.scope, f"bulk:{batch.file_id}")
        if callback is None or record is None:
            return
        payload = json.dumps(
            {
                "event": "bulk.completed",
                "batch_id": batch.id,
                "file_id": batch.file_id,
                "total": batch.total,
                "counts": status.counts,
            },
            sort_keys=True,
        )
        webhooks.enqueue(
            txn,
            api_key_id=batch.api_key_id,
            request_pk=record.request_pk,
            event="bulk.completed",
            url=callback.url,
            payload=payload,
            now=now,
        )

    async def unfinished(self) -> list[int]:
        """Batches a stopped process left running (the composer resumes them)."""
        return await self._runner.run("bulk_unfinished", store.running)

    # --- queries ------------------------------------------------------------------------

    async def status(self, scope: str, batch_id: int) -> BatchStatus:
        """Counts by state; rows still pending with a provider are brought up to date from
        their stored final answers first."""
        return await self._runner.run("bulk_status", self._status, scope, batch_id, self._clock())

    def _status(self, txn: Txn, scope: str, batch_id: int, now: datetime) -> BatchStatus:
        batch = store.get_batch(txn, batch_id, scope)
        for row in store.rows(txn, batch_id, state="pending"):
            record = idempotency.lookup(
                txn, self._keyring, batch.scope, f"bulk:{batch.file_id}:{row.row_no}"
            )
            if record is None or record.response is None:
                continue
            answer = read_answer(record.response)
            if answer.state != "pending":
                store.set_row(
                    txn,
                    batch_id,
                    row.row_no,
                    state=answer.state,
                    reason=answer.message if answer.state == "failed" else "",
                    reference=answer.reference,
                    operator_ref=answer.operator_ref,
                    now=now,
                )
        return _status(txn, batch)

    async def results(self, scope: str, batch_id: int) -> list[RowResult]:
        """Every row with its result; a sold voucher's serial and PIN from its stored
        answer (the only place the clear PIN is kept, encrypted)."""
        await self.status(scope, batch_id)
        return await self._runner.run("bulk_results", self._results, scope, batch_id)

    def _results(self, txn: Txn, scope: str, batch_id: int) -> list[RowResult]:
        batch = store.get_batch(txn, batch_id, scope)
        out = []
        for row in store.rows(txn, batch_id):
            serial = pin = ""
            if row.state == "sold" and not row.operator_ref:
                record = idempotency.lookup(
                    txn, self._keyring, batch.scope, f"bulk:{batch.file_id}:{row.row_no}"
                )
                if record is not None and record.response is not None:
                    answer = read_answer(record.response)
                    serial, pin = answer.serial, answer.pin
            out.append(
                RowResult(
                    row=row.row_no,
                    product=row.product,
                    target=row.target,
                    amount=row.amount,
                    ref=row.ref,
                    state=row.state,
                    reason=row.reason,
                    reference=row.reference,
                    operator_ref=row.operator_ref,
                    serial=serial,
                    pin=pin,
                )
            )
        return out


__all__ = ["BatchStatus", "BulkSales", "RowResult", "Spawn", "row_key"]
