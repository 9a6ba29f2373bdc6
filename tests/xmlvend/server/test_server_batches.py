"""Vendor batches end to end (startBatch, totalBatch, endBatch, reprintEndBatch) on SQLite
and PostgreSQL: totals agree with the ledger, faults write nothing, replays are exact."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from server_support import (
    CAFE,
    NORMAL_METER,
    World,
    advice,
    assert_strictly_valid,
    credit_vend,
    voucher_vend,
)
from sqlalchemy import func, select

from vending.batches import vendor_batches
from vending.storage.schema import ledger_entries, requests, transfers, vendors
from xmlvend.codec import types_base as b
from xmlvend.codec import types_revenue as r


def _count(world: World, table) -> int:  # type: ignore[no-untyped-def]
    return world.database.run_txn(
        "test_count", lambda txn: txn.execute(select(func.count()).select_from(table)).scalar()
    )


def _ledger_movement(world: World, since) -> Decimal:  # type: ignore[no-untyped-def]
    """The vendor account's ledger movement from ``since`` on, straight from the entries."""

    def load(txn):  # type: ignore[no-untyped-def]
        return txn.execute(
            select(func.coalesce(func.sum(ledger_entries.c.amount), 0))
            .select_from(ledger_entries)
            .join(transfers, transfers.c.id == ledger_entries.c.transfer_id)
            .join(vendors, vendors.c.account_id == ledger_entries.c.account_id)
            .where(vendors.c.client_id == CAFE, transfers.c.created_at >= since)
        ).scalar()

    return Decimal(world.database.run_txn("test_ledger", load)) / 100


def _call_ok(world: World, request: b.BaseReq):  # type: ignore[no-untyped-def]
    response = world.call(request)
    assert response.status == 200, response.body
    assert_strictly_valid(response.body)
    return response


def test_shift_batch_totals_equal_the_ledger(world: World) -> None:
    started_at = world.clock.now
    balance_before = world.balance()
    start = _call_ok(world, r.StartShiftBatchReq(header=world.header()))
    started = start.parsed().started_batch
    assert isinstance(started, r.ShiftStartBatch)
    assert started.seq_no == "1"

    world.clock.advance(5)
    _call_ok(world, credit_vend(world.header(), NORMAL_METER, "100.00"))
    world.clock.advance(5)
    sale = voucher_vend(world.header())
    _call_ok(world, sale)
    world.clock.advance(5)
    reversal = world.call(advice(b.ReversalAdviceReq, world.header(), sale.header.msg_id))
    assert reversal.parsed().tx_reversed is True
    world.clock.advance(5)

    total = _call_ok(world, r.TotalShiftBatchReq(header=world.header())).parsed()
    (running,) = total.total_batch
    assert isinstance(running, r.ShiftBatch)
    assert running.batch_tot == b.Currency(value=Decimal("100.00"), symbol="ZAR")
    descs = {t.desc: t.amt.value for t in running.batch_report.tx_total}
    assert descs == {"Sales (2)": Decimal("110.00"), "Reversals (1)": Decimal("10.00")}
    assert [(o.op_name, o.amt.value) for o in running.batch_report.operator_total] == [
        ("cashier1", Decimal("100.00"))
    ]

    world.clock.advance(5)
    end = _call_ok(world, r.EndShiftBatchReq(header=world.header()))
    closed = end.parsed().end_batch
    assert isinstance(closed, r.ShiftBatch)
    assert closed.seq_no == "1"
    assert closed.batch_tot.value == Decimal("100.00")
    # The batch total is the price of what was sold less what was reversed; what it cost
    # the vendor (price - commission: 2% on electricity, the voucher refunded in full) is
    # exactly the ledger's movement on the vendor's account over the batch.
    movement = _ledger_movement(world, started_at)
    assert world.balance().to_decimal() - balance_before.to_decimal() == movement
    assert movement == Decimal("-98.00")

    # Closed: a running total is refused, the reprint returns the same figures.
    refused = world.call(r.TotalShiftBatchReq(header=world.header()))
    assert refused.status == 500
    assert refused.fault_class() == "CheckBatchTotalEx"
    reprint = _call_ok(world, r.ReprintEndShiftBatchReq(header=world.header())).parsed()
    again = reprint.end_batch_reprint.end_batch
    assert (again.seq_no, again.started, again.ended, again.batch_tot) == (
        closed.seq_no,
        closed.started,
        closed.ended,
        closed.batch_tot,
    )
    assert again.batch_report == closed.batch_report


