"""Selling PINs: exactly once, earliest expiry first, never expired; out of stock moves no
money; reversal quarantines the PIN until released; reprints; the ledger stays clean."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from fixed_clock import NOW, TODAY
from sqlalchemy import select
from voucher_support import SUPPLIER, StockWorld, zar

from vending.errors import AmountOutOfRange, OutOfStock, UnknownProduct
from vending.sales import get_sale
from vending.storage.schema import audit_log
from vending.vouchers.errors import VoucherStateError
from vending.vouchers.quarantine import release_vouchers
from vending.vouchers.selling import quote_voucher, reprint_voucher
from vending.vouchers.tables import vouchers


def test_a_sale_delivers_one_pin_and_moves_the_money(world: StockWorld) -> None:
    rows = world.rows(3, "DATA-1GB")
    world.import_rows(rows)
    before = world.vendor_balance()
    sold = world.sell("DATA-1GB", amount=zar("99.00"))
    issued = sold.voucher
    assert issued.pin in {row.pin for row in rows}
    assert issued.serial_no == rows[0].serial_number  # same expiry: first imported first
    assert issued.product_code == "DATA-1GB" and issued.network == "Acme Data"
    assert issued.batch_no == rows[0].batch_number
    assert issued.expiry == date.fromisoformat(rows[0].expiry_date)
    assert issued.instructions
    assert issued.pin not in repr(issued) and issued.pin not in repr(sold)
    # The vendor pays 99.00 less its 3% discount; the supplier is owed the cost price.
    assert sold.vendor_balance == before - zar("96.03") == world.vendor_balance()
    assert sold.sale.amount == zar("99.00") and sold.sale.cost == zar("94.00")
    assert sold.sale.details["serial_no"] == issued.serial_no
    assert world.count(vouchers, vouchers.c.state == "sold") == 1
    world.assert_ledger_clean()


def test_every_pin_is_sold_once_then_out_of_stock_moves_nothing(world: StockWorld) -> None:
    rows = world.rows(5)
    world.import_rows(rows)
    pins = [world.sell().voucher.pin for _ in range(5)]
    assert sorted(pins) == sorted(row.pin for row in rows)
    before, balance = world.stock_counts(), world.vendor_balance()
    with pytest.raises(OutOfStock, match="AIR-10 is out of stock"):
        world.sell()
    assert world.stock_counts() == before and world.vendor_balance() == balance
    world.assert_ledger_clean()


def test_earliest_expiry_first_and_expired_never_sold(world: StockWorld) -> None:
    late = world.rows(1, expiry=TODAY + timedelta(days=90))
    soon = world.rows(1, expiry=TODAY + timedelta(days=10))
    never, never_file = world.undated(1)
    world.import_rows(late)
    world.import_rows(soon)
    world.import_rows(never_file)
    # Sold 20 days from now: the 10-day voucher has expired and must not be sold.
    later = NOW + timedelta(days=20)
    assert world.sell(now=later).voucher.serial_no == late[0].serial_number
    assert world.sell(now=later).voucher.serial_no == never[0].serial_number  # no expiry: last
    with pytest.raises(OutOfStock):
        world.sell(now=later)
    assert world.count(vouchers, vouchers.c.state == "available") == 1


def test_today_earliest_expiry_wins(world: StockWorld) -> None:
    late = world.rows(2, expiry=TODAY + timedelta(days=200))
    soon = world.rows(2, expiry=TODAY + timedelta(days=30))
    world.import_rows(late)
    world.import_rows(soon)
    serials = [world.sell().voucher.serial_no for _ in range(4)]
    assert serials == [row.serial_number for row in soon + late]


def test_wrong_amount_and_wrong_product_are_refused_before_stock(world: StockWorld) -> None:
    world.import_rows(world.rows(1))
    before = world.stock_counts()
    with pytest.raises(AmountOutOfRange):
        world.sell(amount=zar("20.00"))
    with pytest.raises(UnknownProduct):
        world.sell("NOPE")
    assert world.stock_counts() == before


def test_quote_moves_nothing_and_reports_stock(world: StockWorld) -> None:
    world.import_rows(world.rows(1, "AIR-30"))

    def quote(txn, code):  # type: ignore[no-untyped-def]
        return quote_voucher(txn, product_code=code, amount=None, now=NOW)

    product, pricing, in_stock = world.db.run_txn("quote", quote, "AIR-30")
    assert product.code == "AIR-30" and in_stock
    assert pricing.price == zar("30.00") and pricing.commission == zar("0.90")
    assert pricing.supplier_share == zar("28.20")
    assert world.db.run_txn("quote", quote, "AIR-10")[2] is False
    assert world.count(vouchers, vouchers.c.state == "available") == 1


def test_reversal_quarantines_the_pin_for_good(world: StockWorld) -> None:
    """Issue 10 §3: a reversed sale's PIN went out in the sale's answer, so its buyer may
    still hold it: it is never released to stock, hence never resold."""
    rows = world.rows(1)
    world.import_rows(rows)
    balance = world.vendor_balance()
    sold = world.sell()
    reversed_sale = world.reverse(sold.sale.id)
    assert reversed_sale.state == "reversed" and world.vendor_balance() == balance
    assert world.reverse(sold.sale.id).reversal_transfer_id == reversed_sale.reversal_transfer_id
    assert world.count(vouchers, vouchers.c.state == "quarantined") == 1
    with pytest.raises(OutOfStock):  # never resold automatically
        world.sell()
    with pytest.raises(VoucherStateError):  # no reprint of a reversed sale's PIN
        world.db.run_txn("reprint", reprint_voucher, world.keyring, sold.sale.id, now=NOW)
    with pytest.raises(VoucherStateError, match="buyer may still hold the PIN"):
        _release(world, rows[0].serial_number)
    assert world.count(vouchers, vouchers.c.state == "quarantined") == 1
    with pytest.raises(OutOfStock):
        world.sell()
    reversed_count = world.db.run_txn(
        "count", lambda txn: txn.execute(select(vouchers.c.reversal_count)).scalar_one()
    )
    assert reversed_count == 1
    world.assert_ledger_clean()


def _release(world: StockWorld, serial: str) -> int:
    return world.db.run_txn(
        "release",
        release_vouchers,
        supplier_code=SUPPLIER,
        serials=[serial],
        reason="checked with the customer: PIN unused",
        actor="test",
        now=NOW,
    )


def test_reprint_returns_the_same_voucher_and_is_audited(world: StockWorld) -> None:
    world.import_rows(world.rows(2))
    sold = world.sell()
    again = world.db.run_txn(
        "reprint", reprint_voucher, world.keyring, sold.sale.id, actor="staff:alice", now=NOW
    )
    assert again == sold.voucher
    actions = world.db.run_txn(
        "audit",
        lambda txn: txn.execute(
            select(audit_log.c.actor).where(audit_log.c.action == "voucher.reprint")
        ).all(),
    )
    assert [row.actor for row in actions] == ["staff:alice"]
    # Showing the PIN again is a delivery (issue 10 §3): the reversal policy sees it.
    assert world.db.run_txn("sale", get_sale, sold.sale.id).reprint_count == 1


def test_many_sales_and_reversals_keep_the_ledger_clean(world: StockWorld) -> None:
    world.import_rows(world.rows(12, "AIR-10", "AIR-30", "DATA-1GB"))
    sales = [world.sell(code) for code in ("AIR-10", "AIR-30", "DATA-1GB") * 3]
    for sold in sales[::2]:
        world.reverse(sold.sale.id)
    world.assert_ledger_clean()
    assert world.count(vouchers, vouchers.c.state == "sold") == 4
    assert world.count(vouchers, vouchers.c.state == "quarantined") == 5
