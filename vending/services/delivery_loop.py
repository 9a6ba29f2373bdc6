"""The one loop that drains an outbox (MTs to Kannel, webhooks to API clients).

A round is ``drain()``: it claims what is due, hands it over and records each attempt (its
retry and backoff are the outbox's: ``next_attempt_at`` of a failed attempt). The loop runs
one round at a time: at start, at once when woken (:meth:`DeliveryLoop.kick`, e.g. by a
commit that queued something) and otherwise every ``poll_seconds`` (work queued by another
process, retries falling due). A kick during a round runs another round right after it, so
nothing queued meanwhile waits for the poll. A round that fails is logged and the loop goes
on.

The core imports no Twisted: ``reactor`` is anything with ``callLater`` (the reactor, or
``task.Clock`` in tests) and ``spawn`` drives a coroutine (``ensureDeferred``); what
``spawn`` returned for the running round is what :meth:`stop` hands back to wait on.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

log = logging.getLogger("evd.delivery")


class Timer(Protocol):
    def callLater(self, delay: float, fn: Callable[..., Any], *args: Any) -> Any: ...


class DeliveryLoop:
    def __init__(
        self,
        name: str,
        drain: Callable[[], Awaitable[Any]],
        reactor: Timer,
        spawn: Callable[[Coroutine[Any, Any, None]], Any],
        *,
        poll_seconds: float,
    ) -> None:
        self.name = name
        self._drain = drain
        self._reactor = reactor
        self._spawn = spawn
        self._poll = poll_seconds
        self._timer: Any = None
        self._busy = False
        self._running: Any = None
        self._stopped = True
        self._again = False
        self.rounds = 0

    @property
    def running(self) -> bool:
        return not self._stopped

    def start(self) -> None:
        self._stopped = False
        self._schedule(0)

    def stop(self) -> Any:
        """Stop polling; the running round's handle (what ``spawn`` gave), or None."""
        self._stopped = True
        self._cancel()
        return self._running if self._busy else None

    def kick(self) -> None:
        """Something was queued: a round now, or right after the running one."""
        if self._stopped:
            return
        if self._busy:
            self._again = True
            return
        self._schedule(0)

    def _cancel(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _schedule(self, delay: float) -> None:
        self._cancel()
        self._timer = self._reactor.callLater(delay, self._tick)

    def _tick(self) -> None:
        self._timer = None
        if self._stopped or self._busy:
            return
        self._busy = True
        self._again = False
        handle = self._spawn(self._round())
        # A round that finished inside spawn (a synchronous runner) left nothing to wait on.
        self._running = handle if self._busy else None

    async def _round(self) -> None:
        try:
            self.rounds += 1
            await self._drain()
        except Exception:
            log.exception("%s delivery round failed", self.name)
        finally:
            self._busy = False
            self._running = None
            if not self._stopped:
                self._schedule(0 if self._again else self._poll)


__all__ = ["DeliveryLoop", "Timer"]
