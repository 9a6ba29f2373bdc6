"""The money transfer provider protocol (HTTP/JSON, IMPS-like; sans-IO, shared by the
client and ``evd simulate-provider dmt``):

* ``POST /verify`` ``{"ref", "account", "ifsc"}`` -> ``{"status": "SUCCESS"|"FAILED",
  "name", "message"}`` (a penny drop: the bank's name for the account)
* ``POST /transfer`` ``{"order_id", "account", "ifsc", "name", "amount" (paise), "mode":
  "IMPS", "sender"}`` -> ``{"status": "SUCCESS"|"PENDING"|"FAILED", "utr", "txn_id", "code",
  "message"}``
* ``GET /status?order_id=`` -> the transfer shape (``"code": "NOTFOUND"``: unknown).
"""

from __future__ import annotations

import json
from typing import Any

from catalogue.adapters.recharge_json import STATUSES, ProtocolError, _load, _text
from catalogue.interface import Outcome, ProviderOrder, ProviderResult


def encode_transfer(order: ProviderOrder) -> bytes:
    params = order.params
    return json.dumps(
        {
            "order_id": order.order_id,
            "account": params.get("account"),
            "ifsc": params.get("ifsc"),
            "name": params.get("name"),
            "amount": order.amount.amount,
            "mode": "IMPS",
            "sender": params.get("sender"),
        },
        separators=(",", ":"),
    ).encode()


def encode_result(status: str, **fields: Any) -> bytes:
    return json.dumps({"status": status, **fields}, separators=(",", ":")).encode()


def parse_transfer(body: bytes) -> ProviderResult:
    data = _load(body)
    code = _text(data, "code", 16) or ""
    outcome = STATUSES.get(str(data.get("status", "")).upper())
    if outcome is None or code == "NOTFOUND":
        outcome = Outcome.UNKNOWN
    return ProviderResult(
        outcome,
        provider_ref=_text(data, "txn_id", 64),
        operator_ref=_text(data, "utr", 64),  # the UTR, printed on the receipt
        code=code,
        message=_text(data, "message", 200) or "",
    )


def encode_verify(ref: str, account: str, ifsc: str) -> bytes:
    return json.dumps({"ref": ref, "account": account, "ifsc": ifsc}).encode()


def parse_verify(body: bytes) -> str | None:
    """The account holder's name, or None when the bank refused the account."""
    data = _load(body)
    if str(data.get("status", "")).upper() != "SUCCESS":
        return None
    name = _text(data, "name", 80)
    if not name:
        raise ProtocolError("a verified account without a name")
    return name
