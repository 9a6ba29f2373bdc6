"""MTs out through Kannel: the sendsms client and the outbox deliverer.

``KannelSendsms`` makes one ``GET /cgi-bin/sendsms`` per message part with a delivery-report
URL (``dlr-mask=31``: every state) pointing back at ``/sms/dlr`` with the message id and its
random token. It classifies what happened, because that decides whether a retry is safe:

* ``accepted``: a 2xx answer (``0: Accepted for delivery`` / ``3: Queued for later
  delivery``);
* ``unreachable``: the connection was never made, or Kannel refused the request (4xx/5xx:
  bad credentials, smsbox not connected): nothing was sent, retry with backoff;
* ``lost``: the request went out and no answer came: Kannel may send it, so it is never
  retried automatically (``unknown``).

``MtDeliverer`` drains the outbox on the injected reactor: every ``poll_seconds`` and at
once when kicked, claims due messages and sends them concurrently. The URL carries the
sendsms password and the text: neither is ever logged.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from twisted.internet.defer import Deferred, DeferredList, ensureDeferred, succeed

from vending.services.sms import SmsOutbox
from vending.sms_outbox import OutgoingSms

log = logging.getLogger("evd.sms.mt")

# send(message) -> (outcome, error)
Sender = Callable[[OutgoingSms], Awaitable[tuple[str, str | None]]]


class KannelSendsms:
    def __init__(
        self,
        reactor: Any,
        *,
        url: str,
        username: str,
        password: str,
        dlr_base_url: str,
        gateway_token: str = "",
        timeout_seconds: float = 10.0,
    ) -> None:
        from twisted.web.client import Agent, HTTPConnectionPool

        self._reactor = reactor
        self._url = url
        self._username = username
        self._password = password
        self._dlr_base = dlr_base_url.rstrip("/")
        self._token = gateway_token
        self._timeout = timeout_seconds
        pool = HTTPConnectionPool(reactor, persistent=True)
        pool.maxPersistentPerHost = 16
        self._agent = Agent(reactor, connectTimeout=timeout_seconds, pool=pool)

    def dlr_url(self, message: OutgoingSms) -> str:
        query = f"id={message.id}&t={message.dlr_token}"
        if self._token:
            query += f"&g={self._token}"
        return f"{self._dlr_base}/sms/dlr?{query}&s=%d"

    def request_url(self, message: OutgoingSms) -> str:
        params = {
            "username": self._username,
            "password": self._password,
            "from": message.sender,
            "to": message.msisdn,
            "text": message.text,
            "charset": "UTF-8",
            "coding": str(message.coding),
            "dlr-mask": "31",
            "dlr-url": self.dlr_url(message),
        }
        return f"{self._url}?{urlencode(params)}"

    async def __call__(self, message: OutgoingSms) -> tuple[str, str | None]:
        from twisted.internet.error import ConnectError, DNSLookupError
        from twisted.web.client import readBody

        try:
            request = self._agent.request(b"GET", self.request_url(message).encode("ascii"))
            request.addTimeout(self._timeout, self._reactor)
            response = await request
            await readBody(response).addTimeout(self._timeout, self._reactor)
        except (ConnectError, DNSLookupError) as exc:
            return "unreachable", f"gateway unreachable: {exc.__class__.__name__}"
        except Exception as exc:
            return "lost", f"no answer from the gateway: {exc.__class__.__name__}"
        if 200 <= response.code < 300:
            return "accepted", None
        return "unreachable", f"gateway refused: HTTP {response.code}"


class MtDeliverer:
    def __init__(
        self,
        outbox: SmsOutbox,
        send: Sender,
        reactor: Any,
        *,
        poll_seconds: float = 1.0,
        batch: int = 50,
        stale_seconds: float = 300.0,
    ) -> None:
        self._outbox = outbox
        self._send = send
        self._reactor = reactor
        self._poll = poll_seconds
        self._batch = batch
        self._stale = stale_seconds
        self._timer: Any = None
        self._running: Deferred | None = None
        self._stopped = True
        self._again = False
        self.sent = 0

    def start(self) -> None:
        self._stopped = False
        self._schedule(0)

    def stop(self) -> Deferred:
        self._stopped = True
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        return self._running if self._running is not None else succeed(None)

    def kick(self) -> None:
        """Something was queued: drain now (or right after the running round)."""
        if self._stopped:
            return
        if self._running is not None:
            self._again = True
            return
        self._schedule(0)

    def _schedule(self, delay: float) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = self._reactor.callLater(delay, self._round)

    def _round(self) -> None:
        if self._stopped or self._running is not None:
            return
        self._running = ensureDeferred(self.drain())
        self._running.addErrback(lambda f: log.error("MT delivery round failed: %s", f.value))
        self._running.addBoth(self._done)

    def _done(self, _: Any) -> None:
        self._running = None
        if self._stopped:
            return
        if self._again:
            self._again = False
            self._schedule(0)
        else:
            self._schedule(self._poll)

    async def drain(self) -> int:
        """Send everything due now (batch after batch). How many were handed over."""
        handed = 0
        while True:
            due = await self._outbox.claim_due(self._batch)
            if not due:
                return handed
            sent = await DeferredList(
                [ensureDeferred(self._send(message)) for message in due], consumeErrors=True
            )
            outcomes: list[tuple[int, str, str | None]] = []
            for message, (ok, result) in zip(due, sent, strict=True):
                outcome, error = result if ok else ("lost", "sender failed")
                outcomes.append((message.id, outcome, error))
            states = await self._outbox.record_attempts(outcomes)
            for message, (_, outcome, error), state in zip(due, outcomes, states, strict=True):
                if outcome == "accepted":
                    self.sent += 1
                    handed += 1
                else:
                    log.warning(
                        "MT %d attempt %d: %s -> %s", message.id, message.attempts, error, state
                    )
            if len(due) < self._batch:
                return handed

    async def release_stale(self, now: Any) -> int:
        """At start: messages an earlier process left ``sending`` become ``unknown``."""
        return await self._outbox.release_stale(now - timedelta(seconds=self._stale))


__all__ = ["KannelSendsms", "MtDeliverer", "Sender"]
