"""A verified credential still in the cache is answered on the reactor thread: no hop to
the database pool. Anything else (first sight, a wrong password, a password change, after
forget) still goes through the blocking authenticator."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from fixed_clock import NOW
from twisted.internet.defer import Deferred

from tools.conformance import builders
from tools.conformance.profile import Credentials
from vending.auth import Authenticator
from vending.errors import AuthenticationFailed
from vending.passwords import hash_password
from vending.storage.database import Database, Txn
from vending.vendors import create_operator, create_vendor
from xmlvend.codec.types_base import MsgID, RequestHeader
from xmlvend.server.auth import Gatekeeper, call_now

CLIENT = "6004708000090"
PASSWORD = "s3cret-pw"


def _setup(txn: Txn) -> None:
    create_vendor(txn, client_id=CLIENT, name="Cafe", currency="ZAR", now=NOW)
    create_operator(
        txn,
        name="op1",
        password_hash=hash_password(PASSWORD, log_n=10),
        vendor_client_id=CLIENT,
        now=NOW,
    )


def _header(password: str, new_password: str | None = None) -> RequestHeader:
    header = builders.request_header(
        Credentials(CLIENT, "1", "op1", password),
        MsgID(date_time="20260101120000", unique_number="1"),
    )
    if new_password is not None:
        assert header.auth_cred is not None
        header = dataclasses.replace(
            header, auth_cred=dataclasses.replace(header.auth_cred, new_password=new_password)
        )
    return header


class CountingCaller:
    """A synchronous call_blocking that counts the calls it gets."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, fn: Any, /, *args: Any) -> Deferred:
        self.calls += 1
        return call_now(fn, *args)


def _result(d: Deferred) -> Any:
    found: list[Any] = []
    d.addBoth(found.append)
    return found[0]


@pytest.fixture
def gate(database: Database) -> tuple[Gatekeeper, CountingCaller, Authenticator]:
    database.run_txn("setup", _setup)
    authenticator = Authenticator(database, cache_seconds=60, clock=lambda: NOW)
    caller = CountingCaller()
    return Gatekeeper(authenticator, caller), caller, authenticator


def test_a_cache_hit_needs_no_thread_hop(
    gate: tuple[Gatekeeper, CountingCaller, Authenticator],
) -> None:
    gatekeeper, caller, _ = gate
    first = _result(gatekeeper.authenticate(_header(PASSWORD)))
    assert caller.calls == 1
    again = _result(gatekeeper.authenticate(_header(PASSWORD)))
    assert again == first
    assert caller.calls == 1  # answered from the cache, on the calling thread


def test_anything_not_cached_goes_to_the_authenticator(
    gate: tuple[Gatekeeper, CountingCaller, Authenticator],
) -> None:
    gatekeeper, caller, authenticator = gate
    _result(gatekeeper.authenticate(_header(PASSWORD)))
    wrong = _result(gatekeeper.authenticate(_header("wrong-password")))
    assert wrong.check(AuthenticationFailed)
    assert caller.calls == 2
    authenticator.forget(CLIENT)
    _result(gatekeeper.authenticate(_header(PASSWORD)))
    assert caller.calls == 3


def test_a_password_change_is_never_answered_from_the_cache(
    gate: tuple[Gatekeeper, CountingCaller, Authenticator],
) -> None:
    gatekeeper, caller, _ = gate
    _result(gatekeeper.authenticate(_header(PASSWORD)))
    _result(gatekeeper.authenticate(_header(PASSWORD, new_password="n3w-Passw0rd!")))
    assert caller.calls == 2


def test_cached_expires(database: Database) -> None:
    database.run_txn("setup", _setup)
    authenticator = Authenticator(database, cache_seconds=0, clock=lambda: NOW)
    authenticator.authenticate(CLIENT, "op1", PASSWORD)
    assert authenticator.cached(CLIENT, "op1", PASSWORD) is None
