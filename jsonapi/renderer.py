"""The JSON channel's renderer: the services call it inside the transaction that makes a
change, and what it returns (status + JSON bytes) is stored under the request key and
replayed byte for byte. Pure and thread-safe (it runs on database threads).

Implements the services' ``ChannelRenderer`` protocol. Operations the JSON API does not
offer (engineering tokens, account payments, batches, fault reports) are answered with a
``not-supported`` problem, so nothing the channel stores is ever a Python error.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from catalogue.orders import shown_sale_target
from jsonapi import wire
from jsonapi.problems import BUSINESS_RULE, NOT_SUPPORTED, REVERSAL_REFUSED, Problem, problem_for
from vending.money import Money
from vending.requests import StoredResponse
from vending.sales import Sale


@dataclass(frozen=True)
class JsonCall:
    """The JSON channel's own request, as the services hand it back to this renderer:
    the path it was made on and its body (canonical; never a credential)."""

    method: str
    path: str
    body: dict[str, Any]
    # The API key that made it (its callback URL gets the final result of a pending order).
    api_key_id: int | None = None

    def serialize(self) -> bytes:
        document: dict[str, Any] = {"method": self.method, "path": self.path, "body": self.body}
        if self.api_key_id is not None:
            document["api_key_id"] = self.api_key_id
        return wire.canonical(document)


def _account(available: Money | None) -> dict[str, str] | None:
    if available is None:
        return None
    return {"available": available.format(), "currency": available.currency}


def sale_summary(sale: Sale) -> dict[str, Any]:
    """What every view of a sale shows (never a token or a PIN)."""
    return {
        "id": sale.id,
        "status": sale.state,
        "product": sale.product_code,
        "kind": sale.product_kind,
        "amount": sale.amount.format(),
        "currency": sale.amount.currency,
        "target": shown_sale_target(sale.product_kind, sale.target),
        "receipt_number": sale.receipt_no,
        "created_at": wire.timestamp(sale.created_at),
        "completed_at": None if sale.completed_at is None else wire.timestamp(sale.completed_at),
        "reversed_at": None if sale.reversed_at is None else wire.timestamp(sale.reversed_at),
    }


def _token(token: Any, kind: str) -> dict[str, Any]:
    return {
        "token": token.token,
        "units": format(token.units, "f"),
        "unit": token.si_unit,
        "kind": kind,
    }


class JsonRenderer:
    """See the module docstring."""

    channel = "json"

    # --- sales -----------------------------------------------------------------------------

    def vend(self, request: Any, result: Any, sale: Sale | None, balance: Money | None) -> Any:
        tokens = [
            _token(result.token, "credit" if result.token.kind == "sale" else result.token.kind)
        ]
        if result.fbe_token is not None:
            tokens.append(_token(result.fbe_token, "fbe"))
        if result.key_change is not None:
            change = result.key_change
            tokens = [
                *(
                    {"token": t, "units": None, "unit": None, "kind": "key_change"}
                    for t in change.tokens
                ),
                *tokens,
            ]
            if change.power_limit_token:
                tokens.append(
                    {
                        "token": change.power_limit_token,
                        "units": None,
                        "unit": None,
                        "kind": "power_limit",
                    }
                )
        meter = result.meter
        receipt = {
            "number": None if sale is None else sale.receipt_no,
            "date": None if sale is None else wire.timestamp(sale.created_at),
            "meter": meter.msno,
            "utility": meter.utility.name,
            "tariff": result.tariff_name,
            "credit": result.credit.format(),
            "tax": result.credit_tax.format(),
            "tax_rate": format(result.tax_rate, "f"),
            "charges": [
                {
                    "kind": charge.kind,
                    "description": charge.description,
                    "amount": charge.amount.format(),
                    "tax": charge.tax.format(),
                }
                for charge in result.charges
            ],
            "utility_receipt_number": result.utility_receipt_no,
        }
        document = {
            **(sale_summary(sale) if sale is not None else {"id": None, "status": "completed"}),
            "receipt": receipt,
            "tokens": tokens,
            "account": _account(balance),
        }
        return StoredResponse(wire.dumps(document), 201)

    def voucher_sale(self, request: Any, sold: Any) -> StoredResponse:
        voucher = sold.voucher
        document = {
            **sale_summary(sold.sale),
            "receipt": {
                "number": sold.sale.receipt_no,
                "date": wire.timestamp(sold.sale.created_at),
                "network": voucher.network or None,
                "batch": voucher.batch_no or None,
                "instructions": voucher.instructions or None,
            },
            "pin": voucher.pin,
            "serial": voucher.serial_no,
            "expiry": None if voucher.expiry is None else voucher.expiry.isoformat(),
            "account": _account(sold.vendor_available),
        }
        return StoredResponse(wire.dumps(document), 201)

    def failure(self, request: Any, error: Exception) -> StoredResponse:
        problem = problem_for(error, incident="stored")
        return StoredResponse(problem.body(), problem.status)

    def load(self, request_body: bytes) -> JsonCall:
        document = json.loads(request_body)
        return JsonCall(
            document["method"], document["path"], document["body"], document.get("api_key_id")
        )

    # --- provider products (issue 14) -------------------------------------------------------

    def provider_sale(self, request: Any, sold: Any) -> StoredResponse:
        """Final success 201; final failure (refunded) a business-rule problem naming the
        order; pending 202 with the order's status URL (not stored: the final replaces it)."""
        if sold.state == "failed":
            problem = Problem(
                BUSINESS_RULE,
                f"{sold.order_id} failed ({sold.message or 'refused'}); the amount was refunded",
            )
            document = json.loads(problem.body())
            document.update(order_id=sold.order_id, refunded=True)
            return StoredResponse(wire.dumps(document), problem.status)
        return StoredResponse(
            wire.dumps(order_document(sold)), 201 if sold.state == "success" else 202
        )

    def aeps(self, request: Any, record: Any) -> StoredResponse:
        """An AEPS transaction: approved or declined (200, with the response code) or
        pending (202: a retry of the request enquires again)."""
        money = {
            name: None if getattr(record, name) is None else getattr(record, name).format()
            for name in ("amount", "balance", "commission")
        }
        document = {
            "kind": record.kind, "status": record.state, "response_code": record.response_code,
            "message": record.message, "rrn": record.rrn, "stan": record.stan,
            "aadhaar": "XXXXXXXX" + record.aadhaar_last4, "iin": record.iin, **money,
            "statement": record.statement or [],
        }  # fmt: skip
        return StoredResponse(wire.dumps(document), 202 if record.state == "pending" else 200)

    def travel_booking(self, request: Any, booking: Any) -> StoredResponse:
        return StoredResponse(wire.dumps(booking_document(booking)), 200)

    def webhook(
        self, request: Any, request_id: str, response: StoredResponse
    ) -> tuple[int, str, str] | None:
        """The pushed final result of a pending order made with an API key."""
        if not isinstance(request, JsonCall) or request.api_key_id is None:
            return None
        event, payload = webhook_event(request_id, response, kind="order")
        return request.api_key_id, event, payload

    # --- advices ----------------------------------------------------------------------------

    def advice(self, request: Any, done: bool, message: str) -> StoredResponse:
        if not done:
            problem = Problem(REVERSAL_REFUSED, message)
            return StoredResponse(problem.body(), problem.status)
        sale_id = request.body.get("sale_id") if isinstance(request, JsonCall) else None
        return StoredResponse(
            wire.dumps({"sale_id": sale_id, "status": "reversed", "message": message}), 200
        )

    def withdrawn(self, original: StoredResponse, message: str) -> StoredResponse:
        """A reversed sale's answer without its tokens or PIN (same status as before)."""
        try:
            document = json.loads(original.body)
        except ValueError:
            return original
        if not isinstance(document, dict) or "id" not in document:
            return original
        for secret in ("tokens", "pin"):
            document.pop(secret, None)
        document["status"] = "reversed"
        document["message"] = message
        return StoredResponse(wire.dumps(document), original.http_status)

    # --- operations the JSON API does not offer --------------------------------------------

    def _unsupported(self, what: str) -> StoredResponse:
        problem = Problem(NOT_SUPPORTED, f"{what} is not offered on the JSON API")
        return StoredResponse(problem.body(), problem.status)

    def engineering(self, request: Any, token: Any) -> StoredResponse:
        return self._unsupported("engineering tokens")

    def payment(self, request: Any, result: Any, sale: Sale, balance: Money) -> StoredResponse:
        return self._unsupported("account payment")

    def batches_started(self, request: Any, started: Sequence[Any]) -> StoredResponse:
        return self._unsupported("vendor batches")

    def batches_ended(self, request: Any, closed: Sequence[Any]) -> StoredResponse:
        return self._unsupported("vendor batches")

    def fault_logged(self, request: Any, ref_no: str) -> StoredResponse:
        return self._unsupported("fault reports")


