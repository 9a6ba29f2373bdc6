"""The insurance partner client (:mod:`catalogue.adapters.insurance_json`): quotes, and the
provider interface (``execute`` issues the quoted policy; ``status`` by our order id)."""

from __future__ import annotations

from urllib.parse import urlencode

from twisted.internet.defer import Deferred

from catalogue.adapters import insurance_json as proto
from catalogue.adapters.json_client import SignedJsonClient
from catalogue.interface import ProviderOrder
from vending.money import Money


class InsuranceJsonClient(SignedJsonClient):
    def execute(self, order: ProviderOrder) -> Deferred:
        return self._order_call(b"POST", "/issue", proto.encode_issue(order), proto.parse_result)

    def status(self, order_id: str) -> Deferred:
        path = "/status?" + urlencode({"order_id": order_id})
        return self._order_call(b"GET", path, None, proto.parse_result)

    def quote(self, plan_code: str, sum_insured: Money, age: int, term_years: int) -> Deferred:
        """-> :class:`InsuranceQuote`, or the insurer's reason (str) for refusing one."""
        body = proto.encode_quote(plan_code, sum_insured.amount, age, term_years)
        return self._side_call(
            b"POST", "/quote", body, lambda data: proto.parse_quote(data, plan_code, sum_insured)
        )
