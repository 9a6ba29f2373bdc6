"""The mailbox poller ``evd serve`` runs (Twisted-friendly): every ``poll_seconds`` on the
reactor's clock (``task.LoopingCall`` with the injected reactor, so tests drive it with
``task.Clock``), and at once when :meth:`MailboxPoller.kick` is called -- by the IMAP IDLE
watcher when the server announces new mail. One poll at a time: a kick or a tick during a
poll asks for one more poll after it (mail that arrived meanwhile is not left waiting).

The blocking IMAP calls run through ``to_thread`` (``deferToThread`` in production). The
IDLE watcher is a daemon thread that only waits and signals through ``callFromThread``;
every alert is handled on the reactor by the deposits service.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred, ensureDeferred, succeed
from twisted.internet.task import LoopingCall

from deposits.intake.imap import Mailbox, MailboxSettings, ToThread, idle_wait, poll_once
from vending.services.deposits import Deposits

log = logging.getLogger("evd.deposits.poller")


class MailboxPoller:
    def __init__(
        self,
        mailbox: Mailbox,
        deposits: Deposits,
        reactor: Any,
        to_thread: ToThread,
        *,
        poll_seconds: float,
    ) -> None:
        self._mailbox = mailbox
        self._deposits = deposits
        self._reactor = reactor
        self._to_thread = to_thread
        self._loop = LoopingCall(self.kick)
        self._loop.clock = reactor
        self._poll_seconds = poll_seconds
        self._running: Deferred | None = None
        self._again = False
        self.polls = 0
        self.failures = 0

    def start(self) -> None:
        self._loop.start(self._poll_seconds, now=True)

    def stop(self) -> Deferred:
        if self._loop.running:
            self._loop.stop()
        return self._running if self._running is not None else succeed(None)

    def kick(self) -> None:
        """Poll now (or right after the poll under way)."""
        if self._running is not None:
            self._again = True
            return
        self._running = ensureDeferred(self._poll())
        self._running.addBoth(self._done)

    async def _poll(self) -> None:
        self.polls += 1
        try:
            results = await poll_once(self._mailbox, self._deposits, self._to_thread)
            if results:
                log.info("mailbox poll: %d bank e-mails handled", len(results))
        except Exception as error:  # the mailbox down: try again at the next tick
            self.failures += 1
            log.warning("mailbox poll failed: %s", error.__class__.__name__)

    def _done(self, _: object) -> None:
        self._running = None
        if self._again:
            self._again = False
            self.kick()


class IdleWatcher:
    """Waits in IMAP IDLE on a daemon thread and calls ``notify`` (from that thread) when
    the server announces new mail; reconnects after ``idle_seconds`` or an error."""

    def __init__(
        self,
        settings: MailboxSettings,
        notify: Callable[[], None],
        *,
        idle_seconds: float = 60.0,
        wait: Callable[..., bool | None] = idle_wait,
    ) -> None:
        self._settings = settings
        self._notify = notify
        self._idle_seconds = idle_seconds
        self._wait = wait
        self._stopped = threading.Event()
        # Set while the server is idling for us (tests wait on it before sending mail).
        self.idling = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="imap-idle", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        backoff = 1.0
        while not self._stopped.is_set():
            try:
                announced = self._wait(self._settings, self._idle_seconds, self.idling.set)
                self.idling.clear()
                if announced is None:
                    log.info("IMAP IDLE not offered by the server: polling only")
                    return
                if announced and not self._stopped.is_set():
                    self._notify()
                backoff = 1.0
            except Exception as error:
                log.warning("IMAP IDLE: %s; retrying", error.__class__.__name__)
                # Not business time: how long this thread waits before reconnecting.
                self._stopped.wait(backoff)
                backoff = min(backoff * 2, 60.0)


__all__ = ["IdleWatcher", "MailboxPoller"]
