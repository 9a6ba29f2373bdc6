"""Fixtures of the admin suite's tests: the XMLVend test world with /admin mounted, on
SQLite and PostgreSQL (the shared ``database`` fixture), on the test's clock."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The XMLVend server tests' helpers (seeding, in-memory HTTP) are shared, as one module.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "xmlvend" / "server"))

from admin_support import AdminWorld, build_admin_world
from fixed_clock import MutableClock

from vending.keyring import Keyring
from vending.storage.database import Database


@pytest.fixture
def adm(
    database: Database, keyring: Keyring, secrets_sentinel: object, clock: MutableClock
) -> AdminWorld:
    return build_admin_world(database, keyring, secrets_sentinel, clock)
