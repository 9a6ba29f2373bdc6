"""A simulated IMPS-like money transfer provider speaking :mod:`catalogue.adapters.dmt_json`.

Penny drop: an account ending ``9`` does not exist; any other is held by "RAJESH KUMAR
GUPTA". Transfers by the account's last digit: ``1`` FAILED (account closed), ``2`` PENDING
until completed through the control endpoint, ``3`` done but the answer is held back
``hang`` seconds (a timeout: the status resolves it), else SUCCESS with a 12-digit UTR. A
repeated order id gets the transfer's current state (never sent twice).

Control (:class:`tools.simulators.common.OrderSimulator`): ``POST
/_control/complete?order_id=..&status=SUCCESS|FAILED``, ``/_control/outage``,
``/_control/reset``, ``GET /_control``.
"""

from __future__ import annotations

import json
from typing import Any

from tools.simulators.common import OrderSimulator, SimOrder, json_body

HOLDER = "RAJESH KUMAR GUPTA"
MESSAGES = {"FAILED": "Account closed", "PENDING": "Awaiting beneficiary bank"}


class DmtSimulator(OrderSimulator):
    kind = "dmt"
    ref_field = "utr"
    success_code = "00"

    def routes(self) -> dict[tuple[bytes, bytes], Any]:
        return {(b"POST", b"verify"): self._verify, (b"POST", b"transfer"): self._transfer}

    def _verify(self, request: Any, body: bytes) -> Any:
        account = str(json.loads(body)["account"])
        if account.endswith("9"):
            answer = {"status": "FAILED", "message": "Invalid account"}
        else:
            answer = {"status": "SUCCESS", "name": HOLDER, "message": "Account verified"}
        return self.later(request, lambda: json_body(200, answer))

    def _transfer(self, request: Any, body: bytes) -> Any:
        data = json.loads(body)
        if not isinstance(data["amount"], int) or data["amount"] <= 0:
            raise ValueError("amount")
        return self.take(request, str(data["order_id"]), str(data["account"]), MESSAGES)

    def new_order(self, order_id: str, status: str, message: str, **extra: Any) -> SimOrder:
        order = super().new_order(order_id, status, message, **extra)
        order.txn_id = f"IMPS{order.txn_id[3:]}"
        return order

    def completed(self, order: SimOrder, status: str) -> None:
        if status == "SUCCESS":
            order.ref = order.ref or f"6340{next(self.state.counter):08d}"
            order.message = "Transfer successful"
        else:
            order.message = "Beneficiary bank refused"
