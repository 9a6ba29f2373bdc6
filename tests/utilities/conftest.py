"""Fixtures of the utilities tests; the helpers they use live in utilities_support.py
(imported by name: several test directories have a conftest.py, so ``from conftest import``
would be ambiguous)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from upstream_support import UpstreamLoop, build_loop
from utilities_support import World, build_world

from vending.keyring import Keyring
from vending.storage.database import Database


@pytest.fixture
def world(database: Database, keyring: Keyring) -> World:
    return build_world(database, keyring)


def _running_loop(
    database: Database, keyring: Keyring, sqlite_template: Path, tmp_path: Path
) -> Iterator[UpstreamLoop]:
    running = build_loop(build_world(database, keyring), sqlite_template, tmp_path)
    try:
        yield running
    finally:
        running.close()


# The upstream route against the utility simulator, in memory (upstream_support).
@pytest.fixture
def loop(
    database: Database, keyring: Keyring, sqlite_template: Path, tmp_path: Path
) -> Iterator[UpstreamLoop]:
    yield from _running_loop(database, keyring, sqlite_template, tmp_path)


# The same on PostgreSQL only (the sales batcher's tests).
@pytest.fixture
def pg_loop(
    pg_database: Database, keyring: Keyring, sqlite_template: Path, tmp_path: Path
) -> Iterator[UpstreamLoop]:
    yield from _running_loop(pg_database, keyring, sqlite_template, tmp_path)