def test_double_start_and_end_without_batch_write_nothing(world: World) -> None:
    _call_ok(world, r.StartSalesBatchReq(header=world.header()))
    batches_before, requests_before = _count(world, vendor_batches), _count(world, requests)

    twice = world.call(r.StartSalesBatchReq(header=world.header()))
    assert twice.status == 500
    assert twice.fault_class() == "StartBatchEx"
    assert_strictly_valid(twice.body)
    not_open = world.call(r.EndShiftBatchReq(header=world.header()))
    assert not_open.status == 500
    assert not_open.fault_class() == "EndBatchEx"
    # "all" needs all three open: refused too, and nothing of it is closed.
    all_ = world.call(r.EndAllBatchesReq(header=world.header()))
    assert all_.fault_class() == "EndBatchEx"
    none = world.call(r.ReprintEndBankingBatchReq(header=world.header()))
    assert none.fault_class() == "ReprintEndBatchEx"
    # Refused requests leave no trace: no batch, not even their request key.
    assert _count(world, vendor_batches) == batches_before
    assert _count(world, requests) == requests_before


def test_replay_returns_the_same_bytes(world: World) -> None:
    start = r.StartShiftBatchReq(header=world.header())
    first = _call_ok(world, start)
    world.clock.advance(60)
    assert world.call(start).body == first.body
    end = r.EndShiftBatchReq(header=world.header())
    ended = _call_ok(world, end)
    world.clock.advance(60)
    assert world.call(end).body == ended.body
    total = r.TotalShiftBatchReq(header=world.header())
    refused = world.call(total)
    assert refused.fault_class() == "CheckBatchTotalEx"


def test_all_batches_nest_and_sequence_numbers_count_up(world: World) -> None:
    first = _call_ok(world, r.StartAllBatchesReq(header=world.header())).parsed()
    bank = first.started_batch
    assert isinstance(bank, r.BankStartBatch)
    assert bank.sales_start_batch[0].shift_start_batch[0].seq_no == "1"
    world.clock.advance(5)
    _call_ok(world, credit_vend(world.header(), NORMAL_METER, "50.00"))
    world.clock.advance(5)
    # A shift inside the open sales and banking batches.
    _call_ok(world, r.EndShiftBatchReq(header=world.header()))
    second = _call_ok(world, r.StartShiftBatchReq(header=world.header())).parsed()
    assert second.started_batch.seq_no == "2"
    totals = _call_ok(world, r.TotalAllBatchesReq(header=world.header())).parsed()
    assert [type(t).__name__ for t in totals.total_batch] == [
        "BankBatch",
        "SalesBatch",
        "ShiftBatch",
    ]
    assert [t.batch_tot.value for t in totals.total_batch] == [
        Decimal("50.00"),
        Decimal("50.00"),
        Decimal("0.00"),
    ]
    world.clock.advance(5)
    ended = _call_ok(world, r.EndAllBatchesReq(header=world.header())).parsed().end_batch
    assert isinstance(ended, r.BankBatch)
    sales = ended.sales_batch[0]
    assert sales.batch_tot.value == Decimal("50.00")
    assert sales.shift_batch[0].seq_no == "2"
    # Reprint by number, and another terminal has batches of its own.
    reprint = _call_ok(world, r.ReprintEndShiftBatchReq(header=world.header(), seq_no="1")).parsed()
    assert reprint.end_batch_reprint.end_batch.batch_tot.value == Decimal("50.00")
    other = dataclasses.replace(world.header(), terminal_id=b.GenericDeviceID(id="2"))
    assert world.call(r.EndShiftBatchReq(header=other)).fault_class() == "EndBatchEx"
    _call_ok(world, r.StartShiftBatchReq(header=other))