def order_document(sold: Any) -> dict[str, Any]:
    """A provider order (recharge, bill, transfer, policy) as every answer shows it."""
    details = {
        name: sold.params[name]
        for name in ("operator", "circle", "biller", "customer_name", "bill_number",
                     "document_ref", "plan", "holder")
        if name in sold.params
    }  # fmt: skip
    return {
        "order_id": sold.order_id,
        "service": sold.service,
        "status": sold.state,
        # Masked (the account's last four); a recharge's number as it is.
        "target": sold.shown_target,
        "amount": sold.amount.format(),
        "currency": sold.amount.currency,
        "operator_ref": sold.operator_ref,
        "provider_ref": sold.provider_ref,
        "receipt_number": sold.receipt_no,
        "message": sold.message or None,
        "details": details,
        "location": f"/api/v1/orders/{sold.order_id}",
        "account": _account(sold.available),
    }


def booking_document(booking: Any) -> dict[str, Any]:
    return {
        "booking_ref": booking.booking_ref,
        "status": booking.state,
        "trip": booking.trip,
        "seats": booking.seats,
        "passengers": booking.passengers,
        "fare": booking.fare.format(),
        "currency": booking.fare.currency,
        "hold_expires_at": wire.timestamp(booking.expires_at),
        "pnr": booking.pnr,
        "ticket_number": booking.ticket_no,
        "refund": None if booking.refund is None else booking.refund.format(),
        "message": booking.message or None,
        "account": _account(booking.available),
    }


def webhook_event(request_id: str, response: StoredResponse, *, kind: str) -> tuple[str, str]:
    """A request's final answer as a webhook: its event name and JSON payload, whose
    ``result`` is the answer itself, byte for byte as stored (as a retry of the request, or
    a GET of its status, returns it)."""
    event = f"{kind}.completed" if response.http_status < 300 else f"{kind}.failed"
    head = wire.dumps(
        {
            "event": event,
            "idempotency_key": request_id.removeprefix(wire.REQUEST_ID_PREFIX),
            "status": response.http_status,
        }
    )
    return event, (head[:-1] + b',"result":' + response.body + b"}").decode("utf-8")


def pending_document(key: str, location: str, at: datetime) -> bytes:
    return wire.dumps(
        {
            "status": "pending",
            "idempotency_key": key,
            "location": location,
            "checked_at": wire.timestamp(at),
        }
    )
