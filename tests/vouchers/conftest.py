"""Fixtures of the voucher stock tests: session-wide GnuPG keys and a stock world per test
(on SQLite and PostgreSQL through the shared ``database`` fixture)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from voucher_support import GpgKeys, StockWorld, gpg_keys_in, stock_world

from vending.keyring import Keyring
from vending.storage.database import Database


@pytest.fixture(scope="session")
def gpg_keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GpgKeys]:
    """Real keys in temporary GnuPG homes, made once per run (ed25519 + cv25519)."""
    with gpg_keys_in(Path(tmp_path_factory.mktemp("gnupg"))) as keys:
        yield keys


@pytest.fixture
def world(
    database: Database, keyring: Keyring, gpg_keys: GpgKeys, secrets_sentinel: object
) -> StockWorld:
    return stock_world(database, keyring, gpg_keys, secrets_sentinel)
