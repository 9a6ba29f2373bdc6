"""Deferred credits (vending.ledger): the hot accounts every sale credits are updated as the
transaction's last statement. The ledger must stay exact under concurrency, running balances
must stay consistent, and a transaction that fails takes its deferred credits with it.
Deferred debits (where the caller asks: suspense, debited by every settlement) are checked
when applied, and a refused one fails the whole transaction."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fixed_clock import NOW
from sqlalchemy import event, select
from sqlalchemy.exc import DBAPIError
from vending_support import (
    SUPPLIER,
    UTILITY,
    VENDOR,
    add_vendor,
    assert_ledger_consistent,
    balance,
    build_world,
    claim,
    house,
    order_for,
    post_deferred_supply,
    run,
    sell,
    snapshot,
    transfer_legs,
)

from vending.accounts import set_credit_limit
from vending.errors import AccountBlocked, DeferredDebitRefused, InsufficientFunds
from vending.keyring import Keyring
from vending.ledger import Leg, PostedTransfer, post_transfer
from vending.money import Money
from vending.sales import hold_sale_paying_late, settle_sale
from vending.storage.database import Database, Txn, commits_with_last_statement
from vending.storage.schema import accounts, ledger_entries

THREADS = 8
SALES_PER_THREAD = 25


def _running_balances_consistent(db: Database, code: str) -> None:
    """Entry by entry (id order) each balance_after is the previous one plus the amount,
    and the last one is the account's balance."""

    def fetch(txn: Txn) -> tuple[list[tuple[int, int]], int]:
        account = txn.execute(
            select(accounts.c.id, accounts.c.balance).where(accounts.c.code == code)
        ).one()
        rows = txn.execute(
            select(ledger_entries.c.amount, ledger_entries.c.balance_after)
            .where(ledger_entries.c.account_id == account.id)
            .order_by(ledger_entries.c.id)
        ).all()
        return [(int(r.amount), int(r.balance_after)) for r in rows], int(account.balance)

    entries, final = db.run_txn("entries", fetch)
    running = 0
    for amount, after in entries:
        running += amount
        assert after == running
    assert running == final


def test_concurrent_sales_credit_hot_accounts_exactly(database: Database, keyring: Keyring) -> None:
    """8 vendors selling at once: supplier and revenue end exactly at the sum of their
    shares, every running balance is consistent, the ledger verifies."""
    db = database
    run(db, build_world)
    vendors = [f"C{i}" for i in range(THREADS)]
    for vendor in vendors:
        run(db, add_vendor, vendor, deposit="1000.00")
    supplier_before = balance(db, SUPPLIER)
    revenue_before = balance(db, house("revenue"))
    barrier = threading.Barrier(THREADS)

    def worker(i: int) -> int:
        barrier.wait(timeout=30)
        for n in range(SALES_PER_THREAD):
            db.run_txn(
                "sell",
                sell,
                keyring,
                "AIR10",
                request_id=f"r{i}-{n}",
                client_id=vendors[i],
            )
        return SALES_PER_THREAD

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        sold = sum(pool.map(worker, range(THREADS)))
    assert sold == THREADS * SALES_PER_THREAD
    # AIR10: R10.00, 6 % supplier discount -> supplier R9.40, 4 % merchant commission ->
    # margin R0.20 per sale.
    assert balance(db, SUPPLIER) - supplier_before == sold * 940
    assert balance(db, house("revenue")) - revenue_before == sold * 20
    for vendor in vendors:
        assert balance(db, f"vendor:{vendor}") == 100000 - SALES_PER_THREAD * 960
    for code in (SUPPLIER, house("revenue"), f"vendor:{vendors[0]}"):
        _running_balances_consistent(db, code)
    assert_ledger_consistent(db)


def test_sale_legs_keep_their_order(database: Database, keyring: Keyring) -> None:
    """The sale transfer's entries come in leg order, deferred ones included."""
    run(database, build_world)
    result = database.run_txn("sell", sell, keyring, "AIR10", request_id="r1")
    legs = transfer_legs(database, result.sale.transfer_id)
    assert [(code, role) for code, _amount, role in legs] == [
        (f"vendor:{VENDOR}", "commission"),
        (f"vendor:{VENDOR}", "sale"),
        (SUPPLIER, "supplier"),
        (house("revenue"), "margin"),
    ]
    assert sum(amount for _code, amount, _role in legs) == 0


