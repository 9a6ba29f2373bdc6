"""Fixtures of the oversight tests: the seeded platform on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from fixed_clock import MutableClock
from oversight_support import ImmediateRunner, seed

from vending.keyring import Keyring
from vending.storage.database import Database


@pytest.fixture
def sale_ids(database: Database, keyring: Keyring) -> dict[str, int]:
    return seed(database, keyring)


@pytest.fixture
def runner(database: Database) -> ImmediateRunner:
    return ImmediateRunner(database)


@pytest.fixture
def now(clock: MutableClock) -> MutableClock:
    return clock
