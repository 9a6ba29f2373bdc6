"""Vendor batches of a terminal (banking, sales, shift): start, end, running totals and
reprints of closed ones (:mod:`vending.batches` holds the rules and the totals from the
ledger). Start and end change state through the one idempotency path; totals and reprints
are read-only (the channel keeps their answer under the key afterwards)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from vending import batches
from vending.auth import Principal, revalidate
from vending.batches import BatchReport, VendorBatch
from vending.keyring import Keyring
from vending.requests import Claim, Processed
from vending.services import idempotency
from vending.services.context import RequestContext, TxnRunner
from vending.services.rendering import ChannelRenderer
from vending.services.results import Outcome
from vending.storage.database import Txn


@dataclass(frozen=True)
class BatchChange:
    """Start or end the terminal's batches of ``kinds`` (outermost first)."""

    ctx: RequestContext
    kinds: tuple[str, ...]


@dataclass(frozen=True)
class BatchTotalsRequest:
    principal: Principal
    terminal_id: str
    kinds: tuple[str, ...]
    now: datetime


@dataclass(frozen=True)
class BatchReprintRequest:
    principal: Principal
    terminal_id: str
    kind: str
    # None: the last closed batch of that kind.
    seq_no: int | None = None


class Batches:
    def __init__(self, runner: TxnRunner, keyring: Keyring) -> None:
        self._runner = runner
        self._keyring = keyring

    async def start(self, request: BatchChange, renderer: ChannelRenderer) -> Outcome:
        processed = await self._runner.run("start_batch", self._start, request, renderer)
        return Outcome.of(processed)

    async def end(self, request: BatchChange, renderer: ChannelRenderer) -> Outcome:
        processed = await self._runner.run("end_batch", self._end, request, renderer)
        return Outcome.of(processed)

    async def totals(self, request: BatchTotalsRequest) -> list[BatchReport]:
        """Running totals of the terminal's open batches (they stay open)."""
        return await self._runner.run("total_batch", self._totals, request)

    async def reprint(self, request: BatchReprintRequest) -> BatchReport:
        """A closed batch with the totals kept when it was closed."""
        return await self._runner.run("reprint_end_batch", self._reprint, request)

    # --- transaction functions --------------------------------------------------------------

    def _start(self, txn: Txn, request: BatchChange, renderer: ChannelRenderer) -> Processed:
        ctx = request.ctx
        principal, now = ctx.principal, ctx.received_at

        def start(txn: Txn, claim: Claim) -> list[VendorBatch]:
            return batches.start_batches(
                txn,
                vendor_id=principal.vendor_id,
                terminal_id=ctx.terminal_id,
                currency=principal.currency,
                kinds=request.kinds,
                now=now,
                request_pk=claim.request_pk,
            )

        return idempotency.run_once(
            txn,
            self._keyring,
            ctx.key,
            principal,
            start,
            lambda started: renderer.batches_started(ctx.request, started),
            now=now,
        )

    def _end(self, txn: Txn, request: BatchChange, renderer: ChannelRenderer) -> Processed:
        ctx = request.ctx
        principal, now = ctx.principal, ctx.received_at

        def end(txn: Txn, claim: Claim) -> list[BatchReport]:
            return batches.end_batches(
                txn,
                vendor_id=principal.vendor_id,
                account_id=principal.account_id,
                terminal_id=ctx.terminal_id,
                kinds=request.kinds,
                now=now,
                request_pk=claim.request_pk,
            )

        return idempotency.run_once(
            txn,
            self._keyring,
            ctx.key,
            principal,
            end,
            lambda closed: renderer.batches_ended(ctx.request, closed),
            now=now,
        )

    @staticmethod
    def _totals(txn: Txn, request: BatchTotalsRequest) -> list[BatchReport]:
        principal = request.principal
        revalidate(txn, principal)
        return batches.batch_totals(
            txn,
            vendor_id=principal.vendor_id,
            account_id=principal.account_id,
            terminal_id=request.terminal_id,
            kinds=request.kinds,
            now=request.now,
        )

    @staticmethod
    def _reprint(txn: Txn, request: BatchReprintRequest) -> BatchReport:
        principal = request.principal
        revalidate(txn, principal)
        return batches.reprint_batch(
            txn,
            vendor_id=principal.vendor_id,
            account_id=principal.account_id,
            terminal_id=request.terminal_id,
            kind=request.kind,
            seq_no=request.seq_no,
        )


__all__ = ["BatchChange", "BatchReprintRequest", "BatchTotalsRequest", "Batches"]
