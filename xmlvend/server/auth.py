"""Who is asking: the TLS client certificate check, then clientID -> vendor and operator
name/password -> operator through :class:`vending.auth.Authenticator`.

A login is three steps, so that scrypt never occupies a database thread (48 clients
sending wrong passwords would otherwise stall every vend queued behind them): the identity
and the throttle's locks are read on the database pool (``call_blocking``), the password is
checked on a small pool of its own (``call_hashing``, bounded by :class:`BoundedCaller`:
beyond its queue a login is refused at once), and the outcome (a failure counted, or a
success) is written on the database pool again. Before any of it, on the reactor thread, a
key this process knows to be locked is refused (``LoginThrottled``), then a verified
credential still in the Authenticator's cache is answered without any hop. Each
state-changing transaction re-checks the principal (``vending.auth.revalidate``); when that
reports ``CredentialsChanged`` the endpoint forgets the cached verification and
authenticates once more.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Collection
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IReactorFromThreads, IReactorTime
from twisted.python.failure import Failure

from vending.auth import Authenticator, LoginAttempt, Principal, Verdict
from vending.errors import AuthenticationFailed
from vending.login_throttle import LoginThrottled
from xmlvend.codec.types_base import RequestHeader
from xmlvend.server.convert import device_value
from xmlvend.server.errors import ClientIDMismatch, OperationNotAllowed

BlockingCaller = Callable[..., Deferred]


class ThreadCaller:
    """``call(fn, *args)`` runs ``fn`` on an executor and fires a Deferred on the reactor."""

    def __init__(self, reactor: IReactorFromThreads, executor: Executor) -> None:
        self._reactor = reactor
        self._executor = executor

    def __call__(self, fn: Callable[..., Any], /, *args: Any) -> Deferred:
        deferred: Deferred = Deferred()
        future = self._executor.submit(fn, *args)

        def fire(done: Future[Any]) -> None:
            error = done.exception()
            if error is not None:
                self._reactor.callFromThread(deferred.errback, error)
            else:
                self._reactor.callFromThread(deferred.callback, done.result())

        future.add_done_callback(fire)
        return deferred


HASHING_NICE = 10


def hashing_executor(threads: int) -> ThreadPoolExecutor:
    """The password-hashing pool: ``threads`` threads, each at a lower CPU priority
    (Linux applies ``setpriority`` to a thread id), so that under a flood of logins the
    reactor and the database threads still get the CPU first."""
    return ThreadPoolExecutor(
        max_workers=threads, thread_name_prefix="evd-hash", initializer=_lower_priority
    )


def _lower_priority() -> None:
    # Not Linux, or not allowed: the pool still works, at normal priority.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICE)


class LoginBusy(AuthenticationFailed):
    """Too many password checks are waiting; the login is refused without one."""

    code = "login_busy"


class BoundedCaller:
    """A ``BlockingCaller`` that lets at most ``limit`` calls wait or run at once; beyond
    that it fails at once with :class:`LoginBusy`. Used from the reactor thread only."""

    def __init__(self, caller: BlockingCaller, limit: int) -> None:
        self._caller = caller
        self._limit = limit
        self.pending = 0

    def __call__(self, fn: Callable[..., Any], /, *args: Any) -> Deferred:
        if self.pending >= self._limit:
            return fail(LoginBusy("too many logins are being checked; try again shortly"))
        self.pending += 1
        d = self._caller(fn, *args)

        def done(result: Any) -> Any:
            self.pending -= 1
            return result

        return d.addBoth(done)


def call_now(fn: Callable[..., Any], /, *args: Any) -> Deferred:
    """A synchronous ``BlockingCaller`` for tests and tools."""
    try:
        return succeed(fn(*args))
    except Exception:
        return fail()


class Gatekeeper:
    """Authentication and authorisation of one request (see the module docstring)."""

    def __init__(
        self,
        authenticator: Authenticator,
        call_blocking: BlockingCaller,
        *,
        call_hashing: BlockingCaller | None = None,
        denied_operations: Callable[[str], Collection[str]] | None = None,
        reactor: IReactorTime | None = None,
        throttled_delay: float = 0.0,
    ) -> None:
        self._authenticator = authenticator
        self._call = call_blocking
        self._hash = call_hashing or call_blocking
        self._reactor = reactor
        self._throttled_delay = throttled_delay if reactor is not None else 0.0
        self._denied = denied_operations

    @staticmethod
    def check_certificate(header: RequestHeader, identities: frozenset[str] | None) -> None:
        """With a client certificate, the clientID must be one of its identities."""
        if identities is None:
            return
        client_id = device_value(header.client_id)
        if client_id not in identities:
            raise ClientIDMismatch(
                f"clientID {client_id} does not match the client certificate of this connection"
            )

    def authenticate(self, header: RequestHeader, address: str | None = None) -> Deferred:
        """-> Principal; errbacks UnknownVendor, VendorBlocked, AuthenticationFailed
        (LoginThrottled, LoginBusy), OperatorBlocked. ``address``: the peer's address from
        the transport, for the per-address throttle."""
        auth = header.auth_cred
        client_id = device_value(header.client_id)
        op_name = None if auth is None else auth.op_name
        password = None if auth is None else auth.password
        new_password = None if auth is None else auth.new_password
        authenticator = self._authenticator
        try:
            authenticator.locked(client_id, op_name, address)
        except LoginThrottled:
            return self._slowly(fail())
        if not new_password:
            # A cached verification needs neither the database nor scrypt: answer it here
            # instead of queueing behind the database pool (the operation's own
            # transaction re-checks the principal anyway, vending.auth.revalidate).
            found = authenticator.cached(client_id, op_name, password)
            if found is not None:
                return succeed(found)

        def check(attempt: LoginAttempt | Principal) -> Any:
            if isinstance(attempt, Principal):
                return attempt
            checked = self._hash(authenticator.verify, attempt)
            return checked.addCallback(lambda verdict: record(attempt, verdict))

        def record(attempt: LoginAttempt, verdict: Verdict) -> Deferred:
            return self._call(authenticator.finish, attempt, verdict)

        started = self._call(
            authenticator.begin, client_id, op_name, password, new_password, address
        )
        return self._slowly(started.addCallback(check))

    def _slowly(self, result: Deferred) -> Deferred:
        """A throttled login is answered only after ``throttled_delay`` seconds: that costs
        the server a timer, and an attacker waiting for each answer (a browser, a script
        reusing its connections) is slowed to a trickle instead of getting refusals as fast
        as it can send -- parsing and refusing a flood would cost the vends' CPU."""
        if not self._throttled_delay:
            return result
        delayed: Deferred = Deferred()

        def answer(outcome: Any) -> None:
            if isinstance(outcome, Failure) and outcome.check(LoginThrottled):
                assert self._reactor is not None
                self._reactor.callLater(self._throttled_delay, delayed.errback, outcome)
            elif isinstance(outcome, Failure):
                delayed.errback(outcome)
            else:
                delayed.callback(outcome)

        result.addBoth(answer)
        return delayed

    def forget(self, client_id: str) -> None:
        self._authenticator.forget(client_id)

    def authorise(self, principal: Principal, operation: str) -> None:
        """Refuse operations the vendor is not allowed (RequestAuthorisationEx): those
        needing a privilege it lacks, and those the ``denied_operations`` hook names."""
        needed = OPERATION_PRIVILEGES.get(operation)
        if needed is not None and needed not in principal.privileges:
            raise OperationNotAllowed(
                f"this vendor may not use the {operation} operation "
                f"(it needs the {needed} privilege)"
            )
        if self._denied is not None and operation in self._denied(principal.client_id):
            raise OperationNotAllowed(f"this vendor may not use the {operation} operation")


# Operations a vendor needs a privilege for (vending.vendors.PRIVILEGES); everything else
# is open to every authenticated vendor.
OPERATION_PRIVILEGES: dict[str, str] = {
    "freeIssue": "free_issue",
    "meterCreditTransfer": "meter_credit_transfer",
    "meterSpecificEng": "engineering",
}
