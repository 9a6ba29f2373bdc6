"""Live servers for the conformance tests: started once per session, on their own demo
databases, stopped at the end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conformance_servers import LiveServer, demo_environment, running


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """``evd serve`` with the demo data (its low-credit vendor serves FT-005)."""
    directory: Path = tmp_path_factory.mktemp("serve")
    env = demo_environment(directory)
    with running(env, "serve", "--port", "0", directory=directory) as server:
        yield server


@pytest.fixture(scope="session")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """``evd simulate-utility`` with the demo data."""
    directory: Path = tmp_path_factory.mktemp("simulator")
    env = demo_environment(directory)
    with running(env, "simulate-utility", "--port", "0", directory=directory) as server:
        yield server
