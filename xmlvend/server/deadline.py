"""The 10-second bound: every request is answered within ``server.deadline_seconds``.

:func:`answer_by` races a request's work against a timer on the injected reactor. Whichever
comes first answers the client; the work is never cancelled:

* work first -> its reply (or the fault of its failure) is the answer;
* deadline first -> the answer the caller supplies for that case (a state-changing request
  is told it is delayed, ``ext:TransactionDelayedEx``, and how to fetch the result with a
  last-response advice; a read-only one gets a ``SystemEx`` saying nothing was changed),
  and the work goes on in the background to its ``late`` handler, which makes sure a
  definitive answer ends up stored under the request key.

:class:`InFlight` remembers the state-changing requests this process is still working on,
so a last-response advice can tell "still running" from "never seen" even before the
request has claimed its key in the database.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure

T = TypeVar("T")


class InFlight:
    """Multiset of request keys ``(client_id, request_id)`` being worked on."""

    def __init__(self) -> None:
        self._keys: Counter[tuple[str, str]] = Counter()

    def add(self, key: tuple[str, str]) -> None:
        self._keys[key] += 1

    def discard(self, key: tuple[str, str]) -> None:
        count = self._keys.get(key, 0)
        if count <= 1:
            self._keys.pop(key, None)
        else:
            self._keys[key] = count - 1

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def running(self, client_id: str, request_id: str) -> bool:
        return (client_id, request_id) in self._keys

    def __len__(self) -> int:
        return sum(self._keys.values())


def answer_by(
    reactor: IReactorTime,
    seconds: float,
    work: Deferred,
    *,
    on_time: Callable[[Any], T],
    at_deadline: Callable[[], T],
    late: Callable[[Any], Any],
) -> Deferred:
    """A Deferred that fires within ``seconds`` with ``on_time(result)`` (result is the
    work's value or its Failure) or with ``at_deadline()``; in the second case ``late``
    gets the work's result when it comes (it may return a Deferred; its errors are the
    caller's to handle)."""
    answer: Deferred = Deferred()

    def deadline() -> None:
        if not answer.called:
            answer.callback(at_deadline())

    timer = reactor.callLater(seconds, deadline)

    def finished(result: Any) -> Any:
        if timer.active():
            timer.cancel()
        if not answer.called:
            answer.callback(on_time(result))
            return None
        return late(result)

    work.addBoth(finished)
    return answer


def is_failure(result: object) -> bool:
    return isinstance(result, Failure)
