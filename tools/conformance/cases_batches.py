"""Vendor batches (startBatchReq, totalBatchReq, endBatchReq, reprintEndBatchReq): one happy
path and the batch state faults. Each case speaks from a terminalID of its own, so that the
batches it opens cannot meet those of an earlier run or another case (a server may keep
batches per vendor only; then the first case's leftovers show as faults here)."""

from __future__ import annotations

import dataclasses
import secrets

from tools.conformance import steps
from tools.conformance.checks import check, expect_fault, expect_response, parse_xs_datetime
from tools.conformance.session import Session
from xmlvend.codec.types_base import GenericDeviceID, RequestHeader
from xmlvend.codec.types_revenue import (
    EndBatchResp,
    EndShiftBatchReq,
    ReprintEndBatchResp,
    ReprintEndShiftBatchReq,
    ShiftBatch,
    ShiftStartBatch,
    StartBatchResp,
    StartShiftBatchReq,
    TotalBatchResp,
    TotalShiftBatchReq,
)


def _terminal(s: Session) -> tuple[str, RequestHeader]:
    terminal = f"CK-{secrets.token_hex(4)}"
    return terminal, _header(s, terminal)


def _header(s: Session, terminal: str) -> RequestHeader:
    return dataclasses.replace(s.header(), terminal_id=GenericDeviceID(id=terminal))


def shift_batch(s: Session) -> str:
    terminal, header = _terminal(s)
    reply = s.exchange(StartShiftBatchReq(header=header), label="startBatchReq StartShift")
    started = expect_response(reply, StartBatchResp, what="start").started_batch
    check(isinstance(started, ShiftStartBatch), f"startedBatch is {type(started).__name__}")
    parse_xs_datetime(started.started)
    seq_no = started.seq_no  # type: ignore[attr-defined]
    amount = s.profile.amount
    for n in (1, 2):
        steps.vend(s, header=_header(s, terminal), label=f"creditVendReq {n} in the batch")
    expected = amount * 2
    reply = s.exchange(
        TotalShiftBatchReq(header=_header(s, terminal)), label="totalBatchReq TotalShift"
    )
    totals = expect_response(reply, TotalBatchResp, what="total").total_batch
    check(len(totals) == 1, f"{len(totals)} totalBatch for one open shift batch")
    running = totals[0]
    check(isinstance(running, ShiftBatch), f"totalBatch is {type(running).__name__}")
    check(running.batch_tot.symbol == s.profile.currency, f"symbol {running.batch_tot.symbol}")
    check(
        running.batch_tot.value == expected,
        f"running batchTot {running.batch_tot.value} after two sales of {amount}",
    )
    reply = s.exchange(EndShiftBatchReq(header=_header(s, terminal)), label="endBatchReq EndShift")
    closed = expect_response(reply, EndBatchResp, what="end").end_batch
    check(isinstance(closed, ShiftBatch), f"endBatch is {type(closed).__name__}")
    check(closed.seq_no == seq_no, f"ended shift {closed.seq_no}, started {seq_no}")  # type: ignore[attr-defined]
    check(closed.batch_tot.value == expected, f"closing batchTot {closed.batch_tot.value}")
    check(
        parse_xs_datetime(closed.ended) >= parse_xs_datetime(closed.started),
        "the batch ended before it started",
    )
    reply = s.exchange(
        ReprintEndShiftBatchReq(header=_header(s, terminal)), label="reprintEndBatchReq"
    )
    reprint = expect_response(reply, ReprintEndBatchResp, what="reprint").end_batch_reprint
    again = reprint.end_batch
    check(
        (getattr(again, "seq_no", None), again.batch_tot.value) == (seq_no, expected),
        f"the reprint shows shift {getattr(again, 'seq_no', None)} "
        f"total {again.batch_tot.value}, closed were {seq_no} {expected}",
    )
    return f"shift {seq_no} at terminal {terminal}: {expected} {s.profile.currency}"


def batch_started_twice(s: Session) -> str:
    terminal, header = _terminal(s)
    reply = s.exchange(StartShiftBatchReq(header=header), label="startBatchReq StartShift")
    expect_response(reply, StartBatchResp, what="first start")
    again = s.exchange(
        StartShiftBatchReq(header=_header(s, terminal)), label="startBatchReq StartShift (again)"
    )
    found = expect_fault(again, {"StartBatchEx"}, what="a shift batch is open already")
    reply = s.exchange(EndShiftBatchReq(header=_header(s, terminal)), label="endBatchReq EndShift")
    expect_response(reply, EndBatchResp, what="end after the refused start")
    return found


def no_batch_open(s: Session) -> str:
    terminal, header = _terminal(s)
    found = [
        expect_fault(
            s.exchange(EndShiftBatchReq(header=header), label="endBatchReq EndShift"),
            {"EndBatchEx"},
            what="no shift batch is open to end",
        ),
        expect_fault(
            s.exchange(
                TotalShiftBatchReq(header=_header(s, terminal)), label="totalBatchReq TotalShift"
            ),
            {"CheckBatchTotalEx"},
            what="no shift batch is open to total",
        ),
        expect_fault(
            s.exchange(
                ReprintEndShiftBatchReq(header=_header(s, terminal)), label="reprintEndBatchReq"
            ),
            {"ReprintEndBatchEx"},
            what="no shift batch was ever closed",
        ),
    ]
    return ", ".join(found)


__all__ = ["batch_started_twice", "no_batch_open", "shift_batch"]
