"""The sale batch's statements prepared once per connection (vending.storage.prepared): the
EXECUTE form gives the same rows as the statement sent as text, the PREPARE goes once per
connection and statement, what is recorded as prepared is what the server has (also after
a rollback, a failed PREPARE and a replaced connection)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event

from vending.storage.database import Database, Txn
from vending.storage.prepared import PREPARED_NAMES, Prepared, as_executes, prepared


def test_parameters_are_numbered_in_order_and_keep_their_casts() -> None:
    form = Prepared(
        "UPDATE t SET a = u.a FROM unnest(%(s3_ids)s::bigint[], "
        "%(s3_at)s::TIMESTAMP WITH TIME ZONE[], %(s3_n)s::numeric(12, 2)[]) AS u(id, a, n) "
        "WHERE t.id = u.id AND t.k = %(s3_k)s AND t.id <> ALL(%(s3_ids)s::bigint[])"
    )
    assert form.name.startswith("t__")
    assert "$1::bigint[], $2::TIMESTAMP WITH TIME ZONE[], $3::numeric(12, 2)[]" in form.prepare
    assert "t.k = $4 AND t.id <> ALL($1::bigint[])" in form.prepare
    assert "%(" not in form.prepare
    assert form.execute == (
        f"EXECUTE {form.name}(%(s3_ids)s::bigint[], %(s3_at)s::TIMESTAMP WITH TIME ZONE[], "
        "%(s3_n)s::numeric(12, 2)[], %(s3_k)s)"
    )


def test_the_same_statement_is_one_prepared_statement_wherever_a_script_puts_it() -> None:
    first = prepared("DELETE FROM requests WHERE id = ANY(%(s0_ids)s::bigint[])")
    later = prepared("DELETE FROM requests WHERE id = ANY(%(s4_ids)s::bigint[])")
    other = prepared("DELETE FROM requests WHERE id = ANY(%(s0_ids)s::integer[])")
    assert first.name == later.name != other.name
    assert first.name.startswith("requests__")
    assert later.execute == f"EXECUTE {first.name}(%(s4_ids)s::bigint[])"
    assert prepared("SELECT 1").execute.endswith("__" + prepared("SELECT 1").name[-16:])


# --- on PostgreSQL ------------------------------------------------------------------------------

INSERT = (
    "INSERT INTO prepared_scratch (id, at, body) SELECT c0, c1, c2 "
    "FROM unnest(%(ids)s::bigint[], %(at)s::timestamptz[], %(body)s::bytea[]) "
    "WITH ORDINALITY AS u(c0, c1, c2, n) ORDER BY n"
)
SELECT = "SELECT id, at, body FROM prepared_scratch WHERE id = ANY(%(ids)s::bigint[]) ORDER BY id"
AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def scratch(pg_database: Database) -> Iterator[None]:
    pg_database.run_txn(
        "scratch",
        lambda txn: txn.conn.exec_driver_sql(
            "CREATE TABLE prepared_scratch (id bigint PRIMARY KEY, at timestamptz, body bytea)"
        ),
    )
    yield
    pg_database.run_txn(
        "scratch", lambda txn: txn.conn.exec_driver_sql("DROP TABLE prepared_scratch")
    )


def _run(txn: Txn, statement: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    (text,) = as_executes(txn.conn, [statement])
    result = txn.conn.exec_driver_sql(text, params)
    return [tuple(r) for r in result.all()] if result.returns_rows else []


def _prepared_names(txn: Txn) -> set[str]:
    rows = txn.conn.exec_driver_sql("SELECT name FROM pg_prepared_statements").all()
    return {r[0] for r in rows}


@pytest.mark.postgres
def test_executes_give_the_statements_rows_and_prepare_once(
    pg_database: Database, scratch: None, sent: list[str]
) -> None:
    rows = {"ids": [1, 2, 3], "at": [AT, None, AT], "body": [b"\x00a", None, b""]}
    nulls = {"ids": [4, 5], "at": [None, None], "body": [None, None]}  # untyped ARRAY[NULL..]

    def work(txn: Txn) -> tuple[Any, ...]:
        sent.clear()
        _run(txn, INSERT, rows)
        first = list(sent)
        sent.clear()
        _run(txn, INSERT, nulls)
        _run(txn, INSERT, {"ids": [], "at": [], "body": []})
        again = list(sent)
        found = _run(txn, SELECT, {"ids": [1, 2, 3, 4, 5]})
        return first, again, found, _prepared_names(txn)

    first, again, found, names = pg_database.run_txn("prepared", work)
    name = prepared(INSERT).name
    assert [s.split(" AS ")[0] for s in first] == [
        f"PREPARE {name}",
        f"EXECUTE {name}(%(ids)s::bigint[], %(at)s::timestamptz[], %(body)s::bytea[])",
    ]
    assert all(s.startswith("EXECUTE ") for s in again)  # prepared already
    assert {name, prepared(SELECT).name} <= names
    assert [(i, a, None if b is None else bytes(b)) for i, a, b in found] == [
        (1, AT, b"\x00a"),
        (2, None, None),
        (3, AT, b""),
        (4, None, None),
        (5, None, None),
    ]


@pytest.mark.postgres
def test_a_statement_prepared_in_a_rolled_back_transaction_stays_prepared(
    pg_database: Database, scratch: None, sent: list[str]
) -> None:
    row = {"ids": [7], "at": [AT], "body": [b"x"]}
    with pg_database.engine.connect() as conn:
        (text,) = as_executes(conn, [INSERT])
        conn.exec_driver_sql(text, row)
        conn.rollback()
        server = {r[0] for r in conn.exec_driver_sql("SELECT name FROM pg_prepared_statements")}
        assert prepared(INSERT).name in server
        assert conn.exec_driver_sql("SELECT count(*) FROM prepared_scratch").scalar() == 0
        conn.rollback()
        sent.clear()
        (again,) = as_executes(conn, [INSERT])
        conn.exec_driver_sql(again, row)
        assert again == text and sent == [text]  # no second PREPARE
        conn.rollback()


@pytest.mark.postgres
def test_a_failed_prepare_is_not_recorded_and_a_new_connection_prepares_again(
    pg_database: Database, scratch: None, sent: list[str]
) -> None:
    broken = "SELECT no_such_column FROM prepared_scratch WHERE id = %(id)s"
    with pg_database.engine.connect() as conn:
        with pytest.raises(Exception, match="no_such_column"):
            as_executes(conn, [broken])
        conn.rollback()
        assert prepared(broken).name not in conn.info[PREPARED_NAMES]
        (text,) = as_executes(conn, [SELECT])
        assert conn.exec_driver_sql(text, {"ids": [1]}).all() == []
        conn.rollback()
        server = {r[0] for r in conn.exec_driver_sql("SELECT name FROM pg_prepared_statements")}
        assert server == conn.info[PREPARED_NAMES] == {prepared(SELECT).name}
        conn.rollback()

        conn.invalidate()  # a new connection: the server's prepared statements went with it
        sent.clear()
        (text,) = as_executes(conn, [SELECT])
        assert conn.exec_driver_sql(text, {"ids": [1]}).all() == []
        assert sent[0].startswith(f"PREPARE {prepared(SELECT).name} AS")
        conn.rollback()


@pytest.mark.postgres
def test_with_prepare_statements_off_statements_go_as_text(
    pg_database: Database, scratch: None
) -> None:
    """``[database] prepare_statements = false`` (behind a pooler in transaction mode)."""
    plain = Database(pg_database.url, pool_size=1, prepare_statements=False)
    seen: list[str] = []
    event.listen(plain.engine, "after_cursor_execute", lambda *a: seen.append(a[2]))
    try:

        def work(txn: Txn) -> list[tuple[Any, ...]]:
            return _run(txn, SELECT, {"ids": [1]})

        assert plain.run_txn("plain", work) == []
        assert seen == [SELECT]
    finally:
        plain.engine.dispose()
