"""Migrations: they round-trip, and they build exactly the tables the code declares."""

from __future__ import annotations

import importlib
import importlib.util

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fixed_clock import NOW
from sqlalchemy import inspect, text

from vending.storage import migrate
from vending.storage.database import Database
from vending.storage.schema import metadata

# Every package that adds tables to the shared metadata; missing ones are not written yet.
TABLE_MODULES = (
    "catalogue.tables",
    "deposits.tables",
    "bulk.tables",
    "distribution.tables",
    "staff.tables",
    "utilities.faults.tables",
    "utilities.storage",
    "utilities.tables",
    "vending.api_tables",
    "vending.batches",
    "vending.channel_tables",
    "vending.keyring",
    "vending.vouchers",
    "vending.vouchers.tables",
)


def _import_table_modules() -> list[str]:
    loaded = []
    for name in TABLE_MODULES:
        try:
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:  # the parent package does not exist
            found = False
        if found:
            importlib.import_module(name)
            loaded.append(name)
    return loaded


def _user_tables(database: Database) -> set[str]:
    return set(inspect(database.engine).get_table_names()) - {"alembic_version"}


def test_migrations_round_trip(migrated_back: Database) -> None:
    """upgrade → downgrade to base → upgrade leaves the same schema at head."""
    database = migrated_back
    engine = database.engine
    assert migrate.current_revision(engine) == migrate.head_revision()
    tables = _user_tables(database)
    assert {"accounts", "transfers", "ledger_entries", "sales", "requests"} <= tables
    migrate.downgrade(engine, "base")
    assert migrate.current_revision(engine) is None
    assert _user_tables(database) == set()
    if database.is_postgres:
        with engine.connect() as conn:
            functions = conn.execute(
                text("SELECT proname FROM pg_proc WHERE proname LIKE '%_immutable'")
            ).scalars()
            assert list(functions) == []
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    assert _user_tables(database) == tables


def _batch_functions(database: Database) -> list[str]:
    with database.engine.connect() as conn:
        return sorted(
            conn.execute(
                text(
                    "SELECT proname FROM pg_proc WHERE proname IN "
                    "('evd_sale_batch_start', 'evd_batch_expect')"
                )
            ).scalars()
        )


def test_0020_adds_the_sale_batch_functions_on_postgresql(migrated_back: Database) -> None:
    """0020 adds the sale batch's start and its write checks on PostgreSQL (a no-op on
    SQLite, which keeps the simple batch); its downgrade removes them."""
    database = migrated_back
    migrate.downgrade(database.engine, "0019_fund_pushes")
    assert migrate.current_revision(database.engine) == "0019_fund_pushes"
    if database.is_postgres:
        assert _batch_functions(database) == []
    migrate.upgrade(database.engine)
    assert migrate.current_revision(database.engine) == migrate.head_revision()
    if not database.is_postgres:
        return
    assert _batch_functions(database) == ["evd_batch_expect", "evd_sale_batch_start"]
    with database.engine.connect() as conn:
        conn.execute(text("SELECT evd_batch_expect(2, 2, 'rows')"))
        with pytest.raises(Exception, match="rows touched 1 rows, not 2"):
            conn.execute(text("SELECT evd_batch_expect(1, 2, 'rows')"))


def test_schema_built_by_migrations_matches_the_metadata(database: Database) -> None:
    """Autogenerate finds no difference between the migrated database and the metadata of
    every package (columns, types, nullability, indexes, unique constraints, foreign keys)."""
    _import_table_modules()
    with database.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": False}
        )
        differences = compare_metadata(context, metadata)
    assert differences == []
    assert _user_tables(database) == set(metadata.tables)


def test_head_is_a_single_linear_history() -> None:
    """One head, reached from 0001_core: no branch was left behind."""
    assert migrate.head_revision() != ""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate._alembic_config(None))
    assert len(script.get_heads()) == 1
    revisions = [rev.revision for rev in script.walk_revisions()]
    assert revisions[-1] == "0001_core"


@pytest.mark.parametrize("table", ["transfers", "ledger_entries"])
def test_journal_tables_refuse_update_and_delete(database: Database, table: str) -> None:
    """The triggers make the journal append-only in the database itself."""
    from vending.accounts import create_account
    from vending.ledger import Leg, post_transfer
    from vending.money import Money

    def seed(txn):  # type: ignore[no-untyped-def]
        a = create_account(txn, code="a", kind="house", name="a", currency="ZAR", now=NOW).id
        b = create_account(txn, code="b", kind="house", name="b", currency="ZAR", now=NOW).id
        post_transfer(
            txn,
            kind="adjustment",
            legs=[Leg(a, Money(5, "ZAR"), "x"), Leg(b, Money(-5, "ZAR"), "x")],
            description="seed",
            created_by="test",
            now=NOW,
        )

    database.run_txn("seed", seed)
    column = "description" if table == "transfers" else "role"
    for statement in (f"UPDATE {table} SET {column} = 'changed'", f"DELETE FROM {table}"):
        with pytest.raises(Exception, match="immutable"):
            database.run_txn("tamper", lambda txn, s=statement: txn.execute(text(s)))
    with database.engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() >= 1
        assert (
            conn.execute(
                text(f"SELECT count(*) FROM {table} WHERE {column} = 'changed'")
            ).scalar_one()
            == 0
        )
