"""The recharge provider client (HTTP/JSON, :mod:`catalogue.adapters.recharge_json`): the
provider interface's real implementation for recharge aggregators."""

from __future__ import annotations

from urllib.parse import urlencode

from twisted.internet.defer import Deferred

from catalogue.adapters import recharge_json as proto
from catalogue.adapters.json_client import SignedJsonClient
from catalogue.interface import ProviderOrder


class RechargeJsonClient(SignedJsonClient):
    def execute(self, order: ProviderOrder) -> Deferred:
        return self._order_call(
            b"POST", "/recharge", proto.encode_recharge(order), proto.parse_result
        )

    def status(self, order_id: str) -> Deferred:
        path = "/status?" + urlencode({"order_id": order_id})
        return self._order_call(b"GET", path, None, proto.parse_result)

    def plans(self, provider_code: str, circle: str) -> Deferred:
        path = "/plans?" + urlencode({"operator": provider_code, "circle": circle})
        return self._side_call(b"GET", path, None, proto.parse_plans)
