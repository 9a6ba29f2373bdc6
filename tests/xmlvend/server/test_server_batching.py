"""Batched sales (issue 16) on PostgreSQL: many sales, one transaction, the same outcome.

The same requests, at the same clock, against the same seeded database: once through the
single path (one transaction per sale) and once all at once through the per-worker batcher
(``xmlvend.transport.batching.BatchingRunner``): byte-identical answers, the same ledger
entries, balances, sales and TIDs. A sale that raises in the middle of a batch is rolled back
alone and only it gets a fault. The batcher's timing (wait when idle, at most N per batch,
the next batch as soon as the previous one committed) is checked with ``task.Clock``.
"""

from __future__ import annotations

import dataclasses
import queue
import re
import threading
import uuid
from typing import Any

import pytest
from server_support import (
    MISTY_METER,
    NORMAL_METER,
    PLATFORM,
    PLATFORM_OPERATOR,
    SEEDED_AT,
    UNKNOWN_METER,
    VOUCHER_PRODUCT,
    World,
    build_world,
    credit_vend,
    make_config,
    voucher_vend,
)
from sqlalchemy import event, select, text
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from tools.gen_stock import ProductSpec, generate_rows, render_csv
from utilities.embedded import EmbeddedBackend
from utilities.service import Routing, UtilityServiceImpl, embedded_settings
from utilities.tables import issued_tokens as tokens
from vending.config import SalesConfig
from vending.keyring import Keyring
from vending.ledger import verify_ledger
from vending.sale_batch import BatchedSale, IsolateSale, SaleDone, SaleLocks, run_sale_batch
from vending.services.sale_batching import sale_locks
from vending.storage.database import Database, Txn
from vending.storage.schema import accounts, ledger_entries, notifications, sales, transfers
from vending.vouchers import alerts
from vending.vouchers.importer import StockImporter, StockUpload
from xmlvend.codec import render_request
from xmlvend.transport.asyncdb import AsyncDatabase
from xmlvend.transport.batching import BatchingRunner, worker_runner


