"""Fixtures of the JSON API tests: the XMLVend world (demo data, test meters, voucher stock)
with the JSON API mounted in the same Site, on SQLite and PostgreSQL."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The XMLVend server tests' helpers (seeding, in-memory HTTP) are shared, as one module.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "xmlvend" / "server"))

from api_support import ApiWorld, build_api_world

from vending.keyring import Keyring
from vending.storage.database import Database


@pytest.fixture
def api(database: Database, keyring: Keyring, secrets_sentinel: object) -> ApiWorld:
    return build_api_world(database, keyring, secrets_sentinel)
