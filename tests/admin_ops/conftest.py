"""The admin suite's operational screens: in process over the XMLVend test world with
/admin mounted (SQLite and PostgreSQL), and in a real browser against ``evd serve``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS / "xmlvend" / "server"))
sys.path.insert(0, str(TESTS / "admin"))

from admin_support import AdminWorld, build_admin_world  # noqa: E402
from browser_support import browser, desktop_page  # noqa: E402, F401
from fixed_clock import MutableClock  # noqa: E402

from vending.keyring import Keyring  # noqa: E402
from vending.storage.database import Database  # noqa: E402


@pytest.fixture
def adm(
    database: Database, keyring: Keyring, secrets_sentinel: object, clock: MutableClock
) -> AdminWorld:
    return build_admin_world(database, keyring, secrets_sentinel, clock)