class ManualRunner:
    """A TxnRunner whose transactions run when the test pumps them (in order)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.queue: list[tuple[Deferred, str, Any, tuple[Any, ...], dict[str, Any]]] = []
        self.ran: list[str] = []

    def run(self, desc: str, fn: Any, /, *args: Any, **kwargs: Any) -> Deferred:
        deferred: Deferred = Deferred()
        self.queue.append((deferred, desc, fn, args, kwargs))
        return deferred

    def pump(self) -> None:
        while self.queue:
            deferred, desc, fn, args, kwargs = self.queue.pop(0)
            self.ran.append(desc)
            try:
                result = self.database.run_txn(desc, fn, *args, **kwargs)
            except Exception:
                deferred.errback()
            else:
                deferred.callback(result)


def stock_rows(count: int) -> list[Any]:
    serial = 7_700_000_000_000_000 + uuid.uuid4().int % 10**12 * 1000
    return list(
        generate_rows(
            [ProductSpec(VOUCHER_PRODUCT, "10.00", 16)],
            count,
            today=SEEDED_AT.date(),
            serial_start=serial,
        )
    )


def import_rows(database: Database, keyring: Keyring, rows: list[Any], sentinel: Any) -> None:
    sentinel.register(*(row.pin for row in rows))
    upload = StockUpload("DEMO", "stock.csv", "ab" * 32, render_csv(rows))
    StockImporter(
        database, keyring, None, clock=lambda: SEEDED_AT, low_stock_threshold=1
    ).import_upload(upload, actor="test")


def plain_world(database: Database, keyring: Keyring, rows: list[Any], sentinel: Any) -> World:
    world = build_world(database, keyring, sentinel, vouchers=0, config=make_config())
    import_rows(database, keyring, rows, sentinel)
    return world


def batched_world(
    database: Database, keyring: Keyring, rows: list[Any], sentinel: Any, **batching: Any
) -> tuple[World, BatchingRunner, ManualRunner, Clock]:
    manual = ManualRunner(database)
    timer = Clock()
    runner = BatchingRunner(manual, timer, sale_locks, **batching)
    config = make_config()
    from server_support import MutableClock

    service = UtilityServiceImpl(
        runner,
        keyring,
        EmbeddedBackend(keyring, embedded_settings(config)),
        reactor=Clock(),
        routing=Routing(),
        clock=MutableClock(),
    )
    world = build_world(
        database, keyring, sentinel, vouchers=0, config=config, service=service, runner=runner
    )
    import_rows(database, keyring, rows, sentinel)
    manual.pump()  # the start's recovery sweep
    return world, runner, manual, timer


def requests(world: World) -> list[bytes]:
    """A mix: two vendors, three meters (one twice: TIDs in order), vouchers, an unknown
    meter and an amount the vendor cannot pay (faults), and a re-sent request."""
    platform = {"client_id": PLATFORM, "operator": PLATFORM_OPERATOR}
    made = [
        credit_vend(world.header(), NORMAL_METER, "100.00"),
        voucher_vend(world.header()),
        credit_vend(world.header(**platform), NORMAL_METER, "20.00"),
        credit_vend(world.header(), MISTY_METER, "50.00"),
        credit_vend(world.header(), UNKNOWN_METER, "10.00"),
        voucher_vend(world.header(**platform)),
        credit_vend(world.header(), MISTY_METER, "900000.00"),
        voucher_vend(world.header()),
    ]
    bodies = [render_request(request) for request in made]
    return [*bodies, bodies[0], bodies[1]]


def facts(txn: Txn) -> dict[str, Any]:
    def rows(statement: Any) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in txn.execute(statement)]

    return {
        # By transfer, not by entry id: a batch writes the hot accounts' entries of all its
        # sales at its end (credited once), each with its running balance_after.
        "entries": sorted(
            rows(
                select(
                    ledger_entries.c.transfer_id,
                    ledger_entries.c.account_id,
                    ledger_entries.c.amount,
                    ledger_entries.c.role,
                    ledger_entries.c.balance_after,
                )
            )
        ),
        "transfers": rows(select(transfers.c.id, transfers.c.kind).order_by(transfers.c.id)),
        "balances": rows(select(accounts.c.id, accounts.c.balance).order_by(accounts.c.id)),
        "sales": rows(
            select(sales.c.id, sales.c.target, sales.c.state, sales.c.transfer_id).order_by(
                sales.c.id
            )
        ),
        "tokens": rows(
            select(
                tokens.c.id,
                tokens.c.meter_id,
                tokens.c.kind,
                tokens.c.tid,
                tokens.c.amount,
                tokens.c.sale_id,
            ).order_by(tokens.c.id)
        ),
        "ledger_ok": verify_ledger(txn).ok,
    }


def without_cipher(body: bytes) -> bytes:
    """A token carries a random nibble (STS RND): everything else must be identical (the
    TIDs and amounts are compared in the tokens table)."""
    return re.sub(rb"<b:stsCipher>\d+</b:stsCipher>", b"<b:stsCipher/>", body)


def send_all(world: World, bodies: list[bytes]) -> list[Any]:
    connections = [world.connect() for _ in bodies]
    for connection, body in zip(connections, bodies, strict=True):
        connection.post(body, wait=False)
    return connections


def emptied(url: str) -> Database:
    """The test database emptied again, identities restarted (the same ids again)."""
    database = Database(url, pool_size=4)

    def truncate(txn: Txn) -> None:
        names = [
            row[0]
            for row in txn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'alembic_version'"
                )
            )
        ]
        txn.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " RESTART IDENTITY"))

    database.run_txn("truncate", truncate)
    return database


@pytest.mark.unbatched  # the single path is the oracle here
def test_a_batch_stores_what_single_sales_store(
    pg_database: Database, keyring: Keyring, secrets_sentinel: Any
) -> None:
    rows = stock_rows(4)
    single = plain_world(pg_database, keyring, rows, secrets_sentinel)
    expected = [single.post(body) for body in requests(single)]
    expected_facts = pg_database.run_txn("facts", facts)

    database = emptied(pg_database.url)
    try:
        world, runner, manual, timer = batched_world(
            database, keyring, rows, secrets_sentinel, max_wait=0.001
        )
        bodies = requests(world)
        connections = send_all(world, bodies)
        assert all(not c.responses() for c in connections)  # waiting for company
        timer.advance(0.001)
        manual.pump()
        got = [c.last() for c in connections]
        # The two re-sent requests wait for the next batch (one sale per key in a batch),
        # which goes as soon as the first committed, and find its stored answers.
        assert runner.stats.batches == 2 and runner.stats.sales == len(connections)
        assert [(r.status, without_cipher(r.body)) for r in got] == [
            (r.status, without_cipher(r.body)) for r in expected
        ]
        # A request re-sent while its first copy was waiting got the stored bytes.
        assert got[8].body == got[0].body and got[9].body == got[1].body
        assert got[4].fault_class() is not None and got[6].fault_class() is not None
        assert database.run_txn("facts", facts) == expected_facts
        assert expected_facts["ledger_ok"]
        # Replayed later, outside any batch: the same stored bytes.
        replays = send_all(world, bodies[8:])
        timer.advance(0.001)
        manual.pump()
        assert [c.last().body for c in replays] == [got[0].body, got[1].body]
    finally:
        database.close()


def test_a_sale_that_raises_is_rolled_back_alone(
    pg_database: Database, keyring: Keyring, secrets_sentinel: Any
) -> None:
    world, _runner, manual, timer = batched_world(
        pg_database, keyring, stock_rows(4), secrets_sentinel, max_wait=0.001
    )
    before = pg_database.run_txn("facts", facts)
    bodies = requests(world)[:4]
    connections = send_all(world, bodies)
    timer.advance(0.001)
    (_, desc, _, args, _) = manual.queue[0]
    assert desc == "sale_batch"
    batch: list[BatchedSale] = args[0]
    sound = batch[1].fn

    def explodes(txn: Txn, *a: Any, **k: Any) -> Any:
        sound(txn, *a, **k)  # the whole sale written, its credits deferred ...
        raise RuntimeError("unexpected")  # ... then an unexpected error

    batch[1].fn = explodes  # the voucher sale
    manual.pump()
    got = [c.last() for c in connections]
    assert got[1].status == 500 and got[1].fault_class() is not None
    assert all(r.status == 200 and r.fault_class() is None for i, r in enumerate(got) if i != 1)
    after = pg_database.run_txn("facts", facts)
    assert after["ledger_ok"]
    assert len(after["sales"]) == len(before["sales"]) + 3
    assert all(target != VOUCHER_PRODUCT for _, target, _, _ in after["sales"])
    # The failed request left no claim: sent again, it is sold now.
    again = world.connect()
    again.post(bodies[1], wait=False)
    timer.advance(0.001)
    manual.pump()
    assert again.last().status == 200 and again.last().fault_class() is None
    assert pg_database.run_txn("facts", facts)["ledger_ok"]


def test_batches_go_when_the_previous_one_committed(
    pg_database: Database, keyring: Keyring, secrets_sentinel: Any
) -> None:
    world, runner, manual, timer = batched_world(
        pg_database, keyring, stock_rows(6), secrets_sentinel, max_wait=0.001, max_sales=3
    )
    bodies = [render_request(voucher_vend(world.header())) for _ in range(6)]
    bodies += [render_request(credit_vend(world.header(), NORMAL_METER, "10.00"))]
    first = send_all(world, bodies[:1])
    assert not manual.queue  # idle: the lone sale waits up to max_wait for company
    timer.advance(0.001)
    assert [q[1] for q in manual.queue] == ["sale_batch"]
    rest = send_all(world, bodies[1:])  # arrive while the first batch is in flight
    assert len(manual.queue) == 1
    manual.pump()  # batch 1 commits -> batch 2 (3 sales) goes at once -> batch 3 (3)
    assert runner.stats.batches == 3 and runner.stats.sales == 7
    got = [c.last() for c in first + rest]
    assert all(r.status == 200 and r.fault_class() is None for r in got)
    pins = {r.body for r in got}
    assert len(pins) == 7
    assert pg_database.run_txn("facts", facts)["ledger_ok"]


def test_the_next_batch_goes_before_the_committed_one_is_answered() -> None:
    """When a batch commits, the sales waiting meanwhile are sent as the next batch before
    the committed batch's sales are answered: the next batch's round trips overlap the
    answering instead of following it."""
    submitted: list[Deferred] = []

    class Inner:
        def run(self, desc: str, fn: Any, /, *args: Any, **kwargs: Any) -> Deferred:
            submitted.append(Deferred())
            return submitted[-1]

    def locks(desc: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> SaleLocks:
        return SaleLocks()

    runner = BatchingRunner(Inner(), Clock(), locks, max_wait=0)
    first = runner.run("sale", lambda txn: None)
    later = [runner.run("sale", lambda txn: None) for _ in range(2)]  # wait: one in flight
    assert len(submitted) == 1
    batches_when_answered: list[int] = []
    first.addCallback(lambda result: batches_when_answered.append(len(submitted)))
    submitted[0].callback([SaleDone(result="done")])
    assert batches_when_answered == [2]  # the second batch was already on its way
    submitted[1].callback([SaleDone(result="a"), SaleDone(error=ValueError("refused"))])
    assert later[0].result == "a"
    later[1].addErrback(lambda failure: failure.trap(ValueError))
    assert runner.stats.batches == 2 and runner.stats.sales == 3


class ChainRunner(ManualRunner):
    """A runner that can chain batches on its "database thread": the test runs that thread's
    calls (``pump_thread``) and the calls it posts to the reactor (``ChainReactor``)."""

    def __init__(self, database: Database) -> None:
        super().__init__(database)
        self.thread_calls: list[tuple[Any, tuple[Any, ...]]] = []

    def call_on_database_thread(self, fn: Any, /, *args: Any) -> None:
        self.thread_calls.append((fn, args))

    def run_on_this_thread(self, desc: str, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        self.ran.append(desc)
        return self.database.run_txn(desc, fn, *args, **kwargs)

    def pump_thread(self) -> None:
        while self.thread_calls:
            fn, args = self.thread_calls.pop(0)
            fn(*args)


class ChainReactor(Clock):
    def __init__(self) -> None:
        super().__init__()
        self.posted: list[tuple[Any, tuple[Any, ...]]] = []

    def callFromThread(self, fn: Any, *args: Any) -> None:
        self.posted.append((fn, args))

    def run_posted(self) -> None:
        while self.posted:
            fn, args = self.posted.pop(0)
            fn(*args)


def _select_one(txn: Txn) -> int:
    return int(txn.conn.exec_driver_sql("SELECT 1").scalar_one())


def test_batches_chain_on_the_database_thread(database: Database) -> None:
    """Over a runner that can run on its database thread, the sales that wait while a batch
    runs go as the next batch from that thread, as soon as the batch commits, without a
    turn of the reactor; the reactor answers each committed batch."""
    inner, reactor = ChainRunner(database), ChainReactor()
    runner = BatchingRunner(inner, reactor, lambda desc, _a, _k: SaleLocks(), max_wait=0.001)
    results: list[int] = []
    first = runner.run("sale", _select_one)
    first.addCallback(results.append)
    reactor.advance(0.001)
    assert len(inner.thread_calls) == 1 and not inner.queue  # not through run(): chained
    for _ in range(2):  # arrive while the first batch is in flight
        runner.run("sale", _select_one).addCallback(results.append)
    assert len(inner.thread_calls) == 1
    inner.pump_thread()  # batch 1 commits, batch 2 (the two waiting) follows at once
    assert inner.ran == ["sale_batch", "sale_batch"] and results == []
    reactor.run_posted()
    assert results == [1, 1, 1]
    assert runner.stats.batches == 2 and runner.stats.sales == 3
    runner.run("sale", _select_one).addCallback(results.append)  # idle again: max_wait
    assert not inner.thread_calls
    reactor.advance(0.001)
    inner.pump_thread()
    reactor.run_posted()
    assert results == [1, 1, 1, 1] and runner.stats.batches == 3


def test_a_failed_batch_ends_the_chain_and_the_reactor_handles_it(database: Database) -> None:
    """A batch that isolates a sale stops the chain; the reactor gives that sale its error
    and sends the rest again, which chains as before."""
    inner, reactor = ChainRunner(database), ChainReactor()
    bad = object()

    def batch(txn: Txn, sales: list[BatchedSale]) -> list[SaleDone]:
        for index, sale in enumerate(sales):
            if sale.args == (bad,):
                raise IsolateSale(index, ValueError("this sale is broken"))
        return [SaleDone(result=_select_one(txn)) for _ in sales]

    runner = BatchingRunner(
        inner, reactor, lambda desc, _a, _k: SaleLocks(), max_wait=0.001, batch=batch
    )
    good = runner.run("sale", lambda txn, _x: 1, None)
    broken = runner.run("sale", lambda txn, _x: 1, bad)
    errors: list[Any] = []
    broken.addErrback(lambda failure: errors.append(failure.trap(ValueError)))
    reactor.advance(0.001)
    inner.pump_thread()
    assert not errors and len(reactor.posted) == 1  # the failure, for the reactor
    reactor.run_posted()
    assert errors == [ValueError] and len(inner.thread_calls) == 1  # the rest, chained
    inner.pump_thread()
    reactor.run_posted()
    assert good.result == 1
    assert runner.stats.isolated == 1 and runner.stats.sales == 1


def test_chained_batches_run_on_a_real_database_thread(database: Database) -> None:
    """The chain over AsyncDatabase's own thread pool: every sale answered on the thread
    that runs the reactor's calls, each batch committed on a database thread."""
    posted: queue.Queue[tuple[Any, tuple[Any, ...]]] = queue.Queue()

    class Reactor(Clock):
        def callFromThread(self, fn: Any, *args: Any) -> None:
            posted.put((fn, args))

    reactor = Reactor()
    runner = BatchingRunner(
        AsyncDatabase(reactor, database), reactor, lambda desc, _a, _k: SaleLocks(), max_wait=0
    )
    threads: set[str] = set()

    def sale(txn: Txn) -> int:
        threads.add(threading.current_thread().name)
        return _select_one(txn)

    results: list[int] = []
    for _ in range(5):
        runner.run("sale", sale).addCallback(results.append)
    while len(results) < 5:
        fn, args = posted.get(timeout=30)
        fn(*args)
    assert results == [1] * 5 and runner.stats.sales == 5
    assert threads and all(name.startswith("evd-db") for name in threads)


