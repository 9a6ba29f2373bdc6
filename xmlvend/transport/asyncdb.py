"""Run the core's named transaction functions from the reactor: each call goes to the
database's dedicated thread pool and comes back as a Deferred fired on the reactor thread."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorFromThreads

if TYPE_CHECKING:  # only its run_txn/submit are used: the adapter imports no storage
    from vending.storage.database import Database, Txn

P = ParamSpec("P")
log = logging.getLogger("evd.database")


class AsyncDatabase:
    """A :class:`utilities.interface.TxnRunner` over a :class:`Database`."""

    def __init__(self, reactor: IReactorFromThreads, database: Database) -> None:
        self._reactor = reactor
        self.database = database

    def run(
        self,
        desc: str,
        fn: Callable[Concatenate[Txn, P], Any],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> Deferred:
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

    def call_on_database_thread(self, fn: Callable[..., Any], /, *args: Any) -> None:
        """Call ``fn(*args)`` on a thread of the database's pool, outside any transaction:
        for a caller that runs several transactions there one after another
        (:meth:`run_on_this_thread`; the sales batcher chains its batches so). ``fn``
        reports its own outcome (e.g. with ``reactor.callFromThread``); an exception it
        lets out is logged."""
        self.database.executor.submit(fn, *args).add_done_callback(_log_escaped)

    def run_on_this_thread(
        self,
        desc: str,
        fn: Callable[Concatenate[Txn, P], Any],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> Any:
        """Blocking: one transaction on the calling thread, which must be one of the
        database's (inside :meth:`call_on_database_thread`), never the reactor's."""
        return self.database.run_txn(desc, fn, *args, **kwargs)


def _log_escaped(done: Future[Any]) -> None:
    error = done.exception()
    if error is not None:
        log.error("a call on the database thread failed", exc_info=error)


class ImmediateDatabase:
    """A synchronous runner for tests and tools: runs the transaction at once."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def run(
        self,
        desc: str,
        fn: Callable[Concatenate[Txn, P], Any],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> Deferred:
        from twisted.internet.defer import fail, succeed

        try:
            return succeed(self.database.run_txn(desc, fn, *args, **kwargs))
        except Exception:
            return fail()
