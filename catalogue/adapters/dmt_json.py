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

from catalogue.adapters import recharge_json
from catalogue.adapters.recharge_json import ProtocolError, _load, _text
from catalogue.interface import ProviderOrder, ProviderResult


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


def parse_transfer(body: bytes) -> ProviderResult:
    # The UTR is the customer's reference, printed on the receipt.
    return recharge_json.parse_result(body, ref_field="utr")


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
