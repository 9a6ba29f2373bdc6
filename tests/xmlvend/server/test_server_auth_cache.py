"""A verified credential still in the cache is answered on the reactor thread: no hop to
the database pool. Anything else (first sight, a wrong password, a password change, after
forget) still goes through the blocking authenticator."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from tools.conformance import builders
from tools.conformance.profile import Credentials
from vending.auth import Authenticator
from vending.errors import AuthenticationFailed
from vending.passwords import hash_password
from vending.storage.database import Database, Txn
from vending.vendors import create_operator, create_vendor
from xmlvend.codec.types_base import MsgID, RequestHeader
from xmlvend.server.auth import BoundedCaller, Gatekeeper, LoginBusy, call_now
from xmlvend.server.faults import fault_for

CLIENT = "6004708000090"
PASSWORD = "s3cret-pw"


def _setup(txn: Txn) -> None:
    create_vendor(txn, client_id=CLIENT, name="Cafe", currency="ZAR")
    create_operator(
        txn, name="op1", password_hash=hash_password(PASSWORD, log_n=10), vendor_client_id=CLIENT
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
    """A synchronous call_blocking that counts the calls it gets (and what it ran)."""

    def __init__(self) -> None:
        self.calls = 0
        self.ran: list[str] = []

    def __call__(self, fn: Any, /, *args: Any) -> Deferred:
        self.calls += 1
        self.ran.append(fn.__name__)
        return call_now(fn, *args)


def _result(d: Deferred) -> Any:
    found: list[Any] = []
    d.addBoth(found.append)
    return found[0]


@pytest.fixture
def gate(database: Database) -> tuple[Gatekeeper, CountingCaller, Authenticator]:
    database.run_txn("setup", _setup)
    authenticator = Authenticator(database, cache_seconds=60)
    # ``calls`` below counts password checks: they run on the hashing caller.
    hashing = CountingCaller()
    return Gatekeeper(authenticator, CountingCaller(), call_hashing=hashing), hashing, authenticator


def test_passwords_are_hashed_on_their_own_pool_never_the_database_one(
    database: Database,
) -> None:
    """The database caller gets the reads and writes; scrypt runs on the hashing caller
    (before the fix one blocking call on the database pool did both)."""
    database.run_txn("setup", _setup)
    db, hashing = CountingCaller(), CountingCaller()
    gatekeeper = Gatekeeper(Authenticator(database, cache_seconds=0), db, call_hashing=hashing)
    assert not isinstance(_result(gatekeeper.authenticate(_header(PASSWORD))), Failure)
    wrong = _result(gatekeeper.authenticate(_header("wrong-password"), "10.1.2.3"))
    assert wrong.check(AuthenticationFailed)
    assert hashing.ran == ["verify", "verify"]
    assert db.ran == ["begin", "finish", "begin", "finish"]


def test_a_full_hashing_queue_refuses_at_once(database: Database) -> None:
    """Beyond its bound, a login is refused without waiting (RequestAuthorisationEx)."""
    database.run_txn("setup", _setup)
    waiting: list[Deferred] = []

    def never(fn: Any, /, *args: Any) -> Deferred:
        d: Deferred = Deferred()
        waiting.append(d)
        return d

    bounded = BoundedCaller(never, 2)
    gatekeeper = Gatekeeper(Authenticator(database), call_now, call_hashing=bounded)
    answered: list[Any] = []
    gatekeeper.authenticate(_header("wrong-1")).addBoth(answered.append)
    gatekeeper.authenticate(_header("wrong-2")).addBoth(answered.append)
    third = _result(gatekeeper.authenticate(_header("wrong-3")))
    assert answered == []  # the first two still wait for the hashing pool
    assert third.check(LoginBusy)
    assert fault_for(third.value).fault_class == "RequestAuthorisationEx"
    waiting[0].errback(AuthenticationFailed("wrong"))  # one finishes: room again
    assert bounded.pending == 1
    assert len(answered) == 1


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
    authenticator = Authenticator(database, cache_seconds=0)
    authenticator.authenticate(CLIENT, "op1", PASSWORD)
    assert authenticator.cached(CLIENT, "op1", PASSWORD) is None