def test_a_failing_batch_runs_its_sales_one_by_one(
    pg_database: Database, keyring: Keyring, secrets_sentinel: Any
) -> None:
    """Should the batch transaction itself fail (not a sale), each sale runs alone."""
    world, runner, manual, timer = batched_world(
        pg_database, keyring, stock_rows(2), secrets_sentinel, max_wait=0.001
    )
    connections = send_all(world, [render_request(voucher_vend(world.header())) for _ in "ab"])
    timer.advance(0.001)
    deferred, _desc, fn, _args, _kwargs = manual.queue.pop(0)
    assert fn is run_sale_batch
    deferred.errback(RuntimeError("the batch's COMMIT failed"))
    assert [q[1] for q in manual.queue] == ["sell_voucher", "sell_voucher"]
    manual.pump()
    assert all(c.last().status == 200 for c in connections)
    assert runner.stats.fallbacks == 1


def test_sqlite_keeps_the_simple_path(database: Database) -> None:
    """``[sales] batching`` (on by default) batches on PostgreSQL only; off, or on SQLite,
    sales run alone."""
    assert SalesConfig().batching
    on = dataclasses.replace(make_config(), sales=SalesConfig(batching=True))
    runner = worker_runner(on, Clock(), database)
    assert isinstance(runner, BatchingRunner) == database.is_postgres
    off = dataclasses.replace(make_config(), sales=SalesConfig(batching=False))
    assert not isinstance(worker_runner(off, Clock(), database), BatchingRunner)


