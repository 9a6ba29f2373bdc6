"""The recharge provider client (HTTP/JSON, :mod:`catalogue.adapters.recharge_json`): the
provider interface's real implementation for recharge aggregators."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from twisted.internet.defer import Deferred

from catalogue.adapters import recharge_json as proto
from catalogue.adapters.http import HttpChannel, ProviderTimeout, ProviderTransportError
from catalogue.callbacks import SIGNATURE_HEADER, sign
from catalogue.interface import Outcome, ProviderOrder, ProviderResult, ProviderUnavailable

log = logging.getLogger("evd.catalogue.recharge_client")


class RechargeJsonClient:
    def __init__(self, name: str, channel: HttpChannel, secret: bytes | None) -> None:
        self.name = name
        self._channel = channel
        self._secret = secret

    def _headers(self, body: bytes) -> dict[bytes, bytes]:
        headers = {b"Content-Type": b"application/json"}
        if self._secret is not None:
            headers[SIGNATURE_HEADER.encode()] = sign(self._secret, body).encode()
        return headers

    def execute(self, order: ProviderOrder) -> Deferred:
        body = proto.encode_recharge(order)
        d = self._channel.request(b"POST", "/recharge", body, self._headers(body))
        d.addCallbacks(self._result, self._unknown)
        return d

    def status(self, order_id: str) -> Deferred:
        path = "/status?" + urlencode({"order_id": order_id})
        d = self._channel.request(b"GET", path, None, self._headers(b""))
        d.addCallbacks(self._result, self._unknown)
        return d

    def plans(self, provider_code: str, circle: str) -> Deferred:
        path = "/plans?" + urlencode({"operator": provider_code, "circle": circle})
        d = self._channel.request(b"GET", path, None, self._headers(b""))

        def read(answer: tuple[int, bytes]) -> Any:
            status, body = answer
            if status != 200:
                raise ProviderUnavailable(f"{self.name}: plans answered HTTP {status}")
            try:
                return proto.parse_plans(body)
            except (proto.ProtocolError, KeyError, ValueError, TypeError) as exc:
                raise ProviderUnavailable(f"{self.name}: unreadable plans: {exc}") from None

        def unreachable(failure: Any) -> Any:
            failure.trap(ProviderTimeout, ProviderTransportError)
            raise ProviderUnavailable(f"{self.name}: {failure.value}")

        d.addCallbacks(read, unreachable)
        return d

    def _result(self, answer: tuple[int, bytes]) -> ProviderResult:
        status, body = answer
        if status != 200:
            # A 5xx other than 503 (which is ProviderUnavailable): it may have acted.
            return ProviderResult(Outcome.UNKNOWN, code=f"HTTP{status}", message="provider error")
        try:
            return proto.parse_result(body)
        except proto.ProtocolError as exc:
            log.warning("%s: unreadable answer: %s", self.name, exc)
            return ProviderResult(Outcome.UNKNOWN, message="unreadable provider answer")

    def _unknown(self, failure: Any) -> ProviderResult:
        failure.trap(ProviderTimeout, ProviderTransportError)
        return ProviderResult(Outcome.UNKNOWN, code="TIMEOUT", message=str(failure.value)[:200])
