"""``POST /checkout``: the public card checkout (no account). JSON in::

    {"reference": "my-order-1", "product": "AIR-DEMO-10", "target": "27831234567",
     "amount": "10.00", "currency": "ZAR",
     "card": {"number": "4111111111111111", "expiry": "2912", "cvv": "123"},
     "phone": "27831234567"}

JSON out (201 sold, 402 declined, 502 not completed, 409 in progress, 422 bad input). The
request body (card data) is never logged or stored; the answer never holds card data.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from twisted.internet.defer import ensureDeferred
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from cardpay.renderer import dumps
from vending.errors import IdempotencyConflict, VendingError
from vending.money import Money
from vending.services.card_checkout import CardCheckout, CheckoutRequest

log = logging.getLogger("evd.cards")
MAX_BODY = 8192


class CheckoutResource(Resource):
    isLeaf = True

    def __init__(self, checkout: CardCheckout, currency: str) -> None:
        super().__init__()
        self._checkout = checkout
        self._currency = currency

    def _send(self, request: Any, status: int, body: bytes) -> None:
        if request.finished or getattr(request, "_disconnected", False):
            return
        request.setResponseCode(status)
        request.setHeader(b"content-type", b"application/json")
        request.setHeader(b"cache-control", b"no-store")
        request.setHeader(b"content-length", b"%d" % len(body))
        request.write(body)
        request.finish()

    def render_POST(self, request: Any) -> Any:
        raw = request.content.read(MAX_BODY + 1)
        try:
            if len(raw) > MAX_BODY:
                raise ValueError("body too large")
            doc = json.loads(raw)
            card = doc["card"]
            checkout = CheckoutRequest(
                reference=str(doc["reference"])[:64],
                product_code=str(doc["product"]),
                target=str(doc.get("target") or ""),
                amount=Money.parse(str(doc["amount"]), str(doc.get("currency") or self._currency)),
                pan=str(card["number"]).replace(" ", ""),
                expiry=str(card["expiry"]),
                cvv=str(card["cvv"]),
                phone=str(doc["phone"]) if doc.get("phone") else None,
            )
        except (ValueError, KeyError, TypeError, VendingError):
            request.setResponseCode(422)
            request.setHeader(b"content-type", b"application/json")
            return dumps({"error": "expected reference, product, target, amount, card"})
        done = ensureDeferred(self._checkout.checkout(checkout))

        def answered(result: tuple[bytes, bool]) -> None:
            body, _replayed = result
            self._send(request, json.loads(body)["http_status"], body)

        def failed(failure: Any) -> None:
            error = failure.value
            if isinstance(error, IdempotencyConflict):
                self._send(request, 409, dumps({"error": error.message}))
            elif isinstance(error, VendingError):
                self._send(request, 422, dumps({"error": error.message}))
            else:
                log.error("checkout failed: %s", error.__class__.__name__)
                self._send(request, 500, dumps({"error": "internal error"}))

        done.addCallbacks(answered, failed)
        return NOT_DONE_YET


__all__ = ["CheckoutResource"]
