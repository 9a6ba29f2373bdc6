"""Delivering pushed results: the outbox (``vending.webhooks``, via the webhooks service)
drained on the injected reactor, each delivery signed and POSTed to the key's callback URL.

Signature: ``EVD-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``
with the key's webhook secret (``whsec_...``). A receiver recomputes it over the raw body,
compares in constant time, and refuses timestamps older than a few minutes (replays).
A 2xx acknowledges; anything else (or no answer within ``timeout_seconds``) is retried with
exponential backoff (``vending.webhooks.backoff``), every attempt in the delivery log.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from twisted.internet.defer import Deferred, ensureDeferred, succeed
from twisted.web.http_headers import Headers
from twisted.web.iweb import IBodyProducer
from zope.interface import implementer

from vending.services.delivery_loop import DeliveryLoop
from vending.services.webhooks import DueDelivery, Webhooks

log = logging.getLogger("evd.jsonapi.webhooks")

# post(url, body, headers) -> the receiver's HTTP status
Poster = Callable[[str, bytes, dict[str, str]], Awaitable[int]]


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret, b"%d." % timestamp + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(
    secret: bytes, header: str, body: bytes, *, now: float, tolerance: float = 300.0
) -> bool:
    """What a receiver does (and the tests do): check the signature and its age."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


@implementer(IBodyProducer)
class _BytesProducer:
    def __init__(self, body: bytes) -> None:
        self._body = body
        self.length = len(body)

    def startProducing(self, consumer: Any) -> Deferred:
        consumer.write(self._body)
        return succeed(None)

    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        pass


def agent_poster(reactor: Any, *, timeout_seconds: float = 10.0) -> Poster:
    """The real poster: Twisted's HTTP(S) Agent, the receiver's body read and dropped."""
    from twisted.web.client import Agent, readBody

    agent = Agent(reactor, connectTimeout=timeout_seconds)

    async def post(url: str, body: bytes, headers: dict[str, str]) -> int:
        raw = Headers({name.encode(): [value.encode()] for name, value in headers.items()})
        request = agent.request(b"POST", url.encode(), raw, _BytesProducer(body))
        request.addTimeout(timeout_seconds, reactor)
        response = await request
        await readBody(response).addTimeout(timeout_seconds, reactor)
        return int(response.code)

    return post


class WebhookDeliverer:
    """Drains due deliveries on the shared delivery loop
    (:mod:`vending.services.delivery_loop`): at once when kicked, else every
    ``poll_seconds``."""

    def __init__(
        self,
        webhooks: Webhooks,
        post: Poster,
        reactor: Any,
        *,
        poll_seconds: float = 5.0,
        timeout_seconds: float = 10.0,
    ) -> None:
        self._webhooks = webhooks
        self._post = post
        self._reactor = reactor
        self._timeout = timeout_seconds
        self.loop = DeliveryLoop(
            "webhook", self.drain, reactor, ensureDeferred, poll_seconds=poll_seconds
        )

    def start(self) -> None:
        self.loop.start()

    def stop(self) -> Deferred:
        running = self.loop.stop()
        return running if running is not None else succeed(None)

    def kick(self) -> None:
        """Something was queued: drain now rather than at the next poll."""
        self.loop.kick()

    async def drain(self) -> int:
        """Attempt every due delivery once; how many were attempted."""
        due = await self._webhooks.due()
        for item in due:
            await self._attempt(item)
        return len(due)

    async def _attempt(self, item: DueDelivery) -> None:
        delivery = item.delivery
        body = delivery.payload.encode("utf-8")
        timestamp = int(self._reactor.seconds())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "evd-webhooks/1",
            "EVD-Event": delivery.event,
            "EVD-Delivery": str(delivery.id),
            "EVD-Signature": signature(item.secret, timestamp, body),
        }
        status: int | None = None
        error: str | None = None
        try:
            posted = ensureDeferred(self._post(delivery.url, body, headers))
            posted.addTimeout(self._timeout, self._reactor)
            status = await posted
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except Exception as exc:  # unreachable, refused, timed out: retried later
            error = f"{exc.__class__.__name__}: {exc}"[:200]
        after = await self._webhooks.attempted(delivery.id, http_status=status, error=error)
        log.info(
            "webhook %s to %s: %s (attempt %d, %s)",
            delivery.id,
            urlsplit(delivery.url).hostname,  # never the path or query: they may carry tokens
            status if status is not None else error,
            after.attempts,
            after.state,
        )
