"""What the simulators share: latency, a 503 outage, hung answers, the control endpoint,
and :class:`OrderSimulator`, the order-taking shape (status by order id, complete ->
signed callback) of the recharge, money transfer, insurance and travel simulators."""

from __future__ import annotations

import io
import itertools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import ensureDeferred
from twisted.web.client import Agent, FileBodyProducer, readBody
from twisted.web.http_headers import Headers
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from catalogue.callbacks import SIGNATURE_HEADER, sign, signature_valid

log = logging.getLogger("evd.tools.simulators")

CONTROL = b"_control"


@dataclass
class SimSettings:
    latency: float = 0.0
    # Seconds a "hung" answer (targets ending in 3) is held back: beyond any client timeout.
    hang: float = 30.0
    outage: bool = False


def reply_later(reactor: Any, request: Any, delay: float, produce: Any) -> Any:
    """Answer ``request`` with ``produce()`` (status, content type, body) after ``delay``."""
    gone: list[bool] = []
    request.notifyFinish().addErrback(lambda _f: gone.append(True))

    def send() -> None:
        if gone:
            return
        status, content_type, body = produce()
        request.setResponseCode(status)
        request.setHeader(b"Content-Type", content_type)
        request.write(body)
        request.finish()

    if delay <= 0:
        status, content_type, body = produce()
        request.setResponseCode(status)
        request.setHeader(b"Content-Type", content_type)
        return body
    reactor.callLater(delay, send)
    return NOT_DONE_YET


def settings_control(
    request: Any, action: bytes, settings: SimSettings, reset: Callable[[], None]
) -> bytes | None:
    """The control actions every simulator has: ``reset`` (forget everything, end any
    outage) and ``outage?on=1|0`` (HTTP 503 to everything). None: another action."""
    if action == b"reset":
        reset()
        settings.outage = False
        return b'{"reset":true}'
    if action == b"outage":
        settings.outage = arg(request, "on") in ("1", "true", "yes")
        return json.dumps({"outage": settings.outage}).encode()
    return None


def completion(request: Any, orders: dict[str, Any]) -> tuple[Any, str] | bytes:
    """``complete?order_id=..&status=SUCCESS|FAILED``: the order and the status, or the
    404 answer when either is unknown."""
    order = orders.get(arg(request, "order_id"))
    status = arg(request, "status").upper()
    if order is None or status not in ("SUCCESS", "FAILED"):
        request.setResponseCode(404)
        return b'{"error":"no such order or status"}'
    return order, status


def json_body(status: int, data: Any) -> tuple[int, bytes, bytes]:
    return status, b"application/json", json.dumps(data).encode()


def arg(request: Any, name: str) -> str:
    values = request.args.get(name.encode())
    return values[0].decode("utf-8", "replace") if values else ""


# --- the shape every order-taking simulator shares ---------------------------------------------


def outcome_by_digit(target: str) -> str:
    """The simulators' convention: last digit ``1`` FAILED, ``2`` PENDING, else SUCCESS
    (``3`` is SUCCESS answered ``hang`` seconds late: the caller decides the delay)."""
    return {"1": "FAILED", "2": "PENDING"}.get(target[-1:], "SUCCESS")


@dataclass
class SimOrder:
    """One order a simulator took, by our order id: its status, the provider's
    transaction id, the reference printed for the customer and extra answer fields."""

    order_id: str
    status: str
    txn_id: str
    ref: str | None = None
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class SimState:
    orders: dict[str, SimOrder] = field(default_factory=dict)
    counter: Any = field(default_factory=lambda: itertools.count(1))
    requests: int = 0


