"""Low-stock alerts once per crossing, expiring-soon alerts once per batch, stock levels
and the per-batch reconciliation's arithmetic."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fixed_clock import NOW, TODAY
from sqlalchemy import select
from voucher_support import SUPPLIER, THRESHOLD, StockWorld, zar

from vending.storage.schema import notifications
from vending.vouchers import alerts, reports
from vending.vouchers.quarantine import quarantine_vouchers


def _notifications(world: StockWorld, kind: str) -> list[dict]:  # type: ignore[type-arg]
    return world.db.run_txn(
        "notifications",
        lambda txn: [
            row.payload
            for row in txn.execute(
                select(notifications.c.payload)
                .where(notifications.c.kind == kind)
                .order_by(notifications.c.id)
            )
        ],
    )


def test_low_stock_is_raised_once_per_crossing(
    world: StockWorld, caplog: pytest.LogCaptureFixture
) -> None:
    world.import_rows(world.rows(THRESHOLD + 3))
    for _ in range(2):
        world.sell()
    assert _notifications(world, alerts.LOW_STOCK) == []  # 4 left, threshold 3
    with caplog.at_level("WARNING", logger="evd.notifications"):
        world.sell()  # 3 left: crossed
    assert _notifications(world, alerts.LOW_STOCK) == [
        {"product": "AIR-10", "remaining": THRESHOLD, "threshold": THRESHOLD}
    ]
    assert any("stock.low" in record.getMessage() for record in caplog.records)
    world.sell()
    world.sell()  # still low: no new alert
    assert len(_notifications(world, alerts.LOW_STOCK)) == 1
    world.import_rows(world.rows(5))  # 6 left: back above, re-armed
    for _ in range(3):
        world.sell()
    assert [n["remaining"] for n in _notifications(world, alerts.LOW_STOCK)] == [3, 3]


def test_threshold_change_applies_at_once(world: StockWorld) -> None:
    world.import_rows(world.rows(10, "AIR-30"))
    world.db.run_txn("threshold", alerts.set_threshold, "AIR-30", 10, actor="test", now=NOW)
    assert _notifications(world, alerts.LOW_STOCK)[-1]["product"] == "AIR-30"


def test_expiring_batches_alert_once(world: StockWorld) -> None:
    world.import_rows(world.rows(2, expiry=TODAY + timedelta(days=10)))
    world.import_rows(world.rows(2, "AIR-30", expiry=TODAY + timedelta(days=100)))
    soon = world.db.run_txn("expiring", alerts.expiring_batches, days=30, today=TODAY)
    assert [(b.product_code, b.count) for b in soon] == [("AIR-10", 2)]
    for _ in range(2):
        world.db.run_txn("alerts", alerts.raise_expiring_alerts, days=30, today=TODAY, now=NOW)
    assert [n["product"] for n in _notifications(world, alerts.EXPIRING_SOON)] == ["AIR-10"]


def test_levels_and_batch_reconciliation_add_up(world: StockWorld) -> None:
    air10 = world.rows(10, expiry=TODAY + timedelta(days=100), batch_size=5)
    air30 = world.rows(4, "AIR-30", expiry=TODAY + timedelta(days=10))
    world.import_rows(air10)
    world.import_rows(air30)
    sales = [world.sell() for _ in range(6)]  # batch 1: 5, batch 2: 1 (earliest expiry first)
    world.reverse(sales[0].sale.id)
    world.reverse(sales[1].sale.id)
    world.db.run_txn(
        "quarantine",
        quarantine_vouchers,
        supplier_code=SUPPLIER,
        serials=[air10[9].serial_number],
        reason="reported stolen",
        actor="test",
        now=NOW,
    )
    later = TODAY + timedelta(days=20)  # the AIR-30 batch has expired by then
    lines = world.db.run_txn("report", reports.batch_reconciliation, today=later)
    counts = [
        (r.product_code, r.imported, r.sold, r.reversed, r.quarantined, r.expired, r.remaining)
        for r in lines
    ]
    assert counts == [
        ("AIR-10", 5, 3, 2, 2, 0, 0),
        ("AIR-10", 5, 1, 0, 1, 0, 3),
        ("AIR-30", 4, 0, 0, 0, 4, 0),
    ]
    assert all(r.balanced for r in lines)
    second = lines[1]
    assert second.at_face(second.remaining) == zar("30.00")
    assert second.at_cost(second.remaining) == zar("28.20")
    assert lines[0].at_face(lines[0].sold) == zar("30.00")
    assert lines[2].at_cost(lines[2].expired) == zar("112.80")

    levels = {
        level.product_code: level
        for level in world.db.run_txn("levels", reports.stock_levels, today=later, expiring_days=90)
    }
    air10_level, air30_level = levels["AIR-10"], levels["AIR-30"]
    assert (air10_level.sellable, air10_level.quarantined, air10_level.sold) == (3, 3, 4)
    assert air10_level.expiring_soon == 3 and air10_level.low  # 3 <= threshold 3
    assert (air30_level.sellable, air30_level.expired) == (0, 4)
    assert levels["DATA-1GB"].sellable == 0


def test_quarantining_a_batch_withdraws_its_available_vouchers(world: StockWorld) -> None:
    rows = world.rows(6, batch_size=3)
    world.import_rows(rows)
    world.sell()
    count = world.db.run_txn(
        "quarantine",
        quarantine_vouchers,
        supplier_code=SUPPLIER,
        batch_no=rows[0].batch_number,
        reason="supplier recalled the batch",
        actor="test",
        now=NOW,
    )
    assert count == 2  # one of its three was sold already
    assert [world.sell().voucher.serial_no for _ in range(3)] == [
        row.serial_number for row in rows[3:]
    ]
