"""Alembic environment: always run from ``vending.storage.migrate`` with a live connection.

Migrations are written by hand (frozen snapshots, never generated at run time); the test
``tests/storage/test_migrations.py`` checks they build exactly the tables the code declares.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=None,
    # SQLite cannot ALTER most things; batch mode copies the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
