"""A simulated BBPS-like bill payment network speaking :mod:`catalogue.adapters.bbps_xml`.

Bills: any biller id; the bill of a customer is derived from its first parameter (amount
Rs 1,000 + Rs 10 per unit of its last digit; a value ending ``9`` has no bill: BFR004).
Payments by the first parameter's last digit: ``1`` refused (BPR003), ``2`` pending at the
biller (code 200) until completed through the control endpoint, ``3`` done but the answer is
held back ``hang`` seconds (a timeout: ask the status), else paid with an approval number.
A repeated txnReferenceId gets the payment's current state (never paid twice). Complaints
are ASSIGNED, then RESOLVED at their first status query.

Control: ``POST /_control/complete?order_id=..&status=SUCCESS|FAILED``, ``POST
/_control/outage?on=1|0`` (HTTP 503), ``GET /_control``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from twisted.web.resource import Resource

from catalogue.adapters import bbps_xml as proto
from tools.simulators.common import (
    CONTROL,
    SimSettings,
    completion,
    json_body,
    reply_later,
    settings_control,
)

XML = b"application/xml; charset=utf-8"
ORIG = "BBPSSIM"


@dataclass
class SimPayment:
    order_id: str
    status: str  # SUCCESS | PENDING | FAILURE
    approval: str | None
    code: str
    reason: str
    amount: int


@dataclass
class BbpsState:
    payments: dict[str, SimPayment] = field(default_factory=dict)
    complaints: dict[str, str] = field(default_factory=dict)
    counter: Any = field(default_factory=lambda: itertools.count(1))
    requests: int = 0


def bill_amount(first_param: str) -> int:
    digit = int(first_param[-1]) if first_param[-1:].isdigit() else 0
    return 100_000 + 1_000 * digit


class BbpsSimulator(Resource):
    isLeaf = True

    def __init__(self, reactor: Any, settings: SimSettings) -> None:
        super().__init__()
        self._reactor = reactor
        self.settings = settings
        self.state = BbpsState()

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._reactor.seconds(), UTC)

    def render(self, request: Any) -> Any:
        if request.postpath and request.postpath[0] == CONTROL:
            return self._control(request, request.postpath[1:])
        self.state.requests += 1
        if self.settings.outage:
            request.setResponseCode(503)
            return b"<down/>"
        if request.method != b"POST":
            request.setResponseCode(405)
            return b""
        try:
            message = proto.parse(request.content.read())
        except proto.ProtocolError as exc:
            request.setResponseCode(400)
            return str(exc).encode()
        handler = {
            "BillFetchRequest": self._fetch,
            "BillPaymentRequest": self._pay,
            "TxnStatusComplainRequest": self._status,
        }.get(message.kind)
        if handler is None:
            request.setResponseCode(400)
            return b"unknown message"
        delay, root = handler(message)
        return reply_later(self._reactor, request, delay, lambda: (200, XML, proto.render(root)))

    def _fetch(self, message: proto.Message) -> tuple[float, Any]:
        params = proto.customer_params(message)
        first = next(iter(params.values()), "")
        kind, ref = "BillFetchResponse", message.head.ref_id
        if not first or first.endswith("9"):
            return self.settings.latency, proto.response(
                kind, ref, ORIG, self._now(), "BFR004", "Bill not found"
            )
        root = proto.response(kind, ref, ORIG, self._now(), proto.SUCCESS, "Successful")
        today = self._now().date()
        bill = root.makeelement("BillerResponse", {
            "amount": str(bill_amount(first)),
            "billNumber": f"BN{first[-6:]}",
            "billDate": date(today.year, today.month, 1).isoformat(),
            "dueDate": (today + timedelta(days=15)).isoformat(),
            "billPeriod": "MONTHLY",
            "customerName": "R K Gupta",
        })  # fmt: skip
        root.append(bill)
        return self.settings.latency, root

    def _pay(self, message: proto.Message) -> tuple[float, Any]:
        order_id = message.attr("Txn", "txnReferenceId")
        params = proto.customer_params(message)
        first = next(iter(params.values()), "")
        payment = self.state.payments.get(order_id)
        delay = self.settings.latency
        if payment is None:
            seq = next(self.state.counter)
            amount = int(message.attr("Amount/Amt", "amount") or 0)
            last = first[-1:]
            if last == "1":
                payment = SimPayment(
                    order_id, "FAILURE", None, "BPR003", "Invalid customer", amount
                )
            elif last == "2":
                payment = SimPayment(order_id, "PENDING", None, "200", "Pending at biller", amount)
            else:
                payment = SimPayment(
                    order_id, "SUCCESS", f"AB{seq:08d}", proto.SUCCESS, "Successful", amount
                )
                if last == "3":
                    delay = self.settings.hang
            self.state.payments[order_id] = payment
        return delay, self._payment_response(message, payment)

    def _payment_response(self, message: proto.Message, payment: SimPayment) -> Any:
        code = {"SUCCESS": proto.SUCCESS, "PENDING": proto.PENDING_CODE}.get(
            payment.status, payment.code
        )
        root = proto.response(
            "BillPaymentResponse",
            message.head.ref_id,
            ORIG,
            self._now(),
            code,
            payment.reason,
            approvalRefNum=payment.approval or "",
        )
        root.append(root.makeelement("Txn", {"txnReferenceId": payment.order_id}))
        return root

    def _status(self, message: proto.Message) -> tuple[float, Any]:
        req = message.find("TxnStatusReq")
        txn_type = req.get("txnType", "") if req is not None else ""
        kind, ref, now = "TxnStatusComplainResponse", message.head.ref_id, self._now()
        if txn_type == "TXN_STATUS":
            payment = self.state.payments.get(req.get("txnReferenceId", ""))
            root = proto.response(kind, ref, ORIG, now, proto.SUCCESS, "Successful")
            root.append(root.makeelement("TxnList", {
                "txnReferenceId": payment.order_id if payment else req.get("txnReferenceId", ""),
                "txnStatus": payment.status if payment else "NOT_FOUND",
                "approvalRefNum": (payment.approval or "") if payment else "",
                "responseCode": payment.code if payment else "NOTFOUND",
                "responseReason": payment.reason if payment else "No such transaction",
            }))  # fmt: skip
            return self.settings.latency, root
        if txn_type == "COMPLAINT_REGISTER":
            complaint = req.find("Complaint")
            if complaint is None or complaint.get("txnReferenceId") not in self.state.payments:
                return self.settings.latency, proto.response(
                    kind, ref, ORIG, now, "CMP001", "No such transaction"
                )
            complaint_id = f"CC{next(self.state.counter):010d}"
            self.state.complaints[complaint_id] = "ASSIGNED"
            return self.settings.latency, self._complaint(kind, ref, now, complaint_id)
        if txn_type == "COMPLAINT_STATUS":
            complaint_id = req.get("complaintId", "")
            if complaint_id not in self.state.complaints:
                return self.settings.latency, proto.response(
                    kind, ref, ORIG, now, "CMP002", "No such complaint"
                )
            root = self._complaint(kind, ref, now, complaint_id)
            self.state.complaints[complaint_id] = "RESOLVED"
            return self.settings.latency, root
        return self.settings.latency, proto.response(kind, ref, ORIG, now, "TSC001", "Bad type")

    def _complaint(self, kind: str, ref: str, now: datetime, complaint_id: str) -> Any:
        root = proto.response(kind, ref, ORIG, now, proto.SUCCESS, "Successful")
        root.append(root.makeelement("Complaint", {
            "complaintId": complaint_id, "status": self.state.complaints[complaint_id]
        }))  # fmt: skip
        return root

    def _reset(self) -> None:
        self.state = BbpsState()

    def _control(self, request: Any, rest: list[bytes]) -> Any:
        action = rest[0] if rest else b""
        common = settings_control(request, action, self.settings, self._reset)
        if common is not None:
            return common
        if action == b"complete":
            found = completion(request, self.state.payments)
            if isinstance(found, bytes):
                return found
            payment, status = found
            if status == "SUCCESS":
                payment.status, payment.code, payment.reason = "SUCCESS", "000", "Successful"
                payment.approval = payment.approval or f"AB{next(self.state.counter):08d}"
            else:
                payment.status, payment.code, payment.reason = "FAILURE", "BPR009", "Biller refused"
            return json_body(200, {"status": payment.status})[2]
        return json_body(200, {
            "latency": self.settings.latency, "outage": self.settings.outage,
            "payments": len(self.state.payments), "requests": self.state.requests,
        })[2]  # fmt: skip
