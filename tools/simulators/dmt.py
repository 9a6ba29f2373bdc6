"""A simulated IMPS-like money transfer provider speaking :mod:`catalogue.adapters.dmt_json`.

Penny drop: an account ending ``9`` does not exist; any other is held by "RAJESH KUMAR
GUPTA". Transfers by the account's last digit: ``1`` FAILED (account closed), ``2`` PENDING
until completed through the control endpoint, ``3`` done but the answer is held back
``hang`` seconds (a timeout: the status resolves it), else SUCCESS with a 12-digit UTR. A
repeated order id gets the transfer's current state (never sent twice).

Control: ``POST /_control/complete?order_id=..&status=SUCCESS|FAILED``, ``/_control/outage``,
``/_control/reset``, ``GET /_control``.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from twisted.web.resource import Resource

from catalogue.adapters import dmt_json as proto
from tools.simulators.common import CONTROL, SimSettings, arg, json_body, reply_later

HOLDER = "RAJESH KUMAR GUPTA"


@dataclass
class SimTransfer:
    order_id: str
    status: str
    txn_id: str
    utr: str | None
    message: str


@dataclass
class DmtState:
    transfers: dict[str, SimTransfer] = field(default_factory=dict)
    counter: Any = field(default_factory=lambda: itertools.count(1))
    requests: int = 0


class DmtSimulator(Resource):
    isLeaf = True

    def __init__(self, reactor: Any, settings: SimSettings) -> None:
        super().__init__()
        self._reactor = reactor
        self.settings = settings
        self.state = DmtState()

    def render(self, request: Any) -> Any:
        path = request.postpath
        if path and path[0] == CONTROL:
            return self._control(request, path[1:])
        self.state.requests += 1
        if self.settings.outage:
            request.setResponseCode(503)
            return b'{"status":"DOWN"}'
        name = path[0] if path else b""
        try:
            if request.method == b"POST" and name == b"verify":
                return self._verify(request, json.loads(request.content.read()))
            if request.method == b"POST" and name == b"transfer":
                return self._transfer(request, json.loads(request.content.read()))
        except (ValueError, KeyError, TypeError):
            request.setResponseCode(400)
            return b'{"status":"FAILED","code":"BADREQ"}'
        if request.method == b"GET" and name == b"status":
            transfer = self.state.transfers.get(arg(request, "order_id"))
            if transfer is None:
                return reply_later(
                    self._reactor,
                    request,
                    self.settings.latency,
                    lambda: json_body(
                        200, {"status": "FAILED", "code": "NOTFOUND", "message": "no such order"}
                    ),
                )
            return reply_later(
                self._reactor, request, self.settings.latency, lambda: self._answer(transfer)
            )
        request.setResponseCode(404)
        return b"{}"

    def _verify(self, request: Any, data: dict) -> Any:
        account = str(data["account"])
        if account.endswith("9"):
            answer = {"status": "FAILED", "message": "Invalid account"}
        else:
            answer = {"status": "SUCCESS", "name": HOLDER, "message": "Account verified"}
        return reply_later(
            self._reactor, request, self.settings.latency, lambda: json_body(200, answer)
        )

    def _transfer(self, request: Any, data: dict) -> Any:
        order_id = str(data["order_id"])[:20]
        transfer = self.state.transfers.get(order_id)
        delay = self.settings.latency
        if transfer is None:
            account = str(data["account"])
            if not isinstance(data["amount"], int) or data["amount"] <= 0:
                raise ValueError("amount")
            seq = next(self.state.counter)
            status = {"1": "FAILED", "2": "PENDING"}.get(account[-1:], "SUCCESS")
            transfer = SimTransfer(
                order_id,
                status,
                f"IMPS{seq:08d}",
                f"6340{seq:08d}" if status == "SUCCESS" else None,
                {"FAILED": "Account closed", "PENDING": "Awaiting beneficiary bank"}.get(
                    status, "Transfer successful"
                ),
            )
            self.state.transfers[order_id] = transfer
            if account.endswith("3"):
                delay = self.settings.hang
        return reply_later(self._reactor, request, delay, lambda: self._answer(transfer))

    @staticmethod
    def _answer(transfer: SimTransfer) -> tuple[int, bytes, bytes]:
        return (
            200,
            b"application/json",
            proto.encode_result(
                transfer.status,
                order_id=transfer.order_id,
                txn_id=transfer.txn_id,
                utr=transfer.utr,
                code={"SUCCESS": "00"}.get(transfer.status, transfer.status[:3]),
                message=transfer.message,
            ),
        )

    def _control(self, request: Any, rest: list[bytes]) -> Any:
        action = rest[0] if rest else b""
        if action == b"reset":
            self.state = DmtState()
            self.settings.outage = False
            return b'{"reset":true}'
        if action == b"outage":
            self.settings.outage = arg(request, "on") in ("1", "true", "yes")
            return json_body(200, {"outage": self.settings.outage})[2]
        if action == b"complete":
            transfer = self.state.transfers.get(arg(request, "order_id"))
            status = arg(request, "status").upper()
            if transfer is None or status not in ("SUCCESS", "FAILED"):
                request.setResponseCode(404)
                return b'{"error":"no such transfer or status"}'
            transfer.status = status
            if status == "SUCCESS":
                transfer.utr = transfer.utr or f"6340{next(self.state.counter):08d}"
                transfer.message = "Transfer successful"
            else:
                transfer.message = "Beneficiary bank refused"
            return json_body(200, {"status": status})[2]
        return json_body(
            200, {"transfers": len(self.state.transfers), "requests": self.state.requests}
        )[2]
