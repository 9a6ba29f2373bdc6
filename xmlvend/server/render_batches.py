"""XMLVend answers of vendor batches (start, end, totals, reprint): rendered from the
batch reports :mod:`vending.services.batches` gives (totals from the ledger)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from vending.batches import BatchReport, VendorBatch
from xmlvend.codec import render_response
from xmlvend.codec import types_revenue as r
from xmlvend.server.convert import currency, fit
from xmlvend.server.renderer import convert_datetime

if TYPE_CHECKING:
    from xmlvend.server.renderer import XMLVendRenderer

_TITLE = {"bank": "Banking", "sales": "Sales", "shift": "Shift"}


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
    renderer: XMLVendRenderer, request: r.StartBatchReq, started: Sequence[VendorBatch]
) -> bytes:
    header = renderer.header(
        request, disp_header="Start Batch", operator_msg=fit(f"Started {_names(started)}")
    )
    response = r.StartBatchResp(header=header, started_batch=_start_batch(started))
    return render_response(response, soap_version=request.soap_version)


def render_ended(
    renderer: XMLVendRenderer, request: r.EndBatchReq, closed: Sequence[BatchReport]
) -> bytes:
    net = closed[0].totals.net
    header = renderer.header(
        request,
        disp_header="End Batch",
        operator_msg=fit(f"Ended {_names([c.batch for c in closed])}: total {net}"),
    )
    response = r.EndBatchResp(header=header, end_batch=nested_batch(closed))
    return render_response(response, soap_version=request.soap_version)


def render_totals(
    renderer: XMLVendRenderer, request: r.TotalBatchReq, reports: Sequence[BatchReport]
) -> bytes:
    header = renderer.header(
        request,
        disp_header="Batch Totals",
        operator_msg=fit(f"Running totals of {_names([c.batch for c in reports])} (still open)"),
    )
    response = r.TotalBatchResp(
        header=header, total_batch=tuple(_batch(report) for report in reports)
    )
    return render_response(response, soap_version=request.soap_version)


def render_reprint(
    renderer: XMLVendRenderer, request: r.ReprintEndBatchReq, report: BatchReport
) -> bytes:
    header = renderer.header(
        request,
        disp_header="Batch Reprint",
        operator_msg=fit(f"Reprint of {_names([report.batch])}"),
    )
    slip = r.EndBatchResp(header=header, end_batch=_batch(report))
    response = r.ReprintEndBatchResp(header=header, end_batch_reprint=slip)
    return render_response(response, soap_version=request.soap_version)
