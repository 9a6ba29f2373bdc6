"""The :class:`catalogue.interface.Scheduler` on a Twisted reactor (``task.Clock`` in
tests): work returning a coroutine is driven as a Deferred; failures are logged."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import ensureDeferred
from twisted.internet.interfaces import IReactorTime

log = logging.getLogger("evd.catalogue.tasks")


class ReactorScheduler:
    def __init__(self, reactor: IReactorTime) -> None:
        self._reactor = reactor

    def call_later(self, seconds: float, work: Callable[[], Any]) -> None:
        self._reactor.callLater(max(0.0, seconds), self._run, work)

    @staticmethod
    def _run(work: Callable[[], Any]) -> None:
        try:
            result = work()
        except Exception:
            log.exception("scheduled work failed")
            return
        if inspect.isawaitable(result):
            d = ensureDeferred(result)
            d.addErrback(lambda f: log.error("scheduled work failed: %s", f.getTraceback()))
