"""The card channel's answers (JSON): the sale's part (a PIN or a token, never card data)
and the checkout's whole answer, stored for the consumer's reference and replayed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from vending.errors import VendingError
from vending.money import Money
from vending.requests import StoredResponse
from vending.sales import Sale
from vending.services.card_checkout import CheckoutOutcome

STATUS = {"sold": 201, "declined": 402, "not_completed": 502, "in_progress": 409}


def dumps(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


class CardRenderer:
    channel = "card"

    def voucher_sale(self, request: Any, sold: Any) -> StoredResponse:
        voucher = sold.voucher
        return StoredResponse(
            dumps(
                {
                    "product": voucher.product_code,
                    "amount": sold.sale.amount.format(),
                    "currency": sold.sale.amount.currency,
                    "pin": voucher.pin,
                    "serial": voucher.serial_no,
                    "expiry": None if voucher.expiry is None else voucher.expiry.isoformat(),
                    "instructions": voucher.instructions or None,
                    "receipt": sold.sale.receipt_no,
                }
            ),
            200,
        )

    def vend(self, request: Any, result: Any, sale: Sale | None, balance: Money | None) -> Any:
        return StoredResponse(
            dumps(
                {
                    "meter": result.meter.msno,
                    "amount": result.price.format(),
                    "token": result.token.token,
                    "units": format(result.token.units, "f"),
                    "unit": result.token.si_unit,
                    "receipt": None if sale is None else sale.receipt_no,
                }
            ),
            200,
        )

    def failure(self, request: Any, error: Exception) -> StoredResponse:
        message = error.message if isinstance(error, VendingError) else "the sale failed"
        return StoredResponse(dumps({"error": message}), 422)

    def load(self, request_body: bytes) -> Any:
        return request_body.decode()

    def advice(self, request: Any, done: bool, message: str) -> StoredResponse:
        return StoredResponse(dumps({"done": done, "message": message}), 200 if done else 422)

    def withdrawn(self, original: StoredResponse, message: str) -> StoredResponse:
        return StoredResponse(dumps({"error": f"reversed: {message}"}), 422)

    def _unsupported(self) -> StoredResponse:
        return StoredResponse(dumps({"error": "not offered at the card checkout"}), 422)

    def engineering(self, request: Any, token: Any) -> StoredResponse:
        return self._unsupported()

    def payment(self, request: Any, result: Any, sale: Sale, balance: Money) -> StoredResponse:
        return self._unsupported()

    def batches_started(self, request: Any, started: Sequence[Any]) -> StoredResponse:
        return self._unsupported()

    def batches_ended(self, request: Any, closed: Sequence[Any]) -> StoredResponse:
        return self._unsupported()

    def fault_logged(self, request: Any, ref_no: str) -> StoredResponse:
        return self._unsupported()


def render_checkout(outcome: CheckoutOutcome) -> bytes:
    """The checkout's answer: status, the switch's references, the sale (no card data)."""
    sale = None if outcome.sale_answer is None else json.loads(outcome.sale_answer)
    return dumps(
        {
            "reference": outcome.reference,
            "status": outcome.status,
            "http_status": STATUS[outcome.status],
            "rrn": outcome.rrn,
            "auth_code": outcome.auth_code,
            "response_code": outcome.response_code,
            "message": outcome.message or None,
            "sale": sale,
        }
    )


__all__ = ["STATUS", "CardRenderer", "render_checkout"]