def test_several_sales_in_one_transaction(database: Database, keyring: Keyring) -> None:
    """Credits deferred by several transfers of one transaction are summed per account,
    and each entry still carries its own running balance."""
    run(database, build_world)
    before = balance(database, SUPPLIER)

    def three_sales(txn: Txn) -> None:
        for n in range(3):
            sell(txn, keyring, "AIR10", request_id=f"r{n}")

    database.run_txn("three", three_sales)
    assert balance(database, SUPPLIER) - before == 3 * 940
    _running_balances_consistent(database, SUPPLIER)
    _running_balances_consistent(database, house("revenue"))
    assert_ledger_consistent(database)


def test_a_failing_transaction_takes_its_deferred_credits_along(
    database: Database, keyring: Keyring
) -> None:
    run(database, build_world)
    before = snapshot(database)

    def sell_then_fail(txn: Txn) -> None:
        sell(txn, keyring, "AIR10", request_id="r1")
        raise RuntimeError("the response could not be rendered")

    with pytest.raises(RuntimeError):
        database.run_txn("fail", sell_then_fail)
    assert snapshot(database) == before
    assert_ledger_consistent(database)


def test_deferred_balances_are_not_reported(pg_database: Database) -> None:
    """On PostgreSQL a deferred account's balance is unknown until the end of the
    transaction: the posted transfer reports the others only."""
    db = pg_database
    run(db, build_world)

    def post(txn: Txn) -> tuple[set[int], int]:
        posted, ids = post_deferred_supply(txn, 500)
        return set(posted.balances), ids[f"vendor:{VENDOR}"]

    reported, vendor_id = db.run_txn("post", post)
    assert reported == {vendor_id}
    assert balance(db, SUPPLIER) == 500
    assert_ledger_consistent(db)


def test_a_debit_is_never_deferred_unasked(pg_database: Database) -> None:
    """A debit of an account deferred for its credits is checked and applied at once."""
    db = pg_database
    run(db, build_world)
    posted, supplier_id, on_the_row = db.run_txn(
        "post", _refund_from_supplier, 500, deferral="defer"
    )
    assert len(posted.balances) == 2 and supplier_id in posted.balances
    assert on_the_row == -500
    assert balance(db, SUPPLIER) == -500
    assert_ledger_consistent(db)


def _refund_from_supplier(
    txn: Txn, amount: int, deferral: str = "defer_debits"
) -> tuple[PostedTransfer, int, int]:
    """The supplier pays vendor V1 back ``amount`` cents, the supplier named to
    ``post_transfer`` by ``deferral`` (``defer_debits``: its debit deferred); the transfer,
    the supplier's id and its balance on its row right after the posting."""
    ids = dict(txn.execute(select(accounts.c.code, accounts.c.id)).all())
    money = Money(amount, "ZAR")
    posted = post_transfer(
        txn,
        kind="test",
        legs=[Leg(ids[SUPPLIER], -money, "refund"), Leg(ids[f"vendor:{VENDOR}"], money, "refund")],
        description="test",
        created_by="test",
        now=NOW,
        **{deferral: (ids[SUPPLIER],)},
    )
    row = txn.execute(select(accounts.c.balance).where(accounts.c.id == ids[SUPPLIER]))
    return posted, ids[SUPPLIER], int(row.scalar_one())


def test_a_debit_is_deferred_where_asked(pg_database: Database) -> None:
    """The debit is not on the row until the end of the transaction, is not reported, and
    then lands with its entry's running balance."""
    db = pg_database
    run(db, build_world)
    posted, supplier_id, on_the_row = db.run_txn("post", _refund_from_supplier, 500)
    assert supplier_id not in posted.balances
    assert on_the_row == 0
    assert balance(db, SUPPLIER) == -500
    _running_balances_consistent(db, SUPPLIER)
    assert_ledger_consistent(db)


