"""Run the core's named transaction functions from the reactor: each call goes to the
database's dedicated thread pool and comes back as a Deferred fired on the reactor thread."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorFromThreads

if TYPE_CHECKING:  # only its run_txn/submit are used: the adapter imports no storage
    from vending.storage.database import Database


class AsyncDatabase:
    """A :class:`utilities.interface.TxnRunner` over a :class:`Database`."""

    def __init__(self, reactor: IReactorFromThreads, database: Database) -> None:
        self._reactor = reactor
        self.database = database

    def run(self, desc: str, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Deferred:
        deferred: Deferred = Deferred()
        future = self.database.submit(desc, fn, *args, **kwargs)

        def fire(done: Future[Any]) -> None:
            # Runs on the database thread: hand the outcome to the reactor thread.
            error = done.exception()
            if error is not None:
                self._reactor.callFromThread(deferred.errback, error)
            else:
                self._reactor.callFromThread(deferred.callback, done.result())

        future.add_done_callback(fire)
        return deferred


class ImmediateDatabase:
    """A synchronous runner for tests and tools: runs the transaction at once."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def run(self, desc: str, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Deferred:
        from twisted.internet.defer import fail, succeed

        try:
            return succeed(self.database.run_txn(desc, fn, *args, **kwargs))
        except Exception:
            return fail()
