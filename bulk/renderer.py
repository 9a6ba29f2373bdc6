"""The ``bulk`` channel's stored answers: one small JSON document per row's sale, stored
under the row's request key (so a resubmitted row gets it back and sells nothing), and
read back into the row's result. Pure and thread-safe, as every channel renderer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from vending.requests import StoredResponse

CHANNEL = "bulk"


@dataclass(frozen=True)
class RowAnswer:
    state: str  # sold | pending | failed
    reference: str = ""
    operator_ref: str = ""
    message: str = ""
    serial: str = ""
    pin: str = ""

    def __repr__(self) -> str:  # never the PIN in a log line
        return f"RowAnswer({self.state}, {self.reference or self.serial}, {self.message!r})"


def _stored(document: dict[str, Any], status: int) -> StoredResponse:
    return StoredResponse(json.dumps(document, sort_keys=True).encode(), http_status=status)


class BulkRenderer:
    """Implements the parts of ``vending.services.rendering.ChannelRenderer`` a bulk row
    can reach: a provider sale (recharge), a voucher sale, a failure."""

    def provider_sale(self, request: Any, sold: Any) -> StoredResponse:
        state = {"success": "sold", "failed": "failed"}.get(sold.state, "pending")
        return _stored(
            {
                "state": state,
                "reference": sold.order_id,
                "operator_ref": sold.operator_ref or "",
                "message": sold.message or "",
            },
            {"sold": 200, "pending": 202}.get(state, 422),
        )

    def voucher_sale(self, request: Any, sold: Any) -> StoredResponse:
        return _stored(
            {
                "state": "sold",
                "reference": sold.sale.receipt_no,
                "serial": sold.voucher.serial_no,
                "pin": sold.voucher.pin,
            },
            200,
        )

    def failure(self, request: Any, error: Exception) -> StoredResponse:
        return _stored({"state": "failed", "message": str(error)[:200]}, 422)

    def load(self, request_body: bytes) -> Any:
        return json.loads(request_body)


def read_answer(response: StoredResponse) -> RowAnswer:
    document = json.loads(response.body)
    return RowAnswer(
        state=document.get("state", "failed"),
        reference=document.get("reference", ""),
        operator_ref=document.get("operator_ref", ""),
        message=document.get("message", ""),
        serial=document.get("serial", ""),
        pin=document.get("pin", ""),
    )


__all__ = ["CHANNEL", "BulkRenderer", "RowAnswer", "read_answer"]
