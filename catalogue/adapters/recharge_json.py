"""The recharge provider protocol (HTTP/JSON, the common Indian B2B shape; sans-IO, shared
by the client adapter and ``evd simulate-provider recharge``). Documented in
docs/CATALOGUE.md:

* ``POST /recharge`` ``{"order_id", "operator", "number", "amount" (paise), "circle"}``
  -> ``{"status": "SUCCESS"|"PENDING"|"FAILED", "txn_id", "operator_ref", "code", "message"}``
* ``GET /status?order_id=...`` -> the same shape (``"code": "NOTFOUND"`` when the provider
  has no such order: unknown, never a refund by itself)
* ``GET /plans?operator=...&circle=...`` -> ``{"plans": [{"code", "amount", "validity",
  "description", "category"}]}``
* callbacks: ``POST`` to our URL, the status shape with ``order_id``; every body, both ways,
  signed ``X-Signature: hex HMAC-SHA256(shared secret, body)``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from catalogue.interface import CallbackNotice, Outcome, Plan, ProviderOrder, ProviderResult
from vending.money import Money

STATUSES = {"SUCCESS": Outcome.SUCCESS, "PENDING": Outcome.PENDING, "FAILED": Outcome.FAILED}


class ProtocolError(ValueError):
    """A body that is not the protocol's."""


def _load(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolError("not a JSON object")
    return data


def _text(data: dict[str, Any], name: str, limit: int) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    return str(value)[:limit]


def encode_recharge(order: ProviderOrder) -> bytes:
    body = {
        "order_id": order.order_id,
        "operator": order.provider_code,
        "number": order.target,
        "amount": order.amount.amount,
        "circle": order.params.get("circle", ""),
    }
    return json.dumps(body, separators=(",", ":")).encode()


def decode_recharge(body: bytes) -> dict[str, Any]:
    data = _load(body)
    for name in ("order_id", "operator", "number", "amount"):
        if name not in data:
            raise ProtocolError(f"missing {name}")
    if not isinstance(data["amount"], int) or data["amount"] <= 0:
        raise ProtocolError("amount must be positive paise")
    return data


def encode_result(
    status: str,
    *,
    order_id: str | None = None,
    txn_id: str | None = None,
    operator_ref: str | None = None,
    code: str = "",
    message: str = "",
) -> bytes:
    body: dict[str, Any] = {
        "status": status,
        "txn_id": txn_id,
        "operator_ref": operator_ref,
        "code": code,
        "message": message,
    }
    if order_id is not None:
        body["order_id"] = order_id
    return json.dumps(body, separators=(",", ":")).encode()


def parse_result(
    body: bytes, *, ref_field: str = "operator_ref", detail_fields: tuple[str, ...] = ()
) -> ProviderResult:
    """The result shape the JSON providers share: ``status``, ``txn_id``, ``code``,
    ``message`` and the customer's reference under ``ref_field`` (the operator's reference;
    a UTR; a policy number); ``detail_fields`` are kept as the result's details."""
    data = _load(body)
    status = str(data.get("status", "")).upper()
    code = _text(data, "code", 16) or ""
    outcome = STATUSES.get(status)
    if outcome is None or code == "NOTFOUND":
        outcome = Outcome.UNKNOWN
    details = {name: _text(data, name, 64) for name in detail_fields if _text(data, name, 64)}
    return ProviderResult(
        outcome=outcome,
        provider_ref=_text(data, "txn_id", 64),
        operator_ref=_text(data, ref_field, 64),
        code=code,
        message=_text(data, "message", 200) or "",
        details=details,
    )


def parse_callback(
    body: bytes, parse: Callable[[bytes], ProviderResult] | None = None
) -> CallbackNotice:
    data = _load(body)
    order_id = _text(data, "order_id", 20)
    if not order_id:
        raise ProtocolError("callback without order_id")
    return CallbackNotice(order_id, (parse or parse_result)(body))


def encode_plans(plans: list[Plan]) -> bytes:
    return json.dumps(
        {
            "plans": [
                {
                    "code": p.code,
                    "amount": p.amount.amount,
                    "validity": p.validity,
                    "description": p.description,
                    "category": p.category,
                }
                for p in plans
            ]
        }
    ).encode()


def parse_plans(body: bytes, currency: str = "INR") -> list[Plan]:
    data = _load(body)
    plans = data.get("plans")
    if not isinstance(plans, list):
        raise ProtocolError("no plans list")
    return [
        Plan(
            str(p["code"])[:20],
            Money(int(p["amount"]), currency),
            str(p["validity"])[:40],
            str(p["description"])[:200],
            str(p.get("category", "topup"))[:20],
        )
        for p in plans
    ]
