"""A wake-up call between a service and a background worker in the same process: the
services fire it after a commit that gave the worker something to do (an SMS queued with a
sale), the worker (the SMS channel's deliverer) connects to it, so it starts at once
instead of at its next poll. Other processes still find the work by polling."""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger("evd.services.wakeup")


class Wakeup:
    def __init__(self) -> None:
        self._listeners: list[Callable[[], None]] = []

    def connect(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def disconnect(self, listener: Callable[[], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def __call__(self) -> None:
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:  # a listener's failure must not fail the sale that fired it
                log.exception("wake-up listener failed")


__all__ = ["Wakeup"]