def _floor_at_zero(txn: Txn) -> None:
    supplier = txn.execute(select(accounts.c.id).where(accounts.c.code == SUPPLIER)).scalar_one()
    set_credit_limit(txn, supplier, Money(0, "ZAR"))


def _block_supplier(txn: Txn) -> None:
    txn.execute(accounts.update().where(accounts.c.code == SUPPLIER).values(blocked=True))


@pytest.mark.parametrize("merged", [False, True], ids=["own-statement", "with-commit"])
@pytest.mark.parametrize(
    ("setup", "error"),
    [(_floor_at_zero, InsufficientFunds), (_block_supplier, AccountBlocked)],
    ids=["over-limit", "blocked"],
)
def test_a_refused_deferred_debit_fails_the_transaction(
    pg_database: Database, merged: bool, setup: object, error: type[Exception]
) -> None:
    """Checked when applied, as an immediate debit is: over the limit or blocked, the whole
    transaction is rolled back -- with the ledger's own error where the legs go as their own
    statement, with the checked statement's where they ride with the COMMIT."""
    db = pg_database
    run(db, build_world)
    run(db, setup)  # type: ignore[arg-type]
    before = snapshot(db)

    def post(txn: Txn) -> None:
        _refund_from_supplier(txn, 500)

    fn = commits_with_last_statement(post) if merged else post
    expected = r"deferred ledger legs .* touched 0 rows, not 1" if merged else None
    with pytest.raises(Exception if merged else error, match=expected):
        db.run_txn("post", fn)
    assert snapshot(db) == before


