"""Fixtures of the vending core tests (helpers live in ``vending_support``)."""

from __future__ import annotations

import os

import pytest
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
