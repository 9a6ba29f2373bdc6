"""The write script of a set-based sale batch (issue 16, step 3): its INSERTs from one array
per column keep the rows' order and bind each value as SQLAlchemy would, and a value too long
for its column fails the batch as a plain INSERT does -- never cut by an array cast."""

from __future__ import annotations

import pytest
from fixed_clock import NOW
from sqlalchemy import insert, select
from sqlalchemy.exc import DataError

from vending.sale_batch import _Script
from vending.storage.database import Database, Txn
from vending.storage.schema import transfers

pytestmark = pytest.mark.postgres


def _rows(description: str) -> list[dict[str, object]]:
    return [
        {
            "kind": "adjustment",
            "description": f"{description} {n}",
            "reference": None if n % 2 else f"ref:{n}",
            "reverses_id": None,
            "created_by": "test",
            "created_at": NOW,
        }
        for n in range(5)
    ]


def _read(txn: Txn) -> list[tuple[object, ...]]:
    columns = (transfers.c.kind, transfers.c.description, transfers.c.reference)
    found = txn.execute(
        select(*columns, transfers.c.created_by, transfers.c.created_at).order_by(transfers.c.id)
    )
    return [tuple(row) for row in found]


def test_the_script_inserts_what_sqlalchemy_inserts_in_order(pg_database: Database) -> None:
    def both(txn: Txn) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
        savepoint = txn.conn.begin_nested()  # (transfers are immutable: no DELETE)
        txn.execute(insert(transfers), _rows("plain"))
        plain = _read(txn)
        savepoint.rollback()
        script = _Script()
        script.insert(txn, transfers, _rows("plain"))
        script.run(txn)
        return plain, _read(txn)

    plain, scripted = pg_database.run_txn("both", both)
    assert scripted == plain
    assert [row[1] for row in scripted] == [f"plain {n}" for n in range(5)]


def test_a_too_long_value_fails_instead_of_being_cut(pg_database: Database) -> None:
    def too_long(txn: Txn) -> None:
        script = _Script()
        script.insert(txn, transfers, _rows("x" * 300))  # description is String(200)
        script.run(txn)

    with pytest.raises(DataError):
        pg_database.run_txn("too long", too_long)
    assert pg_database.run_txn("read", _read) == []
