"""A simulated recharge aggregator speaking :mod:`catalogue.adapters.recharge_json`.

Outcome by the number's last digit: ``1`` FAILED, ``2`` PENDING (until completed through
the control endpoint, which also sends the signed callback), ``3`` done (SUCCESS) but the
answer is held back ``hang`` seconds (a timeout: ask the status), anything else SUCCESS.
A repeated order id gets the order's current state (never recharged twice).

Control: ``POST /_control/complete?order_id=..&status=SUCCESS|FAILED`` (answers
``{"callback": HTTP status of our callback or null}``), ``POST /_control/outage?on=1|0``
(HTTP 503 to everything), ``GET /_control`` (settings and counters).
"""

from __future__ import annotations

import io
import itertools
import logging
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.web.client import Agent, FileBodyProducer, readBody
from twisted.web.http_headers import Headers
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from catalogue.adapters import recharge_json as proto
from catalogue.callbacks import SIGNATURE_HEADER, sign, signature_valid
from catalogue.interface import Plan
from tools.simulators.common import CONTROL, SimSettings, arg, json_body, reply_later
from vending.money import Money

log = logging.getLogger("evd.tools.simulate_recharge")


@dataclass
class SimOrder:
    order_id: str
    number: str
    amount: int
    status: str
    txn_id: str
    operator_ref: str | None = None
    message: str = ""


@dataclass
class RechargeState:
    orders: dict[str, SimOrder] = field(default_factory=dict)
    counter: Any = field(default_factory=lambda: itertools.count(1))
    requests: int = 0


def _outcome(number: str) -> str:
    return {"1": "FAILED", "2": "PENDING"}.get(number[-1:], "SUCCESS")


class RechargeSimulator(Resource):
    isLeaf = True

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
        self.state = RechargeState()

    # --- routing --------------------------------------------------------------------------

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
            self._secret, body, _header(request, SIGNATURE_HEADER)
        ):
            request.setResponseCode(401)
            return b'{"status":"FAILED","code":"AUTH","message":"bad signature"}'
        name = path[0] if path else b""
        if request.method == b"POST" and name == b"recharge":
            return self._recharge(request, body)
        if request.method == b"GET" and name == b"status":
            return self._status(request)
        if request.method == b"GET" and name == b"plans":
            return self._plans(request)
        request.setResponseCode(404)
        return b'{"status":"FAILED","code":"NOPATH"}'

    # --- the protocol ---------------------------------------------------------------------

    def _recharge(self, request: Any, body: bytes) -> Any:
        try:
            data = proto.decode_recharge(body)
        except proto.ProtocolError as exc:
            problem = str(exc)
            return reply_later(
                self._reactor,
                request,
                0,
                lambda: json_body(400, {"status": "FAILED", "code": "BADREQ", "message": problem}),
            )
        order = self.state.orders.get(data["order_id"])
        if order is None:
            number = str(data["number"])
            status = _outcome(number)
            seq = next(self.state.counter)
            order = SimOrder(
                order_id=str(data["order_id"])[:20],
                number=number,
                amount=data["amount"],
                status=status,
                txn_id=f"SIM{seq:09d}",
                operator_ref=f"OPR{seq:09d}" if status == "SUCCESS" else None,
                message={"FAILED": "Invalid number for operator", "PENDING": "Under process"}.get(
                    status, "Recharge successful"
                ),
            )
            self.state.orders[order.order_id] = order
            delay = self.settings.hang if number.endswith("3") else self.settings.latency
        else:
            delay = self.settings.latency
        return reply_later(self._reactor, request, delay, lambda: self._answer(order))

    @staticmethod
    def _answer(order: SimOrder) -> tuple[int, bytes, bytes]:
        return (
            200,
            b"application/json",
            proto.encode_result(
                order.status,
                order_id=order.order_id,
                txn_id=order.txn_id,
                operator_ref=order.operator_ref,
                code={"SUCCESS": "000"}.get(order.status, order.status[:3]),
                message=order.message,
            ),
        )

    def _status(self, request: Any) -> Any:
        order = self.state.orders.get(arg(request, "order_id"))
        if order is None:
            return reply_later(
                self._reactor,
                request,
                self.settings.latency,
                lambda: json_body(
                    200, {"status": "FAILED", "code": "NOTFOUND", "message": "no such order"}
                ),
            )
        return reply_later(
            self._reactor, request, self.settings.latency, lambda: self._answer(order)
        )

    def _plans(self, request: Any) -> Any:
        operator = arg(request, "operator") or "?"
        circle = arg(request, "circle") or "?"
        plans = [
            Plan("P155", Money(15500, "INR"), "24 days", f"1 GB total, unlimited calls ({circle})"),
            Plan("P299", Money(29900, "INR"), "28 days", "1.5 GB/day, unlimited calls"),
            Plan("P719", Money(71900, "INR"), "84 days", "2 GB/day, unlimited calls"),
            Plan("T10", Money(1000, "INR"), "NA", f"Talktime Rs 7.47 on {operator}", "topup"),
        ]
        return reply_later(
            self._reactor,
            request,
            self.settings.latency,
            lambda: (200, b"application/json", proto.encode_plans(plans)),
        )

    # --- control --------------------------------------------------------------------------

    def _control(self, request: Any, rest: list[bytes]) -> Any:
        action = rest[0] if rest else b""
        if action == b"reset":  # tests: forget every order, end any outage
            self.state = RechargeState()
            self.settings.outage = False
            return b'{"reset":true}'
        if action == b"outage":
            self.settings.outage = arg(request, "on") in ("1", "true", "yes")
            return json_body(200, {"outage": self.settings.outage})[2]
        if action == b"complete":
            order = self.state.orders.get(arg(request, "order_id"))
            status = arg(request, "status").upper()
            if order is None or status not in ("SUCCESS", "FAILED"):
                request.setResponseCode(404)
                return b'{"error":"no such order or status"}'
            order.status = status
            order.operator_ref = order.operator_ref or (
                f"OPR{order.txn_id[3:]}" if status == "SUCCESS" else None
            )
            order.message = "Recharge successful" if status == "SUCCESS" else "Operator refused"
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
        body = self._answer(order)[2]
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


def _header(request: Any, name: str) -> str | None:
    value = request.getHeader(name.encode())
    return value.decode("ascii", "replace") if value else None


__all__ = ["Deferred", "RechargeSimulator"]
