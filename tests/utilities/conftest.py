"""Fixtures of the utilities tests; the helpers they use live in utilities_support.py
(imported by name: several test directories have a conftest.py, so ``from conftest import``
would be ambiguous)."""

from __future__ import annotations

import pytest
from utilities_support import World, build_world

from vending.keyring import Keyring
from vending.storage.database import Database


@pytest.fixture
def world(database: Database, keyring: Keyring) -> World:
    return build_world(database, keyring)
