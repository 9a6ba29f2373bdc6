"""Fixtures of the XMLVend server tests: the seeded world and its in-memory server, on
SQLite and PostgreSQL through the shared ``database`` fixture."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixed_clock import MutableClock
from server_support import World, build_world

from vending.keyring import Keyring
from vending.storage.database import Database


@pytest.fixture
def world(
    database: Database, keyring: Keyring, secrets_sentinel: object, clock: MutableClock
) -> World:
    """Demo vendors, operators, products, test meters and a few voucher PINs; the server
    built on a fake reactor and the test's clock with synchronous database calls."""
    return build_world(database, keyring, secrets_sentinel, clock=clock)


@pytest.fixture
def lite_world(
    sqlite_template: Path, tmp_path: Path, keyring: Keyring, secrets_sentinel: object
) -> Iterator[World]:
    """The world on SQLite only, for behaviour that does not depend on the database."""
    path = tmp_path / "lite.db"
    shutil.copyfile(sqlite_template, path)
    database = Database(f"sqlite:///{path}", pool_size=4)
    try:
        yield build_world(database, keyring, secrets_sentinel)
    finally:
        database.close()
