"""Merged transactions (vending.storage.database.commits_with_last_statement): on PostgreSQL
their BEGIN rides with their first statement and their last statement with their COMMIT, so
the hot accounts' deferred credit holds its row locks for one round trip. Everything else a
transaction promises must hold: all or nothing, after-commit hooks once, a failure rolls
back everything (also a failure of the last statement itself), the connection stays usable
and goes back to the pool in its normal (non-autocommit) state."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from vending_support import (
    SUPPLIER,
    assert_ledger_consistent,
    build_world,
    post_deferred_supply,
    run,
    snapshot,
)

from vending.storage.database import Database, Txn, commits_with_last_statement
from vending.storage.schema import accounts

pytestmark = pytest.mark.postgres


@pytest.fixture
def scratch(pg_database: Database) -> Iterator[None]:
    """A table of this test's own, dropped after it (the database is shared with the
    migration tests, which expect only the schema's tables)."""
    pg_database.run_txn(
        "scratch", lambda txn: txn.conn.exec_driver_sql("CREATE TABLE merged_scratch (v int)")
    )
    yield
    pg_database.run_txn(
        "scratch", lambda txn: txn.conn.exec_driver_sql("DROP TABLE merged_scratch")
    )


def _values(db: Database) -> list[int]:
    def read(txn: Txn) -> list[int]:
        rows = txn.conn.exec_driver_sql("SELECT v FROM merged_scratch ORDER BY v").all()
        return [r[0] for r in rows]

    return db.run_txn("read", read)


def test_begin_and_commit_ride_with_the_first_and_last_statements(
    pg_database: Database, sent: list[str], scratch: None
) -> None:
    after: list[str] = []

    @commits_with_last_statement
    def work(txn: Txn) -> str:
        txn.conn.exec_driver_sql("INSERT INTO merged_scratch VALUES (1)")
        txn.conn.exec_driver_sql("INSERT INTO merged_scratch VALUES (2)")
        txn.call_after(after.append, "committed")
        txn.before_commit(
            lambda t: t.commit_with("INSERT INTO merged_scratch VALUES (%(v)s)", {"v": 3})
        )
        return "done"

    sent.clear()
    assert pg_database.run_txn("merged", work) == "done"
    assert sent == [
        "BEGIN;\nINSERT INTO merged_scratch VALUES (1)",
        "INSERT INTO merged_scratch VALUES (2)",
        "INSERT INTO merged_scratch VALUES (%(v)s);\nCOMMIT",
    ]
    assert after == ["committed"]
    assert _values(pg_database) == [1, 2, 3]


def test_a_failing_last_statement_commits_nothing(pg_database: Database, scratch: None) -> None:
    after: list[str] = []

    @commits_with_last_statement
    def work(txn: Txn) -> None:
        txn.conn.exec_driver_sql("INSERT INTO merged_scratch VALUES (1)")
        txn.call_after(after.append, "committed")
        txn.commit_with("SELECT ('refused: ' || %(v)s)::int", {"v": 7})

    with pytest.raises(Exception, match="refused: 7"):
        pg_database.run_txn("merged", work)
    assert after == []
    assert _values(pg_database) == []


class _Refused(Exception):
    pass


def _refusal(seen: list[str]):  # type: ignore[no-untyped-def]
    """The caller's reading: its own check's message is a refusal, anything else is not."""

    def read(message: str) -> Exception | None:
        seen.append(message)
        return _Refused(message) if message.startswith("sale batch: our check") else None

    return read


def _checked(found: int) -> str:
    return f"SELECT evd_batch_expect({found}, 1, 'our check')"


@pytest.mark.parametrize("displaced", [False, True], ids=["with-commit", "sent-earlier"])
def test_a_refused_check_is_raised_in_its_owners_terms(
    pg_database: Database, scratch: None, displaced: bool
) -> None:
    """Txn.commit_with's ``refusal``: the exception the checked statement RAISEs (P0001)
    reaches the caller as the owner's error, the database's as its cause, whether the
    statement rode with the COMMIT or was sent earlier (a later one took its place); nothing
    of the transaction is written."""
    seen: list[str] = []
    after: list[str] = []

    @commits_with_last_statement
    def work(txn: Txn) -> None:
        txn.conn.exec_driver_sql("INSERT INTO merged_scratch VALUES (1)")
        txn.call_after(after.append, "committed")
        txn.commit_with(_checked(0), {}, refusal=_refusal(seen))
        if displaced:
            txn.commit_with("INSERT INTO merged_scratch VALUES (2)", {})

    with pytest.raises(_Refused, match="our check touched 0 rows, not 1") as refused:
        pg_database.run_txn("merged", work)
    assert isinstance(refused.value.__cause__, DBAPIError)
    assert seen == ["sale batch: our check touched 0 rows, not 1"]
    assert after == []
    assert _values(pg_database) == []


