"""Who is asking: the TLS client certificate check, then clientID -> vendor and operator
name/password -> operator through :class:`vending.auth.Authenticator`.

The Authenticator blocks (a database read and, on a cache miss, scrypt), so it runs on a
worker thread through the injected ``call_blocking``; its verified-credential cache keeps
scrypt off every request after the first, and a cache hit is answered on the reactor thread
without that hop. Each state-changing transaction re-checks the principal
(``vending.auth.revalidate``); when that reports ``CredentialsChanged`` the endpoint forgets
the cached verification and authenticates once more.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from concurrent.futures import Executor, Future
from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IReactorFromThreads

from vending.auth import Authenticator, Principal
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
        denied_operations: Callable[[str], Collection[str]] | None = None,
    ) -> None:
        self._authenticator = authenticator
        self._call = call_blocking
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

    def authenticate(self, header: RequestHeader) -> Deferred:
        """-> Principal; errbacks UnknownVendor, VendorBlocked, AuthenticationFailed,
        OperatorBlocked."""
        auth = header.auth_cred
        if auth is None or not auth.new_password:
            # A cached verification needs neither the database nor scrypt: answer it here
            # instead of queueing behind the database pool (the operation's own
            # transaction re-checks the principal anyway, vending.auth.revalidate).
            found = self._authenticator.cached(
                device_value(header.client_id),
                None if auth is None else auth.op_name,
                None if auth is None else auth.password,
            )
            if found is not None:
                return succeed(found)
        return self._call(
            self._authenticator.authenticate,
            device_value(header.client_id),
            None if auth is None else auth.op_name,
            None if auth is None else auth.password,
            None if auth is None else auth.new_password,
        )

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
