"""A simulated recharge aggregator speaking :mod:`catalogue.adapters.recharge_json`.

Outcome by the number's last digit: ``1`` FAILED, ``2`` PENDING (until completed through
the control endpoint, which also sends the signed callback), ``3`` done (SUCCESS) but the
answer is held back ``hang`` seconds (a timeout: ask the status), anything else SUCCESS.
A repeated order id gets the order's current state (never recharged twice).

Control (:class:`tools.simulators.common.OrderSimulator`): ``POST
/_control/complete?order_id=..&status=SUCCESS|FAILED`` (answers ``{"callback": HTTP status
of our callback or null}``), ``POST /_control/outage?on=1|0`` (HTTP 503 to everything),
``GET /_control`` (settings and counters).
"""

from __future__ import annotations

from typing import Any

from catalogue.adapters import recharge_json as proto
from catalogue.interface import Plan
from tools.simulators.common import OrderSimulator, SimOrder, arg
from vending.money import Money

MESSAGES = {
    "FAILED": "Invalid number for operator",
    "PENDING": "Under process",
    "SUCCESS": "Recharge successful",
}


class RechargeSimulator(OrderSimulator):
    kind = "recharge"

    def routes(self) -> dict[tuple[bytes, bytes], Any]:
        return {(b"POST", b"recharge"): self._recharge, (b"GET", b"plans"): self._plans}

    def _recharge(self, request: Any, body: bytes) -> Any:
        data = proto.decode_recharge(body)  # a ProtocolError (ValueError) is a 400
        return self.take(request, str(data["order_id"]), str(data["number"]), MESSAGES)

    def completed(self, order: SimOrder, status: str) -> None:
        order.ref = order.ref or (f"OPR{order.txn_id[3:]}" if status == "SUCCESS" else None)
        order.message = "Recharge successful" if status == "SUCCESS" else "Operator refused"

    def _plans(self, request: Any, body: bytes) -> Any:
        operator = arg(request, "operator") or "?"
        circle = arg(request, "circle") or "?"
        plans = [
            Plan("P155", Money(15500, "INR"), "24 days", f"1 GB total, unlimited calls ({circle})"),
            Plan("P299", Money(29900, "INR"), "28 days", "1.5 GB/day, unlimited calls"),
            Plan("P719", Money(71900, "INR"), "84 days", "2 GB/day, unlimited calls"),
            Plan("T10", Money(1000, "INR"), "NA", f"Talktime Rs 7.47 on {operator}", "topup"),
        ]
        return self.later(request, lambda: (200, b"application/json", proto.encode_plans(plans)))


__all__ = ["RechargeSimulator"]
