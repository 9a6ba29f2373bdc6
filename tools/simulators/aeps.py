"""A simulated AEPS sponsor bank / switch speaking :mod:`catalogue.adapters.aeps_client`.

Outcome by the amount in rupees: 5100 -> 51 (insufficient funds), 910 -> 91, 300, 330 and
998 -> the UIDAI errors of that number, 777 -> approved but the answer is held back ``hang``
seconds (a timeout: the status enquiry resolves it); anything else approved with an RRN,
the balance Rs 12,345 and (MS) a mini statement. Agent logins always succeed. The PID block
is never printed. A repeated STAN gets the transaction's answer again.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from twisted.web.resource import Resource

from tools.simulators.common import (
    CONTROL,
    SimSettings,
    arg,
    json_body,
    reply_later,
    settings_control,
)

DECLINE_RUPEES = {5100: "51", 910: "91", 300: "300", 330: "330", 998: "998"}


@dataclass
class AepsState:
    answers: dict[str, dict] = field(default_factory=dict)
    counter: Any = field(default_factory=lambda: itertools.count(1))
    requests: int = 0


class AepsSimulator(Resource):
    isLeaf = True

    def __init__(self, reactor: Any, settings: SimSettings) -> None:
        super().__init__()
        self._reactor = reactor
        self.settings = settings
        self.state = AepsState()

    def _reset(self) -> None:
        self.state = AepsState()

    def render(self, request: Any) -> Any:
        path = request.postpath
        if path and path[0] == CONTROL:
            common = settings_control(request, path[1] if len(path) > 1 else b"", self.settings,
                                      self._reset)  # fmt: skip
            return common or json_body(200, {"requests": self.state.requests})[2]
        self.state.requests += 1
        if self.settings.outage:
            request.setResponseCode(503)
            return b"{}"
        name = path[0] if path else b""
        delay = self.settings.latency
        if request.method == b"POST" and name == b"login":
            answer = {"status": "SUCCESS"}
        elif request.method == b"POST" and name == b"aeps":
            try:
                data = json.loads(request.content.read())
                stan = str(data["stan"])
            except (ValueError, KeyError):
                request.setResponseCode(400)
                return b"{}"
            answer = self.state.answers.get(stan) or self._decide(data)
            self.state.answers[stan] = answer
            amount = data.get("amount") or 0
            if amount // 100 == 777:
                delay = self.settings.hang
        elif request.method == b"GET" and name == b"status":
            answer = self.state.answers.get(
                arg(request, "stan"), {"status": "FAILED", "response_code": "NOTFOUND"}
            )
        else:
            request.setResponseCode(404)
            return b"{}"
        return reply_later(self._reactor, request, delay, lambda: json_body(200, answer))

    def _decide(self, data: dict) -> dict:
        rupees = (data.get("amount") or 0) // 100
        seq = next(self.state.counter)
        rrn = f"{634000000000 + seq}"
        code = DECLINE_RUPEES.get(rupees)
        if code is not None:
            return {"status": "FAILED", "rrn": rrn, "response_code": code, "message": "Declined"}
        answer: dict = {
            "status": "SUCCESS",
            "rrn": rrn,
            "response_code": "00",
            "message": "Approved",
            "balance": 1_234_500,
        }
        if data.get("kind") == "MS":
            answer["statement"] = [{"date": "2026-12-01", "type": "CR", "amount": 50_000}]
        return answer
