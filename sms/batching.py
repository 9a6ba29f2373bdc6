"""Group commit for the SMS channel's small bookkeeping transactions.

Every SMS round trip makes a handful of tiny transactions besides its sale: the replay
lookup, queuing the reply, two delivery reports. Each is a commit (an fsync); at hundreds of
messages a second they, not the sales, would bound the channel. ``BatchingRunner`` is a
``TxnRunner`` that collects the transaction functions submitted within ``delay`` seconds
(at most ``limit``) and runs them in order in one transaction; each caller's Deferred fires
with its own function's result after that one commit. Every function batched here is
retry-safe and independent (``ON CONFLICT DO NOTHING`` inserts, conditional updates,
reads); if the batch fails as a whole, each function is run again on its own, so one bad
item cannot fail the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred, ensureDeferred

log = logging.getLogger("evd.sms.batch")


def _run_all(txn: Any, items: list[tuple[Callable[..., Any], tuple, dict]]) -> list[Any]:  # type: ignore[type-arg]
    return [fn(txn, *args, **kwargs) for fn, args, kwargs in items]


class BatchingRunner:
    def __init__(self, inner: Any, reactor: Any, *, delay: float = 0.005, limit: int = 200):
        self._inner = inner
        self._reactor = reactor
        self._delay = delay
        self._limit = limit
        self._items: list[tuple[Callable[..., Any], tuple, dict, Deferred]] = []  # type: ignore[type-arg]
        self._timer: Any = None
        self.batches = 0

    def run(self, desc: str, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Deferred:
        waiting: Deferred = Deferred()
        self._items.append((fn, args, kwargs, waiting))
        if len(self._items) >= self._limit:
            self._flush()
        elif self._timer is None:
            self._timer = self._reactor.callLater(self._delay, self._flush)
        return waiting

    def _flush(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        items, self._items = self._items, []
        if items:
            self.batches += 1
            ensureDeferred(self._commit(items))

    async def _commit(self, items: list[tuple[Callable[..., Any], tuple, dict, Deferred]]) -> None:  # type: ignore[type-arg]
        work = [(fn, args, kwargs) for fn, args, kwargs, _ in items]
        try:
            results = await self._inner.run("sms_batch", _run_all, work)
        except Exception:
            log.warning("a batch of %d failed; running them one by one", len(items))
            for fn, args, kwargs, waiting in items:
                try:
                    waiting.callback(await self._inner.run("sms_batch_item", fn, *args, **kwargs))
                except Exception:
                    waiting.errback()
            return
        for (_, _, _, waiting), result in zip(items, results, strict=True):
            waiting.callback(result)


__all__ = ["BatchingRunner"]