def test_a_cancelled_sale_does_not_stall_the_batcher(pg_database: Database) -> None:
    """A sale whose caller gave up (its Deferred cancelled) is still committed with its
    batch; the batcher goes on to the next batch."""
    manual, timer = ManualRunner(pg_database), Clock()
    runner = BatchingRunner(manual, timer, lambda desc, _a, _k: SaleLocks(), max_wait=0.001)

    def one(txn: Txn) -> int:
        return int(txn.conn.exec_driver_sql("SELECT 1").scalar_one())

    gave_up = runner.run("sale", one)
    gave_up.addErrback(lambda _failure: None)
    kept = runner.run("sale", one)
    gave_up.cancel()
    timer.advance(0.001)
    manual.pump()
    results: list[int] = []
    kept.addCallback(results.append)
    later = runner.run("sale", one)
    later.addCallback(results.append)
    timer.advance(0.001)
    manual.pump()
    assert results == [1, 1] and runner.stats.batches == 2


def low_stock_alerts(database: Database) -> list[Any]:
    return database.run_txn(
        "alerts",
        lambda txn: [
            row.payload
            for row in txn.execute(
                select(notifications.c.payload)
                .where(notifications.c.kind == alerts.LOW_STOCK)
                .order_by(notifications.c.id)
            )
        ],
    )