def test_a_check_that_holds_commits_and_other_failures_stay_the_databases(
    pg_database: Database, scratch: None
) -> None:
    """The reading is asked only about a RAISEd exception, and may decline it: a check that
    holds commits; a RAISE that is not the owner's refusal, and any other database error
    (here a failed cast, SQLSTATE 22P02), stay SQLAlchemy's DBAPIError."""
    seen: list[str] = []

    def work(statement: str):  # type: ignore[no-untyped-def]
        @commits_with_last_statement
        def fn(txn: Txn) -> None:
            txn.conn.exec_driver_sql("INSERT INTO merged_scratch VALUES (1)")
            txn.commit_with(statement, {}, refusal=_refusal(seen))

        return fn

    pg_database.run_txn("merged", work(_checked(1)))
    assert _values(pg_database) == [1]
    not_ours = "SELECT evd_batch_expect(0, 1, 'another check')"
    with pytest.raises(DBAPIError, match="another check touched 0 rows"):
        pg_database.run_txn("merged", work(not_ours))
    assert seen == ["sale batch: another check touched 0 rows, not 1"]
    with pytest.raises(DBAPIError, match="invalid input syntax"):
        pg_database.run_txn("merged", work("SELECT 'x'::int"))
    assert len(seen) == 1  # not asked: not a RAISE
    assert _values(pg_database) == [1]


def test_a_failing_function_rolls_back_and_the_connection_is_normal_again(
    pg_database: Database, scratch: None
) -> None:

    @commits_with_last_statement
    def work(txn: Txn) -> None:
        txn.conn.exec_driver_sql("INSERT INTO merged_scratch VALUES (1)")
        raise RuntimeError("the response could not be rendered")

    with pytest.raises(RuntimeError):
        pg_database.run_txn("merged", work)
    assert _values(pg_database) == []

    # The pooled connection is back out of autocommit: a plain transaction that fails
    # half-way still rolls back its first statement.
    def plain(txn: Txn) -> None:
        assert txn.conn.connection.dbapi_connection.autocommit is False  # type: ignore[union-attr]
        txn.conn.exec_driver_sql("INSERT INTO merged_scratch VALUES (5)")
        raise RuntimeError("half-way")

    with pytest.raises(RuntimeError):
        pg_database.run_txn("plain", plain)
    assert _values(pg_database) == []


def test_only_the_last_statement_rides_with_the_commit(
    pg_database: Database, sent: list[str], scratch: None
) -> None:
    """A second ``commit_with`` sends the first statement at once: it is no longer the
    transaction's last."""

    @commits_with_last_statement
    def work(txn: Txn) -> None:
        txn.commit_with("INSERT INTO merged_scratch VALUES (%(v)s)", {"v": 1})
        txn.commit_with("INSERT INTO merged_scratch VALUES (%(v)s)", {"v": 2})

    sent.clear()
    pg_database.run_txn("merged", work)
    assert sent == [
        "BEGIN;\nINSERT INTO merged_scratch VALUES (%(v)s)",
        "INSERT INTO merged_scratch VALUES (%(v)s);\nCOMMIT",
    ]
    assert _values(pg_database) == [1, 2]


def test_a_function_that_sends_nothing_sends_no_begin_or_commit(
    pg_database: Database, sent: list[str]
) -> None:
    @commits_with_last_statement
    def nothing(txn: Txn) -> int:
        return 42

    sent.clear()
    assert pg_database.run_txn("merged", nothing) == 42
    assert sent == []


def test_commit_with_is_refused_outside_a_merged_transaction(pg_database: Database) -> None:
    def plain(txn: Txn) -> None:
        txn.commit_with("SELECT 1", {})

    with pytest.raises(RuntimeError, match="merges its COMMIT"):
        pg_database.run_txn("plain", plain)


def test_transactions_read_committed_whatever_the_server_default(pg_database: Database) -> None:
    def level(txn: Txn) -> str:
        return str(txn.conn.exec_driver_sql("SHOW transaction_isolation").scalar())

    assert pg_database.run_txn("plain", level) == "read committed"
    assert pg_database.run_txn("merged", commits_with_last_statement(level)) == "read committed"


