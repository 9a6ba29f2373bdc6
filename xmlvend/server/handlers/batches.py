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

Start and end change state (:func:`vending.requests.change_once`): the request key is
claimed first and the answer stored with the change. Totals and reprints are read-only
(their answer is kept under the key after).
"""

from __future__ import annotations

from collections.abc import Sequence

from vending import batches
from vending.batches import BatchReport, VendorBatch
from vending.requests import StoredResponse, change_once
from vending.storage.database import Txn
from xmlvend.codec import render_response
from xmlvend.codec import types_revenue as r
from xmlvend.server import txns
from xmlvend.server.convert import currency, fit
from xmlvend.server.handlers.base import Call, Reply, Services
from xmlvend.server.renderer import convert_datetime

OK = 200

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

_TITLE = {"bank": "Banking", "sales": "Sales", "shift": "Shift"}


def kinds_requested(request: object) -> tuple[str, ...]:
    """The batch kinds a request's xsi:type names (outermost first)."""
    for klass in type(request).__mro__:
        which = _WHICH.get(klass)
        if which is not None:
            return batches.kinds_of(which)
    raise TypeError(f"{type(request).__name__} names no batch kind")


# --- rendering ------------------------------------------------------------------------------


def _op_name(name: str) -> str | None:
    """b:OpName is ``(\\S){1,10}``: names that cannot be shown so are left out."""
    cleaned = "".join(name.split())[:10]
    return cleaned or None


def _report(report: BatchReport) -> r.BatchReport:
    totals = report.totals
    tx_totals: list[r.TxTotal] = [
        r.NormalSaleTotal(desc=f"Sales ({totals.sale_count})", amt=currency(totals.sales))
    ]
    if totals.reversal_count:
        tx_totals.append(
            r.CancellationTotal(
                desc=f"Reversals ({totals.reversal_count})", amt=currency(totals.reversals)
            )
        )
    operator_totals = []
    for name, amount in totals.by_operator.items():
        op_name = _op_name(name)
        if op_name is not None:
            operator_totals.append(r.OperatorTotal(op_name=op_name, amt=currency(amount)))
    return r.BatchReport(tx_total=tuple(tx_totals), operator_total=tuple(operator_totals))


def _batch(report: BatchReport, inner: Sequence[r.Batch] = ()) -> r.Batch:
    batch = report.batch
    common = {
        "started": convert_datetime(batch.started_at),
        "ended": convert_datetime(report.ended_at),
        "batch_tot": currency(report.totals.net),
        "batch_report": _report(report),
        "seq_no": str(batch.seq_no),
    }
    if batch.kind == "bank":
        sales = tuple(b for b in inner if isinstance(b, r.SalesBatch))
        return r.BankBatch(sales_batch=sales, **common)
    if batch.kind == "sales":
        shifts = tuple(b for b in inner if isinstance(b, r.ShiftBatch))
        return r.SalesBatch(shift_batch=shifts, **common)
    return r.ShiftBatch(**common)


def nested_batch(reports: Sequence[BatchReport]) -> r.Batch:
    """One Batch for batches closed together (outermost first): each nests the next."""
    inner: tuple[r.Batch, ...] = ()
    for report in reversed(reports):
        inner = (_batch(report, inner),)
    return inner[0]


def _start_batch(started: Sequence[VendorBatch]) -> r.StartBatch:
    inner: tuple[r.StartBatch, ...] = ()
    for batch in reversed(started):
        common = {"started": convert_datetime(batch.started_at), "seq_no": str(batch.seq_no)}
        if batch.kind == "bank":
            sales = tuple(s for s in inner if isinstance(s, r.SalesStartBatch))
            inner = (r.BankStartBatch(sales_start_batch=sales, **common),)
        elif batch.kind == "sales":
            shifts = tuple(s for s in inner if isinstance(s, r.ShiftStartBatch))
            inner = (r.SalesStartBatch(shift_start_batch=shifts, **common),)
        else:
            inner = (r.ShiftStartBatch(**common),)
    return inner[0]


def _names(batches_: Sequence[VendorBatch]) -> str:
    return ", ".join(f"{_TITLE[b.kind].lower()} batch {b.seq_no}" for b in batches_)


