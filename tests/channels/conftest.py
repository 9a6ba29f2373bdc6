"""Fixtures of the SMS/USSD/card tests, on SQLite and PostgreSQL."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The XMLVend server tests' helpers (seeding, in-memory HTTP) are shared, as one module.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "xmlvend" / "server"))

from channel_support import ChannelWorld, build_channel_world

from vending.keyring import Keyring
from vending.storage.database import Database


@pytest.fixture
def world(database: Database, keyring: Keyring, secrets_sentinel: object) -> ChannelWorld:
    return build_channel_world(database, keyring, secrets_sentinel)


# The live fixtures (real Kannel, the switch simulator process), registered here.
from live_channels import live_cards, live_sms  # noqa: E402, F401
