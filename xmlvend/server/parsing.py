"""Request parsing: small bodies on the reactor thread, larger ones off it.

Parsing, normalising, validating and binding a request body (the codec's ``parse_request``,
the same hardened parser either way) of more than ``inline_max_bytes``
(``server.inline_parse_max_bytes``, default 4 KiB, after gzip decompression) runs on a
small dedicated pool of threads owned by the server, never on the reactor thread: whatever
a large body makes the parser do, ``/healthz``, metrics and every other request keep being
answered.

A body up to the bound is parsed at once on the calling (reactor) thread. The hop to a
parse thread and back (a submitted work item, the wait timer, ``callFromThread``, two GIL
hand-offs) costs more CPU than parsing a typical request (~1 KiB, ~65 us), and the bound
keeps the worst inline parse well under a millisecond: the costliest bodies measured (tiny
unknown elements, ``<a/>`` repeated) take ~140 us per KiB, ~0.55 ms at 4 KiB; the
element count limit (2000) caps any body at ~1.2 ms (docs/PERFORMANCE.md, "Inline parse").

The pool is bounded twice:

* ``threads`` workers (``server.parse_threads``): lxml releases the GIL while it parses and
  validates, so two threads keep up with far more requests than the database can sell;
* a request waits at most ``wait_seconds`` (``server.parse_wait_seconds``) for a free
  worker, else it never starts and is answered ``SystemEx`` "busy" (:class:`ParserBusy`,
  nothing changed). Parse time itself is bounded by the body size limits.

:class:`ParsePool` is the real implementation; :func:`parse_now` parses every body
synchronously on the calling thread, for tests on a fake reactor and single-threaded tools.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

from twisted.internet.defer import Deferred, fail, succeed
from twisted.python.failure import Failure

from xmlvend.codec import Request, parse_request, warm_up
from xmlvend.server.errors import ParserBusy


class RequestParser(Protocol):
    """``parser(body)`` -> Deferred firing with the parsed request; errback with the
    codec's :class:`~xmlvend.codec.CodecError` or :class:`ParserBusy`."""

    def __call__(self, body: bytes) -> Deferred: ...


def parse_now(body: bytes) -> Deferred:
    """A synchronous :class:`RequestParser` (tests on a fake reactor, tools)."""
    return _parse_at_once(parse_request, body)


def _parse_at_once(parse: Callable[[bytes], Request], body: bytes) -> Deferred:
    try:
        return succeed(parse(body))
    except Exception:
        return fail()


class ParsePool:
    """The real :class:`RequestParser` (see the module docstring). ``reactor`` provides
    ``callLater`` (the wait bound) and ``callFromThread`` (results back on the reactor)."""

    def __init__(
        self,
        reactor: Any,
        *,
        threads: int,
        wait_seconds: float,
        inline_max_bytes: int = 0,
        parse: Callable[[bytes], Request] = parse_request,
    ) -> None:
        self._reactor = reactor
        self._threads = threads
        self._wait = wait_seconds
        self._inline_max = inline_max_bytes
        self._parse = parse
        # Each worker compiles the lenient schema once, before its first request.
        self._executor = ThreadPoolExecutor(
            max_workers=threads, thread_name_prefix="evd-parse", initializer=warm_up
        )

    def __call__(self, body: bytes) -> Deferred:
        if len(body) <= self._inline_max:
            return _parse_at_once(self._parse, body)
        return self.run(self._parse, body)

    def run(self, fn: Callable[..., Any], /, *args: Any) -> Deferred:
        """``fn(*args)`` on a worker; a Deferred fired on the reactor thread with its result
        or failure, or with :class:`ParserBusy` if no worker took it within the wait bound
        (it then never runs)."""
        result: Deferred = Deferred()
        future = self._executor.submit(fn, *args)
        timer = self._reactor.callLater(self._wait, self._waited_too_long, future, result)

        def done(finished: Future[Any]) -> None:  # on the worker (or the reactor if cancelled)
            if not finished.cancelled():
                self._reactor.callFromThread(self._deliver, finished, result, timer)

        future.add_done_callback(done)
        return result

    def _waited_too_long(self, future: Future[Any], result: Deferred) -> None:
        # cancel() succeeds only for work no worker has started: it will never run.
        if future.cancel():
            result.errback(
                Failure(
                    ParserBusy(
                        "The server is too busy to read the request; nothing was changed, "
                        "please try again"
                    )
                )
            )

    @staticmethod
    def _deliver(future: Future[Any], result: Deferred, timer: Any) -> None:
        if timer.active():
            timer.cancel()
        error = future.exception()
        if error is not None:
            result.errback(Failure(error))
        else:
            result.callback(future.result())

    def start(self) -> None:
        """Start every worker now (each compiles the lenient schema) rather than on the
        first requests."""
        for _ in range(self._threads):
            self._executor.submit(int)

    def stop(self) -> None:
        """No new work; work already queued still runs and is answered."""
        self._executor.shutdown(wait=False)
