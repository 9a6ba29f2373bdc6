"""The money transfer provider client (:mod:`catalogue.adapters.dmt_json`): the provider
interface for IMPS-like transfers, plus the penny drop (``verify_account``)."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

from twisted.internet.defer import Deferred

from catalogue.adapters import dmt_json as proto
from catalogue.adapters.http import HttpChannel, ProviderTimeout, ProviderTransportError
from catalogue.adapters.recharge_json import ProtocolError
from catalogue.interface import Outcome, ProviderOrder, ProviderResult, ProviderUnavailable

JSON = {b"Content-Type": b"application/json"}


class DmtJsonClient:
    def __init__(self, name: str, channel: HttpChannel) -> None:
        self.name = name
        self._channel = channel

    def execute(self, order: ProviderOrder) -> Deferred:
        d = self._channel.request(b"POST", "/transfer", proto.encode_transfer(order), JSON)
        d.addCallbacks(self._result, self._unknown)
        return d

    def status(self, order_id: str) -> Deferred:
        d = self._channel.request(b"GET", "/status?" + urlencode({"order_id": order_id}))
        d.addCallbacks(self._result, self._unknown)
        return d

    def verify_account(self, account: str, ifsc: str) -> Deferred:
        """-> the bank's name for the account (None: no such account)."""
        body = proto.encode_verify("PD" + secrets.token_hex(9).upper(), account, ifsc)
        d = self._channel.request(b"POST", "/verify", body, JSON)

        def read(answer: tuple[int, bytes]) -> Any:
            status, data = answer
            if status != 200:
                raise ProviderUnavailable(f"{self.name}: verify answered HTTP {status}")
            try:
                return proto.parse_verify(data)
            except ProtocolError as exc:
                raise ProviderUnavailable(f"{self.name}: {exc}") from None

        def unreachable(failure: Any) -> Any:
            failure.trap(ProviderTimeout, ProviderTransportError)
            raise ProviderUnavailable(f"{self.name}: {failure.value}")

        d.addCallbacks(read, unreachable)
        return d

    @staticmethod
    def _result(answer: tuple[int, bytes]) -> ProviderResult:
        status, body = answer
        if status != 200:
            return ProviderResult(Outcome.UNKNOWN, code=f"HTTP{status}", message="bank error")
        try:
            return proto.parse_transfer(body)
        except ProtocolError:
            return ProviderResult(Outcome.UNKNOWN, message="unreadable bank answer")

    @staticmethod
    def _unknown(failure: Any) -> ProviderResult:
        failure.trap(ProviderTimeout, ProviderTransportError)
        return ProviderResult(Outcome.UNKNOWN, code="TIMEOUT", message=str(failure.value)[:200])
