"""MTs out through Kannel: the sendsms client and the outbox deliverer.

``KannelSendsms`` makes one ``GET /cgi-bin/sendsms`` per message part with a delivery-report
URL (``dlr-mask=19``: delivered, undelivered, rejected) pointing back at ``/sms/dlr`` with
the message id and its random token. It classifies what happened, because that decides
whether a retry is safe:

* ``accepted``: a 2xx answer (``0: Accepted for delivery`` / ``3: Queued for later
  delivery``);
* ``unreachable``: the connection was never made, or Kannel refused the request (4xx/5xx:
  bad credentials, smsbox not connected): nothing was sent, retry with backoff;
* ``lost``: the request went out and no answer came: Kannel may send it, so it is never
  retried automatically (``unknown``).

``MtDeliverer`` drains the outbox on the shared delivery loop
(:mod:`vending.services.delivery_loop`, on the injected reactor): at once when a commit
queued something (kicked), else every ``poll_seconds``; it claims due messages a round at a
time and sends them with bounded concurrency. The URL carries the sendsms password and the
text: neither is ever logged.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from twisted.internet.defer import (
    Deferred,
    DeferredSemaphore,
    ensureDeferred,
    gatherResults,
    succeed,
)

from vending.services.delivery_loop import DeliveryLoop
from vending.services.sms import SmsOutbox
from vending.sms_outbox import OutgoingSms

log = logging.getLogger("evd.sms.mt")

# Delivery reports wanted: 1 delivered, 2 undelivered, 16 rejected by the SMSC. Not 8
# (the SMSC took it) nor 4 (queued): a 2xx from sendsms already made the message
# ``submitted``, and each report is an HTTP request and a write per message.
DLR_MASK = "19"

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
        # As many keep-alive connections as the deliverer has requests in flight.
        pool.maxPersistentPerHost = 32
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
            "dlr-mask": DLR_MASK,
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
    """Drains the MT outbox through ``send`` on the shared delivery loop: each round claims
    up to ``batch`` due messages in one statement, sends them with at most ``concurrency``
    sendsms requests in flight (one keep-alive connection each: no threads, no connection
    per message) and records the round's outcomes in one transaction."""

    def __init__(
        self,
        outbox: SmsOutbox,
        send: Sender,
        reactor: Any,
        *,
        poll_seconds: float = 1.0,
        batch: int = 100,
        concurrency: int = 32,
        stale_seconds: float = 300.0,
    ) -> None:
        self._outbox = outbox
        self._send = send
        self._batch = batch
        self._in_flight = DeferredSemaphore(concurrency)
        self._stale = stale_seconds
        self.loop = DeliveryLoop(
            "sms", self.drain, reactor, ensureDeferred, poll_seconds=poll_seconds
        )
        self.sent = 0

    def start(self) -> None:
        self.loop.start()

    def stop(self) -> Deferred:
        running = self.loop.stop()
        return running if running is not None else succeed(None)

    def kick(self) -> None:
        """Something was queued: drain now (or right after the running round)."""
        self.loop.kick()

    async def _attempt(self, message: OutgoingSms) -> tuple[str, str | None]:
        try:
            return await self._send(message)
        except Exception as exc:  # the sender's own failure: it may have gone out
            return "lost", f"sender failed: {exc.__class__.__name__}"

    async def drain(self) -> int:
        """Send everything due now (batch after batch). How many were handed over."""
        handed = 0
        while True:
            due = await self._outbox.claim_due(self._batch)
            if not due:
                return handed
            sent = await gatherResults(
                [self._in_flight.run(lambda m=m: ensureDeferred(self._attempt(m))) for m in due]
            )
            outcomes = [
                (message.id, outcome, error)
                for message, (outcome, error) in zip(due, sent, strict=True)
            ]
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
