"""The insurance partner protocol (HTTP/JSON; sans-IO, shared by the client adapter and
``evd simulate-provider insurance``). Documented in docs/CATALOGUE.md:

* ``POST /quote`` ``{"plan", "sum_insured" (paise), "age", "term_years"}`` ->
  ``{"status": "SUCCESS"|"FAILED", "quote_id", "premium" (paise), "valid_minutes",
  "message"}``
* ``POST /issue`` ``{"order_id", "plan", "quote_id", "premium" (paise), "holder": {"name",
  "dob", "mobile"}}`` -> ``{"status": "SUCCESS"|"PENDING"|"FAILED", "txn_id",
  "policy_no", "document_ref", "code", "message"}``
* ``GET /status?order_id=`` -> the issue shape (``"code": "NOTFOUND"``: unknown)
* callbacks ``POST`` to us: the issue shape with ``order_id``; bodies signed
  ``X-Signature`` (HMAC-SHA256 of the shared secret) both ways.
"""

from __future__ import annotations

import json
from typing import Any

from catalogue.adapters import recharge_json
from catalogue.adapters.recharge_json import ProtocolError, _load, _text
from catalogue.interface import CallbackNotice, InsuranceQuote, ProviderOrder, ProviderResult
from vending.money import Money


def _dump(data: dict[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def encode_quote(plan: str, sum_insured: int, age: int, term_years: int) -> bytes:
    return _dump({"plan": plan, "sum_insured": sum_insured, "age": age, "term_years": term_years})


def parse_quote(body: bytes, plan: str, sum_insured: Money) -> InsuranceQuote | str:
    """The quote, or the insurer's reason for refusing one."""
    data = _load(body)
    if str(data.get("status", "")).upper() != "SUCCESS":
        return _text(data, "message", 200) or "refused by the insurer"
    premium = data.get("premium")
    quote_id = _text(data, "quote_id", 32)
    if not isinstance(premium, int) or premium <= 0 or not quote_id:
        raise ProtocolError("a quote needs quote_id and a positive integer premium")
    return InsuranceQuote(
        quote_id, plan, Money(premium, sum_insured.currency), sum_insured,
        int(data.get("valid_minutes") or 30),
    )  # fmt: skip


def encode_issue(order: ProviderOrder) -> bytes:
    params = order.params
    return _dump(
        {
            "order_id": order.order_id,
            "plan": order.provider_code,
            "quote_id": params.get("quote_id"),
            "premium": order.amount.amount,
            "holder": {
                "name": params.get("holder"),
                "dob": params.get("dob"),
                "mobile": order.target,
            },
        }
    )


def parse_result(body: bytes) -> ProviderResult:
    # The policy number is the customer's reference; the document reference rides along.
    return recharge_json.parse_result(body, ref_field="policy_no", detail_fields=("document_ref",))


def parse_callback(body: bytes) -> CallbackNotice:
    return recharge_json.parse_callback(body, parse_result)