def render_started(
    services: Services, request: r.StartBatchReq, started: Sequence[VendorBatch]
) -> bytes:
    header = services.renderer.header(
        request, disp_header="Start Batch", operator_msg=fit(f"Started {_names(started)}")
    )
    response = r.StartBatchResp(header=header, started_batch=_start_batch(started))
    return render_response(response, soap_version=request.soap_version)


def render_ended(
    services: Services, request: r.EndBatchReq, closed: Sequence[BatchReport]
) -> bytes:
    net = closed[0].totals.net
    header = services.renderer.header(
        request,
        disp_header="End Batch",
        operator_msg=fit(f"Ended {_names([c.batch for c in closed])}: total {net}"),
    )
    response = r.EndBatchResp(header=header, end_batch=nested_batch(closed))
    return render_response(response, soap_version=request.soap_version)


def render_totals(
    services: Services, request: r.TotalBatchReq, reports: Sequence[BatchReport]
) -> bytes:
    header = services.renderer.header(
        request,
        disp_header="Batch Totals",
        operator_msg=fit(f"Running totals of {_names([c.batch for c in reports])} (still open)"),
    )
    response = r.TotalBatchResp(
        header=header, total_batch=tuple(_batch(report) for report in reports)
    )
    return render_response(response, soap_version=request.soap_version)


def render_reprint(services: Services, request: r.ReprintEndBatchReq, report: BatchReport) -> bytes:
    header = services.renderer.header(
        request,
        disp_header="Batch Reprint",
        operator_msg=fit(f"Reprint of {_names([report.batch])}"),
    )
    slip = r.EndBatchResp(header=header, end_batch=_batch(report))
    response = r.ReprintEndBatchResp(header=header, end_batch_reprint=slip)
    return render_response(response, soap_version=request.soap_version)


# --- handlers -------------------------------------------------------------------------------


async def start_batch(services: Services, call: Call) -> Reply:
    request = call.request
    assert isinstance(request, r.StartBatchReq)
    principal, kinds, now = call.who, kinds_requested(request), call.received_at

    def start(txn: Txn, request_pk: int) -> list[VendorBatch]:
        return batches.start_batches(
            txn,
            vendor_id=principal.vendor_id,
            terminal_id=call.terminal_id,
            currency=principal.currency,
            kinds=kinds,
            now=now,
            request_pk=request_pk,
        )

    def render(started: list[VendorBatch]) -> StoredResponse:
        return StoredResponse(render_started(services, request, started), OK)

    processed = await services.run(
        "xmlvend_start_batch",
        change_once,
        services.keyring,
        call.key,
        principal,
        start,
        render,
        now=now,
    )
    return Reply.of(processed)


async def end_batch(services: Services, call: Call) -> Reply:
    request = call.request
    assert isinstance(request, r.EndBatchReq)
    principal, kinds, now = call.who, kinds_requested(request), call.received_at

    def end(txn: Txn, request_pk: int) -> list[BatchReport]:
        return batches.end_batches(
            txn,
            vendor_id=principal.vendor_id,
            account_id=principal.account_id,
            terminal_id=call.terminal_id,
            kinds=kinds,
            now=now,
            request_pk=request_pk,
        )

    def render(closed: list[BatchReport]) -> StoredResponse:
        return StoredResponse(render_ended(services, request, closed), OK)

    processed = await services.run(
        "xmlvend_end_batch",
        change_once,
        services.keyring,
        call.key,
        principal,
        end,
        render,
        now=now,
    )
    return Reply.of(processed)


async def total_batch(services: Services, call: Call) -> Reply:
    request = call.request
    assert isinstance(request, r.TotalBatchReq)
    reports = await services.run(
        "xmlvend_total_batch",
        txns.batch_totals,
        call.who,
        call.terminal_id,
        kinds_requested(request),
        call.received_at,
    )
    return Reply(render_totals(services, request, reports))


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
    report = await services.run(
        "xmlvend_reprint_end_batch",
        txns.closed_batch_report,
        call.who,
        call.terminal_id,
        kind,
        seq_no,
    )
    return Reply(render_reprint(services, request, report))
