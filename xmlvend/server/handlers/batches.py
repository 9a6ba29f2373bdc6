"""Vendor batches (reference §2.6): startBatchReq, endBatchReq, totalBatchReq and
reprintEndBatchReq, for the banking, sales and shift batches of the requesting terminal
(batches are per vendor *and* terminal: :mod:`vending.batches`).

* start: opens the batch (``StartBatchEx`` when one of that kind is open); the "all"
  subtype opens the three, answered as a banking batch nesting the sales and shift batch.
* total: running totals of the open batch(es), which stay open (``CheckBatchTotalEx`` when
  none is open); the "all" subtype reports every open one.
* end: closes the batch and answers its slip (``EndBatchEx`` when it is not open); the
  "all" subtype needs all three open and answers them nested.
* reprint: a closed batch's slip again, with the totals kept when it was closed; without
  ``seqNo`` the last closed one (``ReprintEndBatchEx`` when there is none).

Start and end change state (:mod:`vending.services.batches`, the one idempotency path): the
request key is claimed first and the answer stored with the change. Totals and reprints are
read-only (their answer is kept under the key after). Answers are rendered by
:mod:`xmlvend.server.render_batches`.
"""

from __future__ import annotations

from vending import batches
from vending.services.batches import BatchChange, BatchReprintRequest, BatchTotalsRequest
from xmlvend.codec import types_revenue as r
from xmlvend.server.handlers.base import Call, Reply, Services
from xmlvend.server.render_batches import render_reprint, render_totals

_WHICH: dict[type, str] = {
    r.StartBankBatchReq: "bank",
    r.StartSalesBatchReq: "sales",
    r.StartShiftBatchReq: "shift",
    r.StartAllBatchesReq: "all",
    r.EndBankBatchReq: "bank",
    r.EndSalesBatchReq: "sales",
    r.EndShiftBatchReq: "shift",
    r.EndAllBatchesReq: "all",
    r.TotalBankBatchReq: "bank",
    r.TotalSalesBatchReq: "sales",
    r.TotalShiftBatchReq: "shift",
    r.TotalAllBatchesReq: "all",
    r.ReprintEndBankingBatchReq: "bank",
    r.ReprintEndSalesBatchReq: "sales",
    r.ReprintEndShiftBatchReq: "shift",
}


def kinds_requested(request: object) -> tuple[str, ...]:
    """The batch kinds a request's xsi:type names (outermost first)."""
    for klass in type(request).__mro__:
        which = _WHICH.get(klass)
        if which is not None:
            return batches.kinds_of(which)
    raise TypeError(f"{type(request).__name__} names no batch kind")


# --- handlers -------------------------------------------------------------------------------


async def start_batch(services: Services, call: Call) -> Reply:
    request = call.request
    assert isinstance(request, r.StartBatchReq)
    outcome = await services.app.batches.start(
        BatchChange(call.context(), kinds_requested(request)), services.renderer
    )
    return Reply.of(outcome)


async def end_batch(services: Services, call: Call) -> Reply:
    request = call.request
    assert isinstance(request, r.EndBatchReq)
    outcome = await services.app.batches.end(
        BatchChange(call.context(), kinds_requested(request)), services.renderer
    )
    return Reply.of(outcome)


async def total_batch(services: Services, call: Call) -> Reply:
    request = call.request
    assert isinstance(request, r.TotalBatchReq)
    reports = await services.app.batches.totals(
        BatchTotalsRequest(call.who, call.terminal_id, kinds_requested(request), call.received_at)
    )
    return Reply(render_totals(services.renderer, request, reports))


async def reprint_end_batch(services: Services, call: Call) -> Reply:
    request = call.request
    assert isinstance(request, r.ReprintEndBatchReq)
    (kind,) = kinds_requested(request)
    wanted = getattr(request, "seq_no", None)
    seq_no = None
    if wanted is not None:
        text = wanted.strip()
        if not (text.isascii() and text.isdigit() and len(text) <= 9):
            raise batches.UnknownBatch(f"no {kind} batch {text} for terminal {call.terminal_id}")
        seq_no = int(text)
    report = await services.app.batches.reprint(
        BatchReprintRequest(call.who, call.terminal_id, kind, seq_no)
    )
    return Reply(render_reprint(services.renderer, request, report))