def test_concurrent_holds_and_settlements_leave_suspense_exact(
    database: Database, keyring: Keyring
) -> None:
    """8 vendors holding and settling at once: every settlement's suspense debit (deferred
    on PostgreSQL) and every hold's credit land, suspense ends where it began, each running
    balance is consistent and nothing deadlocks."""
    db = database
    run(db, build_world)
    vendors = [f"S{i}" for i in range(THREADS)]
    for vendor in vendors:
        run(db, add_vendor, vendor, deposit="1000.00")
    suspense_before = balance(db, house("suspense"))
    barrier = threading.Barrier(THREADS)

    def worker(i: int) -> int:
        barrier.wait(timeout=30)
        for n in range(SALES_PER_THREAD // 2):
            held = db.run_txn(
                "hold",
                sell,
                keyring,
                "BILL",
                Money(2000, "ZAR"),
                request_id=f"h{i}-{n}",
                client_id=vendors[i],
                hold=True,
            )
            db.run_txn("settle", settle_sale, held.sale.id, now=NOW)
        return SALES_PER_THREAD // 2

    with ThreadPoolExecutor(THREADS) as pool:
        settled = sum(pool.map(worker, range(THREADS)))
    assert settled == THREADS * (SALES_PER_THREAD // 2)
    assert balance(db, house("suspense")) == suspense_before
    _running_balances_consistent(db, house("suspense"))
    _running_balances_consistent(db, house("fees"))
    assert_ledger_consistent(db)


def test_a_settlement_moves_the_hot_rows_at_the_end(
    pg_database: Database, keyring: Keyring
) -> None:
    """On PostgreSQL a settlement leaves suspense (debited) and the utility, revenue and fee
    accounts (credited) untouched until its transaction's end: no other settlement waits on
    those rows while it writes the rest."""
    db = pg_database
    run(db, build_world)
    held = run(db, sell, keyring, "BILL", Money(2000, "ZAR"), request_id="h1", hold=True)
    hot = (house("suspense"), UTILITY, house("revenue"), house("fees"))
    before = {code: balance(db, code) for code in hot}
    assert before[house("suspense")] > 0

    def settle(txn: Txn) -> dict[str, int]:
        settle_sale(txn, held.sale.id, now=NOW)
        rows = txn.execute(select(accounts.c.code, accounts.c.balance))
        return {row.code: int(row.balance) for row in rows if row.code in hot}

    assert db.run_txn("settle", settle) == before
    after = {code: balance(db, code) for code in hot}
    assert after[house("suspense")] == 0
    assert all(after[code] > before[code] for code in hot[1:])
    _running_balances_consistent(db, house("suspense"))
    assert_ledger_consistent(db)


def _hold_paying_late(txn: Txn, keyring: Keyring, request_id: str, amount: Money) -> None:
    claimed = claim(txn, keyring, request_id)
    order = order_for(txn, "BILL", amount)
    hold_sale_paying_late(txn, claimed, order, created_by="test", now=NOW)


def test_holds_paying_late_debit_the_vendor_at_the_end_before_the_hot_rows(
    pg_database: Database, keyring: Keyring
) -> None:
    """A bulk chunk's holds (vending.sales.hold_sale_paying_late): the vendor's row is
    untouched until the end of the transaction; then the vendor's debits go first, by a
    statement of their own, and suspense's credits after them (the global lock order:
    paying accounts before hot accounts)."""
    db = pg_database
    run(db, build_world)
    vendor = f"vendor:{VENDOR}"
    start = balance(db, vendor)
    ids: dict[str, int] = db.run_txn(
        "ids", lambda txn: dict(txn.execute(select(accounts.c.code, accounts.c.id)).all())
    )
    flushed: list[list[int]] = []

    def record(_c: object, _cur: object, statement: str, params: object, *_rest: object) -> None:
        if "WITH locked AS" in statement and isinstance(params, dict):
            flushed.append(list(params["ids"]))

    def two_holds(txn: Txn) -> int:
        for n in range(2):
            _hold_paying_late(txn, keyring, f"r{n}", Money(2000, "ZAR"))
        return int(
            txn.execute(select(accounts.c.balance).where(accounts.c.code == vendor)).scalar_one()
        )

    event.listen(db.engine, "after_cursor_execute", record)
    try:
        on_the_row = db.run_txn("holds", two_holds)
    finally:
        event.remove(db.engine, "after_cursor_execute", record)
    assert on_the_row == start
    assert flushed == [[ids[vendor]], [ids[house("suspense")]]]
    assert balance(db, vendor) < start
    _running_balances_consistent(db, vendor)
    _running_balances_consistent(db, house("suspense"))
    assert_ledger_consistent(db)


def test_holds_paying_late_that_do_not_fit_together_fail_whole(
    pg_database: Database, keyring: Keyring
) -> None:
    """Each of two R100.00 holds fits the vendor's R150.00 (balance and credit limit), both
    together do not: checked at the end, the transaction fails with InsufficientFunds and
    nothing is written (the bulk chunk then holds its rows one by one)."""
    db = pg_database
    run(db, build_world)
    before = snapshot(db)

    def two_holds(txn: Txn) -> None:
        for n in range(2):
            _hold_paying_late(txn, keyring, f"r{n}", Money(10000, "ZAR"))

    with pytest.raises(InsufficientFunds):
        db.run_txn("holds", two_holds)
    assert snapshot(db) == before
    run(db, _hold_paying_late, keyring, "r0", Money(10000, "ZAR"))
    assert_ledger_consistent(db)


def test_holds_paying_late_ride_with_a_merged_commit(
    pg_database: Database, keyring: Keyring, sent: list[str]
) -> None:
    """In a transaction that merges its COMMIT (a bulk chunk's), the vendor's statement and
    the hot accounts' go with the COMMIT in one query string; a chunk that does not fit
    fails there with the ledger's refusal (the checked statement's error as its cause), and
    nothing is written."""
    db = pg_database
    run(db, build_world)

    @commits_with_last_statement
    def holds(txn: Txn, amount: Money) -> None:
        for n in range(2):
            _hold_paying_late(txn, keyring, f"r{amount.amount}-{n}", amount)

    sent.clear()
    db.run_txn("holds", holds, Money(2000, "ZAR"))
    assert sent[-1].count("WITH locked AS") == 2
    assert sent[-1].endswith("COMMIT")
    assert_ledger_consistent(db)

    before = snapshot(db)
    with pytest.raises(DeferredDebitRefused, match="paying account were refused") as refused:
        db.run_txn("holds", holds, Money(10000, "ZAR"))
    assert isinstance(refused.value.__cause__, DBAPIError)
    assert "paying accounts' deferred debits (a debit refused) touched 0 rows, not 4" in str(
        refused.value.__cause__
    )
    assert snapshot(db) == before
