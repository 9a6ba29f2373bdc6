"""The sponsor bank's AEPS client (HTTP/JSON carrying the ISO 8583 fields a switch needs;
sans-IO helpers here, shared with ``evd simulate-provider aeps``):

* ``POST /aeps`` ``{"stan", "kind" (CW|BE|MS|AP), "aadhaar", "iin", "amount" (paise or
  null), "pid" (the PID block, base64, opaque)}`` -> ``{"status": "SUCCESS"|"FAILED",
  "rrn", "response_code", "message", "balance", "statement"}``
* ``GET /status?stan=`` -> the same shape (``"response_code": "NOTFOUND"``: unknown)
* ``POST /login`` ``{"agent", "pid"}`` -> ``{"status": "SUCCESS"|"FAILED"}``

The PID block goes on the wire only; this module never logs it (nor the Aadhaar number).
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlencode

from twisted.internet.defer import Deferred

from catalogue.adapters.http import HttpChannel, ProviderTimeout, ProviderTransportError
from catalogue.interface import AepsAnswer, AepsBankRequest, Outcome, ProviderUnavailable
from vending.money import Money

JSON = {b"Content-Type": b"application/json"}


def encode_request(request: AepsBankRequest) -> bytes:
    return json.dumps(
        {
            "stan": request.stan,
            "kind": request.kind,
            "aadhaar": request.aadhaar,
            "iin": request.iin,
            "amount": None if request.amount is None else request.amount.amount,
            "pid": base64.b64encode(request.pid.reveal_to_bank()).decode(),
        }
    ).encode()


def parse_answer(body: bytes, currency: str = "INR") -> AepsAnswer:
    try:
        data = json.loads(body)
    except ValueError:
        return AepsAnswer(Outcome.UNKNOWN, message="unreadable bank answer")
    code = str(data.get("response_code") or "")[:4]
    status = str(data.get("status", "")).upper()
    if code == "NOTFOUND" or status not in ("SUCCESS", "FAILED"):
        return AepsAnswer(Outcome.UNKNOWN, response_code=code)
    balance = data.get("balance")
    return AepsAnswer(
        Outcome.SUCCESS if status == "SUCCESS" else Outcome.FAILED,
        rrn=str(data.get("rrn") or "")[:12] or None,
        response_code=code,
        message=str(data.get("message") or "")[:200],
        balance=None if balance is None else Money(int(balance), currency),
        statement=tuple(data.get("statement") or ()),
    )


class AepsJsonClient:
    def __init__(self, name: str, channel: HttpChannel) -> None:
        self.name = name
        self._channel = channel

    def transact(self, request: AepsBankRequest) -> Deferred:
        d = self._channel.request(b"POST", "/aeps", encode_request(request), JSON)
        d.addCallbacks(self._read, self._unknown)
        return d

    def status(self, stan: str) -> Deferred:
        d = self._channel.request(b"GET", "/status?" + urlencode({"stan": stan}))
        d.addCallbacks(self._read, self._unknown)
        return d

    def login(self, agent_id: str, pid: Any) -> Deferred:
        body = json.dumps(
            {"agent": agent_id, "pid": base64.b64encode(pid.reveal_to_bank()).decode()}
        ).encode()
        d = self._channel.request(b"POST", "/login", body, JSON)

        def read(answer: tuple[int, bytes]) -> bool:
            status, data = answer
            return status == 200 and json.loads(data).get("status") == "SUCCESS"

        def unreachable(failure: Any) -> Any:
            failure.trap(ProviderTimeout, ProviderTransportError)
            raise ProviderUnavailable(f"{self.name}: {failure.value}")

        d.addCallbacks(read, unreachable)
        return d

    @staticmethod
    def _read(answer: tuple[int, bytes]) -> AepsAnswer:
        status, body = answer
        if status != 200:
            return AepsAnswer(Outcome.UNKNOWN, response_code=f"H{status}"[:4])
        return parse_answer(body)

    @staticmethod
    def _unknown(failure: Any) -> AepsAnswer:
        failure.trap(ProviderTimeout, ProviderTransportError)
        return AepsAnswer(Outcome.UNKNOWN, message="no answer in time")