def test_deferred_credits_go_with_the_commit_and_check_themselves(
    pg_database: Database, sent: list[str]
) -> None:
    """The ledger's deferred credit is the merged COMMIT's statement; should it not write
    every entry (here the supplier account changed currency under it), the statement fails
    and nothing of the transaction remains."""
    db = pg_database
    run(db, build_world)

    def post(txn: Txn, *, break_supplier: bool) -> None:
        _posted, ids = post_deferred_supply(txn, 500)
        if break_supplier:
            txn.execute(
                accounts.update().where(accounts.c.id == ids[SUPPLIER]).values(currency="USD")
            )

    merged_post = commits_with_last_statement(post)
    before = snapshot(db)
    with pytest.raises(Exception, match=r"the deferred ledger legs .* touched 0 rows, not 1"):
        db.run_txn("merged", merged_post, break_supplier=True)
    assert snapshot(db) == before

    sent.clear()
    db.run_txn("merged", merged_post, break_supplier=False)
    assert sent[-1].startswith("WITH locked AS") or "WITH locked AS" in sent[-1]
    assert sent[-1].endswith("COMMIT")
    assert_ledger_consistent(db)
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ledger_entries")).scalar()


def test_driver_run_reads_one_value_and_rides_the_engine_hooks(
    pg_database: Database, sent: list[str], scratch: None
) -> None:
    """``Txn.driver_run`` (the sale batch's two statements) goes through the engine's cursor
    hooks: in a merged transaction its statement carries the BEGIN, and the value read is
    the driver's (a JSON document arrives parsed)."""

    @commits_with_last_statement
    def work(txn: Txn) -> object:
        value = txn.driver_run(
            "SELECT json_build_object('n', %(n)s::int, 'xs', %(xs)s::int[])",
            {"n": 3, "xs": "{1,2}"},
            fetch=True,
        )
        txn.driver_run("INSERT INTO merged_scratch VALUES (%(v)s)", {"v": 7})
        return value

    sent.clear()
    assert pg_database.run_txn("merged", work) == {"n": 3, "xs": [1, 2]}
    assert sent[0].startswith("BEGIN;\nSELECT json_build_object")
    assert _values(pg_database) == [7]


def test_driver_run_wants_exactly_one_row(pg_database: Database, scratch: None) -> None:
    def none(txn: Txn) -> object:
        return txn.driver_run("SELECT v FROM merged_scratch", {}, fetch=True)

    def two(txn: Txn) -> object:
        txn.driver_run("INSERT INTO merged_scratch VALUES (1), (2)", {})
        return txn.driver_run("SELECT v FROM merged_scratch", {}, fetch=True)

    with pytest.raises(RuntimeError, match="expected one row, the statement returned 0"):
        pg_database.run_txn("none", none)
    with pytest.raises(RuntimeError, match="expected one row, the statement returned 2"):
        pg_database.run_txn("two", two)
    assert _values(pg_database) == []  # the failed transaction wrote nothing


def test_driver_run_errors_are_sqlalchemys_and_a_dead_connection_is_dropped(
    pg_database: Database,
) -> None:
    """A driver error comes out as SQLAlchemy's (what the retry logic and the bulk re-hold
    recognise); a connection killed under a statement is invalidated, so the pool never
    hands it out again, and the transaction is retried on a new one."""

    def bad(txn: Txn) -> object:
        return txn.driver_run("SELECT 1 / %(z)s", {"z": 0}, fetch=True)

    with pytest.raises(DBAPIError) as failed:
        pg_database.run_txn("bad", bad)
    assert getattr(failed.value.orig, "pgcode", None) == "22012"  # division_by_zero
    assert not failed.value.connection_invalidated

    pids: list[int] = []

    def killed_once(txn: Txn) -> object:
        pid = txn.driver_run("SELECT pg_backend_pid()", {}, fetch=True)
        pids.append(int(pid))  # type: ignore[call-overload]
        if len(pids) == 1:  # the first attempt's backend dies under the next statement
            with pg_database.engine.connect() as other:
                other.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")  # type: ignore[call-overload]
        return txn.driver_run("SELECT 42", {}, fetch=True)

    assert pg_database.run_txn("killed", killed_once) == 42
    assert len(pids) == 2 and pids[0] != pids[1]
