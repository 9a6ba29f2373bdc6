"""Fixtures of the utilities tests; the helpers they use live in utilities_support.py
(imported by name: several test directories have a conftest.py, so ``from conftest import``
would be ambiguous)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from utilities_support import World, build_world

from vending.keyring import Keyring
from vending.storage.database import Database


@pytest.fixture
def world(database: Database, keyring: Keyring) -> World:
    return build_world(database, keyring)


# --- a reactor in a background thread (loopback tests) ------------------------------------------

_reactor_threads: list[threading.Thread] = []


@pytest.fixture(scope="session")
def running_reactor() -> Iterator[Any]:
    """The global reactor, running in a daemon thread; use ``blockingCallFromThread``."""
    from twisted.internet import reactor

    if not _reactor_threads and not reactor.running:
        thread = threading.Thread(
            target=reactor.run, kwargs={"installSignalHandlers": False}, daemon=True
        )
        thread.start()
        _reactor_threads.append(thread)
    yield reactor
