"""Failed logins through the server: after N failures RequestAuthorisationEx with a
retry-after reason and an audit row; the lock expires on the server's clock; the address is
the transport's, never anything the request says."""

from __future__ import annotations

from typing import Any

import pytest
from server_support import (
    CAFE,
    CAFE_OPERATOR,
    NORMAL_METER,
    PLATFORM,
    PLATFORM_OPERATOR,
    World,
    build_world,
    confirm_meter,
)
from sqlalchemy import select

from vending.config import Config, SecurityConfig, ServerConfig
from vending.keyring import Keyring
from vending.storage.database import Database, Txn
from vending.storage.schema import audit_log
from xmlvend.codec import render_request

LIMIT = 48
LOCKOUT = 300.0
DELAY = 1.0


@pytest.fixture
def world(database: Database, keyring: Keyring, secrets_sentinel: object) -> World:
    config = Config(
        server=ServerConfig(deadline_seconds=8.0),
        security=SecurityConfig(
            scrypt_log_n=10,
            login_max_failures_per_operator=LIMIT,
            login_max_failures_per_address=1000,
            login_lockout_seconds=LOCKOUT,
        ),
    )
    return build_world(database, keyring, secrets_sentinel, vouchers=0, config=config)


def _confirm(world: World, operator: tuple[str, str], client_id: str = CAFE) -> Any:
    response = world.call(confirm_meter(world.header(client_id, operator), NORMAL_METER))
    return response.status, response.parsed()


def _confirm_throttled(world: World, operator: tuple[str, str], client_id: str = CAFE) -> Any:
    """A throttled login is answered after login_throttled_delay_seconds, by a timer."""
    connection = world.connect()
    request = confirm_meter(world.header(client_id, operator), NORMAL_METER)
    connection.post(render_request(request), wait=False)
    assert connection.responses() == []  # held ...
    world.reactor.advance(DELAY)  # ... until the delay has passed on the reactor's clock
    response = connection.last()
    return response.status, response.parsed()


def _locks(world: World) -> list[dict]:
    def load(txn: Txn) -> list[dict]:
        rows = txn.execute(select(audit_log).where(audit_log.c.action == "login_locked"))
        return [dict(row._mapping) for row in rows]

    return world.database.run_txn("t_audit", load)


def test_the_49th_failure_is_refused_with_retry_after_and_audited(world: World) -> None:
    wrong = (CAFE_OPERATOR[0], "wrong-pw1")
    for _ in range(LIMIT):
        status, fault = _confirm(world, wrong)
        assert status == 500
        assert fault.fault_class == "RequestAuthorisationEx"
        assert fault.desc == "unknown operator or wrong password"
    status, fault = _confirm_throttled(world, wrong)
    assert (status, fault.fault_class) == (500, "RequestAuthorisationEx")
    assert fault.desc == "too many failed logins for this operator; retry after 300 seconds"
    [lock] = _locks(world)
    assert lock["subject"] == f"operator:{CAFE} {CAFE_OPERATOR[0]}"
    assert lock["details"]["failures"] == LIMIT
    assert "wrong-pw1" not in str(lock)
    # The right password is refused too while the lock lasts (no guessing oracle) ...
    world.clock.advance(LOCKOUT - 1)
    status, fault = _confirm_throttled(world, CAFE_OPERATOR)
    assert fault.desc == "too many failed logins for this operator; retry after 1 seconds"
    # ... other operators are not affected ...
    assert _confirm(world, PLATFORM_OPERATOR, PLATFORM)[0] == 200
    # ... and once it has expired the right password works again.
    world.clock.advance(1)
    status, answer = _confirm(world, CAFE_OPERATOR)
    assert status == 200, answer


def test_the_address_is_the_transports(
    database: Database, keyring: Keyring, secrets_sentinel: object
) -> None:
    """Failures from one address lock that address for every operator; a request cannot
    name another address for itself (the in-memory transport's peer is 10.0.0.7)."""
    config = Config(
        server=ServerConfig(deadline_seconds=8.0),
        security=SecurityConfig(
            scrypt_log_n=10, login_max_failures_per_operator=100, login_max_failures_per_address=3
        ),
    )
    world = build_world(database, keyring, secrets_sentinel, vouchers=0, config=config)
    for name in ("guess1", "guess2", "guess3"):
        assert _confirm(world, (name, "wrong-pw1"))[1].desc == "unknown operator or wrong password"
    _status, fault = _confirm_throttled(world, PLATFORM_OPERATOR, PLATFORM)
    assert fault.desc == "too many failed logins for this client address; retry after 300 seconds"
    [lock] = _locks(world)
    assert lock["subject"] == "address:10.0.0.7"
