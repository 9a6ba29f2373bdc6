"""Fixtures of the vending core tests (helpers live in ``vending_support``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event
from vending_support import build_world, run

from vending.storage.database import Database


@pytest.fixture
def world(database: Database) -> Database:
    """The ``database`` (SQLite or PostgreSQL) with the standard test world in it."""
    run(database, build_world)
    return database


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No EVD_* variable of the caller's environment leaks into a test."""
    for name in list(os.environ):
        if name.startswith("EVD"):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.fixture
def sent(pg_database: Database) -> Iterator[list[str]]:
    """Every query string sent to the PostgreSQL server, as the driver sends it."""
    seen: list[str] = []

    def record(_c: Any, _cur: Any, statement: str, *_rest: Any) -> None:
        seen.append(statement)

    event.listen(pg_database.engine, "after_cursor_execute", record)
    yield seen
    event.remove(pg_database.engine, "after_cursor_execute", record)
