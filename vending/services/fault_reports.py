"""Customer fault reports logged through a vendor's terminal (any channel): recorded under
the request key in the transaction that stores the answer (``renderer.fault_logged`` with
the reference number the customer quotes); a re-sent request gets the same answer."""

from __future__ import annotations

from dataclasses import dataclass

from utilities.faults.reports import FaultReport, report_fault_once
from vending.keyring import Keyring
from vending.requests import Processed
from vending.services.context import Clock, RequestContext, TxnRunner
from vending.services.rendering import ChannelRenderer
from vending.services.results import Outcome
from vending.storage.database import Txn


@dataclass(frozen=True)
class FaultReportRequest:
    ctx: RequestContext
    report: FaultReport


class FaultReports:
    def __init__(self, runner: TxnRunner, keyring: Keyring, clock: Clock) -> None:
        self._runner = runner
        self._keyring = keyring
        self._clock = clock

    async def report(self, request: FaultReportRequest, renderer: ChannelRenderer) -> Outcome:
        processed = await self._runner.run("report_fault", self._report, request, renderer)
        return Outcome.of(processed)

    def _report(
        self, txn: Txn, request: FaultReportRequest, renderer: ChannelRenderer
    ) -> Processed:
        ctx = request.ctx
        return report_fault_once(
            txn,
            self._keyring,
            ctx.key,
            ctx.principal,
            request.report,
            terminal_id=ctx.terminal_id,
            render=lambda record: renderer.fault_logged(ctx.request, record.ref_no),
            now=self._clock(),
        )


__all__ = ["FaultReportRequest", "FaultReports"]