def test_a_batch_is_two_statements_and_raises_low_stock_once(
    pg_database: Database, keyring: Keyring, secrets_sentinel: Any
) -> None:
    """A batch is one statement to start it (claims, locks, re-checks, ids, PINs:
    ``evd_sale_batch_start``) and one round trip for all its writes, the hot accounts'
    credit included, while no product crosses its low-stock threshold; a batch that
    crosses it raises the alert once (threshold 1 here), later batches do not again."""
    world, runner, manual, timer = batched_world(
        pg_database, keyring, stock_rows(7), secrets_sentinel, max_wait=0.001
    )
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    def batch(bodies: list[bytes]) -> list[Any]:
        connections = send_all(world, bodies)
        timer.advance(0.001)
        assert [q[1] for q in manual.queue] == ["sale_batch"]
        statements.clear()
        event.listen(pg_database.engine, "before_cursor_execute", seen)
        try:
            manual.pump()
        finally:
            event.remove(pg_database.engine, "before_cursor_execute", seen)
        got = [c.last() for c in connections]
        assert all(r.status == 200 and r.fault_class() is None for r in got)
        return got

    platform = {"client_id": PLATFORM, "operator": PLATFORM_OPERATOR}
    mix = [
        (credit_vend, {}, NORMAL_METER, "10.00"),
        (voucher_vend, {}),
        (credit_vend, platform, MISTY_METER, "10.00"),
        (voucher_vend, platform),
    ]
    for _ in "ab":  # the first fills the process's read cache (products, tariffs ...)
        batch([render_request(m[0](world.header(**m[1]), *m[2:])) for m in mix])
    assert len(statements) == 2 and "evd_sale_batch_start" in statements[0], statements
    # Both as EXECUTEs of statements the connection prepared with the first batch: planned
    # once per connection (vending.storage.prepared), not once per batch, and the script's
    # kept so (its generic plans forced for the rest of the transaction).
    parts = [p.strip() for s in statements for p in s.split(";\n")]
    generic = "SET LOCAL plan_cache_mode = force_generic_plan"
    assert {p for p in parts if not p.startswith("EXECUTE ")} == {"BEGIN", generic, "COMMIT"}
    assert statements[1].startswith(generic + ";\n"), statements[1]
    assert low_stock_alerts(pg_database) == []  # 3 left, threshold 1
    batch([render_request(voucher_vend(world.header())) for _ in "ab"])
    assert low_stock_alerts(pg_database) == [
        {"product": VOUCHER_PRODUCT, "remaining": 1, "threshold": 1}
    ]
    assert len(statements) > 2  # the crossing: the alert's own statements
    batch([render_request(voucher_vend(world.header()))])
    assert len(statements) == 2  # raised already: nothing to do
    assert len(low_stock_alerts(pg_database)) == 1
    assert runner.stats.batches == 4
    assert pg_database.run_txn("facts", facts)["ledger_ok"]