class OrderSimulator(Resource):
    """A provider simulator that takes orders keyed by our order id: the 503 outage, the
    optional HMAC check of requests, ``GET /status?order_id=``, the control endpoint
    (``complete`` -> the signed callback when a callback URL is set, ``outage``, ``reset``,
    counters). Subclasses route their own calls (``routes``), answer an order
    (``answer``) and say what completing one changes (``completed``)."""

    isLeaf = True
    kind = "provider"

    def __init__(
        self,
        reactor: Any,
        settings: SimSettings,
        *,
        secret: bytes | None = None,
        callback_url: str | None = None,
    ) -> None:
        super().__init__()
        self._reactor = reactor
        self.settings = settings
        self._secret = secret
        self._callback_url = callback_url
        self.state = SimState()

    # --- what a subclass says ---------------------------------------------------------------

    def routes(self) -> dict[tuple[bytes, bytes], Callable[[Any, bytes], Any]]:
        return {}

    # The answer's shape: the customer's reference under ``ref_field``, the order's
    # ``extra_fields``, and the code of a success.
    ref_field = "operator_ref"
    extra_fields: tuple[str, ...] = ()
    success_code = "000"

    def answer(self, order: SimOrder) -> tuple[int, bytes, bytes]:
        return json_body(200, {
            "status": order.status, "order_id": order.order_id, "txn_id": order.txn_id,
            self.ref_field: order.ref,
            **{name: order.extra.get(name) for name in self.extra_fields},
            "code": {"SUCCESS": self.success_code}.get(order.status, order.status[:3]),
            "message": order.message,
        })  # fmt: skip

    def completed(self, order: SimOrder, status: str) -> None:
        """``order`` was completed through the control endpoint with ``status``."""

    def reset(self) -> None:
        """Forget every order (and whatever else a subclass keeps)."""
        self.state = SimState()

    # --- shared -----------------------------------------------------------------------------

    def take(
        self,
        request: Any,
        order_id: str,
        target: str,
        messages: dict[str, str],
        **extra: Any,
    ) -> Any:
        """Answer an order request: a known order id gets the order's current state (never
        done twice); a new one is done by the target's last digit (``outcome_by_digit``;
        SUCCESS completes it at once; ``3``: answered ``hang`` seconds late)."""
        order = self.state.orders.get(order_id[:20])
        delay = None
        if order is None:
            status = outcome_by_digit(target)
            order = self.new_order(order_id, status, messages.get(status, ""), **extra)
            if status == "SUCCESS":
                self.completed(order, status)
            if target.endswith("3"):
                delay = self.settings.hang
        return self.later(request, lambda: self.answer(order), delay)

    def new_order(self, order_id: str, status: str, message: str, **extra: Any) -> SimOrder:
        seq = next(self.state.counter)
        order = SimOrder(order_id[:20], status, f"SIM{seq:09d}", None, message, dict(extra))
        self.state.orders[order.order_id] = order
        return order

    def later(self, request: Any, produce: Callable[[], Any], delay: float | None = None) -> Any:
        return reply_later(
            self._reactor, request, self.settings.latency if delay is None else delay, produce
        )

    def render(self, request: Any) -> Any:
        path = request.postpath
        if path and path[0] == CONTROL:
            return self._control(request, path[1:])
        self.state.requests += 1
        if self.settings.outage:
            request.setResponseCode(503)
            return b'{"status":"DOWN"}'
        body = request.content.read()
        if self._secret is not None and not signature_valid(
            self._secret, body, header(request, SIGNATURE_HEADER)
        ):
            request.setResponseCode(401)
            return b'{"status":"FAILED","code":"AUTH","message":"bad signature"}'
        name = path[0] if path else b""
        if request.method == b"GET" and name == b"status":
            return self._status(request)
        handler = self.routes().get((request.method, name))
        if handler is None:
            request.setResponseCode(404)
            return b'{"status":"FAILED","code":"NOPATH"}'
        try:
            return handler(request, body)
        except (ValueError, KeyError, TypeError) as exc:
            problem = str(exc)[:100]
            return self.later(
                request,
                lambda: json_body(400, {"status": "FAILED", "code": "BADREQ", "message": problem}),
                0,
            )

    def _status(self, request: Any) -> Any:
        order = self.state.orders.get(arg(request, "order_id"))
        if order is None:
            return self.later(
                request,
                lambda: json_body(
                    200, {"status": "FAILED", "code": "NOTFOUND", "message": "no such order"}
                ),
            )
        return self.later(request, lambda: self.answer(order))

    def _control(self, request: Any, rest: list[bytes]) -> Any:
        action = rest[0] if rest else b""
        common = settings_control(request, action, self.settings, self.reset)
        if common is not None:
            return common
        if action == b"complete":
            found = completion(request, self.state.orders)
            if isinstance(found, bytes):
                return found
            order, status = found
            order.status = status
            self.completed(order, status)
            d = ensureDeferred(self._send_callback(order))

            def answered(code: int | None) -> None:
                request.write(json_body(200, {"callback": code})[2])
                request.finish()

            d.addCallback(answered)
            return NOT_DONE_YET
        return json_body(
            200,
            {
                "latency": self.settings.latency,
                "outage": self.settings.outage,
                "orders": len(self.state.orders),
                "requests": self.state.requests,
            },
        )[2]

    async def _send_callback(self, order: SimOrder) -> int | None:
        if not self._callback_url or self._secret is None:
            return None
        body = self.answer(order)[2]
        headers = Headers(
            {
                b"Content-Type": [b"application/json"],
                SIGNATURE_HEADER.encode(): [sign(self._secret, body).encode()],
            }
        )
        agent = Agent(self._reactor)
        try:
            response = await agent.request(
                b"POST", self._callback_url.encode(), headers, FileBodyProducer(io.BytesIO(body))
            )
            await readBody(response)
        except Exception as exc:
            log.warning("callback to %s failed: %s", self._callback_url, exc)
            return None
        return response.code


def header(request: Any, name: str) -> str | None:
    value = request.getHeader(name.encode())
    return value.decode("ascii", "replace") if value else None
