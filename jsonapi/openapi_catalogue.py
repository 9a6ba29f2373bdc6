"""The provider products' part of the OpenAPI document (issue 14 §7; routes in
``jsonapi.catalogue_api``): recharge, bills, money transfer, insurance, travel, orders."""

from __future__ import annotations

from typing import Any

from jsonapi.openapi import (
    AMOUNT,
    CURRENCY,
    IDEMPOTENCY,
    INSTANT,
    _json,
    _nullable,
    _obj,
    _op,
    _path_param,
)

_STR = {"type": "string"}
_NSTR = _nullable(_STR)
_ACCOUNT = _nullable(_obj({"available": AMOUNT, "currency": CURRENCY}))


def _items(schema: dict[str, Any]) -> dict[str, Any]:
    return _obj({"items": {"type": "array", "items": schema}})


ORDER = _obj(
    {
        "order_id": {"type": "string", "pattern": "^EV[0-9]{18}$"},
        "service": {"enum": ["mobile", "dth", "datacard", "bill", "dmt", "insurance"]},
        "status": {"enum": ["pending", "success", "failed"]},
        "target": _STR, "amount": AMOUNT, "currency": CURRENCY, "operator_ref": _NSTR,
        "provider_ref": _NSTR, "receipt_number": _STR, "message": _NSTR,
        "details": {"type": "object"}, "location": _STR, "account": _ACCOUNT,
    }
)  # fmt: skip
BOOKING = _obj(
    {
        "booking_ref": {"type": "string", "pattern": "^TB[0-9]{18}$"},
        "status": {"enum": ["held", "booking", "booked", "failed", "released", "cancelled"]},
        "trip": {"type": "object"}, "seats": {"type": "array", "items": _STR},
        "passengers": {"type": "array", "items": {"type": "object"}}, "fare": AMOUNT,
        "currency": CURRENCY, "hold_expires_at": INSTANT, "pnr": _NSTR,
        "ticket_number": _NSTR, "refund": _nullable(AMOUNT), "message": _NSTR,
        "account": _ACCOUNT,
    }
)  # fmt: skip
COMPLAINT = _obj({"complaint_id": _STR, "status": _STR, "message": _NSTR})
PASSENGER = _obj({"name": _STR, "age": {"type": "integer", "minimum": 1, "maximum": 120}})

SCHEMAS: dict[str, Any] = {
    "Order": ORDER,
    "Booking": BOOKING,
    "Complaint": COMPLAINT,
    "RechargeOperators": _items(_obj({"code": _STR, "name": _STR, "service": _STR,
                                      "product": _STR})),
    "NumberInfo": _obj({"number": _STR, "operator": _STR, "operator_name": _STR,
                        "circle": _STR, "circle_name": _STR, "ported": {"type": "boolean"}}),
    "Plans": _items(_obj({"code": _STR, "amount": AMOUNT, "currency": CURRENCY,
                          "validity": _STR, "description": _STR, "category": _STR})),
    "RechargeCreate": _obj({"number": _STR, "amount": AMOUNT, "operator": _STR,
                            "circle": _STR, "plan": _STR}, ["number", "amount"]),
    "Billers": _items(_obj({"biller_id": _STR, "name": _STR, "category": _STR, "fetch": _STR,
                            "amount_rule": _STR,
                            "params": {"type": "array", "items": {"type": "object"}}})),
    "BillFetchCreate": _obj({"biller_id": _STR, "mobile": _STR, "params": {"type": "object"}}),
    "Bill": _obj({"ref_id": _STR, "biller_id": _STR, "customer_name": _STR,
                  "bill_number": _STR, "bill_date": _NSTR, "due_date": _NSTR, "amount": AMOUNT,
                  "currency": CURRENCY, "expires_at": INSTANT}),
    "BillPaymentCreate": _obj({"biller_id": _STR, "amount": AMOUNT, "mobile": _STR,
                               "params": {"type": "object"}, "ref_id": _STR},
                              ["biller_id", "amount", "mobile"]),
    "ComplaintCreate": _obj({"order_id": _STR, "type": {"enum": ["TRANSACTION", "SERVICE"]},
                             "description": _STR}),
    "RemitterCreate": _obj({"mobile": _STR, "name": _STR, "kyc": {"enum": ["minimum", "full"]}},
                           ["mobile", "name"]),
    "Remitter": _obj({"mobile": _STR, "name": _STR, "kyc": _STR}),
    "RemitterView": _obj({"mobile": _STR, "name": _STR, "kyc": _STR, "used_this_month": AMOUNT,
                          "remaining": AMOUNT, "currency": CURRENCY}),
    "BeneficiaryCreate": _obj({"name": _STR, "account": _STR, "ifsc": _STR}),
    "Beneficiary": _obj({"id": {"type": "integer"}, "name": _STR,
                         "account_last4": {"type": "string", "pattern": "^[0-9]{4}$"},
                         "ifsc": _STR, "verified_name": _NSTR,
                         "name_matches": _nullable({"type": "boolean"})}),
    "BeneficiaryList": _obj({
        "mobile": _STR, "name": _STR, "kyc": _STR, "remaining": AMOUNT, "currency": CURRENCY,
        "items": {"type": "array", "items": _obj({
            "id": {"type": "integer"},
            "account_last4": {"type": "string", "pattern": "^[0-9]{4}$"},
            "ifsc": _STR, "verified_name": _NSTR, "name": _STR})}}),
    "TransferFee": _obj({"amount": AMOUNT, "fee": AMOUNT, "total": AMOUNT, "currency": CURRENCY}),
    "TransferCreate": _obj({"sender": _STR, "beneficiary_id": {"type": "integer"},
                            "amount": AMOUNT}),
    "QuoteCreate": _obj({"plan": {"enum": ["INS-TERM", "INS-HEALTH", "INS-ACCIDENT"]},
                         "sum_insured": AMOUNT, "dob": {"type": "string", "format": "date"},
                         "term_years": {"type": "integer"}}),
    "Quote": _obj({"quote_id": _STR, "plan": _STR, "premium": AMOUNT, "sum_insured": AMOUNT,
                   "currency": CURRENCY, "valid_minutes": {"type": "integer"}}),
    "PolicyCreate": _obj({"plan": _STR, "quote_id": _STR, "premium": AMOUNT, "holder": _STR,
                          "dob": {"type": "string", "format": "date"}, "mobile": _STR}),
    "Trips": _items(_obj({"trip_id": _STR, "operator": _STR, "bus_type": _STR,
                          "departs": INSTANT, "arrives": INSTANT, "fare": AMOUNT,
                          "currency": CURRENCY, "seats": {"type": "array", "items": _STR}})),
    "HoldCreate": _obj({"trip_id": _STR, "from": _STR, "to": _STR,
                        "date": {"type": "string", "format": "date"},
                        "seats": {"type": "array", "items": _STR, "minItems": 1, "maxItems": 6},
                        "passengers": {"type": "array", "items": PASSENGER}, "contact": _STR}),
    "AepsLogin": _obj({"pid": {"type": "string", "contentEncoding": "base64"}}),
    "AepsLoggedIn": _obj({"logged_in": {"type": "boolean"}}),
    "AepsCreate": _obj({"kind": {"enum": ["CW", "BE", "MS", "AP"]},
                        "aadhaar": {"type": "string", "pattern": "^[0-9]{12}$"},
                        "iin": {"type": "string", "pattern": "^[0-9]{6}$"}, "amount": AMOUNT,
                        "pid": {"type": "string", "contentEncoding": "base64"}},
                       ["kind", "aadhaar", "iin", "pid"]),
    "Aeps": _obj({"kind": _STR, "status": {"enum": ["pending", "success", "declined"]},
                  "response_code": _NSTR, "message": _NSTR, "rrn": _NSTR, "stan": _STR,
                  "aadhaar": _STR, "iin": _STR, "amount": _nullable(AMOUNT),
                  "balance": _nullable(AMOUNT), "commission": _nullable(AMOUNT),
                  "statement": {"type": "array", "items": {"type": "object"}}}),
}  # fmt: skip

_PROBLEM = {"$ref": "#/components/schemas/Problem"}
_SALE_ANSWERS = {
    "201": _json("Order", "Done (a retry with the same key gets the same answer)"),
    "202": _json("Order", "Pending at the provider: the final result is pushed (webhook, "
                 "SMS) and shown at location; or Pending (deadline) with Location"),
    "422": {"description": "Refused and refunded (a problem naming order_id)",
            "content": {"application/problem+json": {"schema": _PROBLEM}}},
}  # fmt: skip
_Q = [
    {"name": n, "in": "query", "required": True, "schema": _STR}
    for n in ("operator", "circle")
]  # fmt: skip
_REF = _path_param("ref", {"type": "string", "pattern": "^TB[0-9]{18}$"})
_MOBILE = _path_param("mobile", {"type": "string", "pattern": "^[0-9]{10}$"})


def _sale(summary: str, body: str) -> dict[str, Any]:
    return {"post": _op(summary, dict(_SALE_ANSWERS), body=body, parameters=[IDEMPOTENCY])}


def _booking_step(summary: str) -> dict[str, Any]:
    return {"post": _op(summary, {"200": _json("Booking", "The booking (stored under the key)")},
                        parameters=[_REF, IDEMPOTENCY])}  # fmt: skip


PATHS: dict[str, Any] = {
    "/recharge/operators": {
        "get": _op("Recharge operators", {"200": _json("RechargeOperators", "All")})
    },
    "/recharge/numbers/{number}": {"get": _op(
        "A mobile number's operator and circle (ported numbers first)",
        {"200": _json("NumberInfo", "Found")},
        parameters=[_path_param("number", _STR)])},
    "/recharge/plans": {"get": _op("An operator's plans in a circle (cached)",
                                   {"200": _json("Plans", "Plans")}, parameters=_Q)},
    "/recharges": _sale("PIN-less recharge (mobile, DTH, data card)", "RechargeCreate"),
    "/orders/{order_id}": {"get": _op(
        "Any provider order of the caller (recharge, bill, transfer, policy): its state, the "
        "final answer once closed", {"200": _json("Order", "The order")},
        parameters=[_path_param("order_id", {"type": "string", "pattern": "^EV[0-9]{18}$"})])},
    "/billers": {"get": _op("The biller registry", {"200": _json("Billers", "Active billers")},
                            parameters=[{"name": "category", "in": "query", "schema": _STR}])},
    "/bills/fetch": {"post": _op("Fetch a customer's bill (its ref_id is quoted by the payment)",
                                 {"200": _json("Bill", "The bill")}, body="BillFetchCreate")},
    "/bills/payments": _sale("Pay a bill (with the fetch's ref_id, or validate-and-pay)",
                             "BillPaymentCreate"),
    "/bills/complaints": {"post": _op(
        "Register a complaint about a payment (one per Idempotency-Key: a retry replays it)",
        {"201": _json("Complaint", "Registered")}, body="ComplaintCreate",
        parameters=[IDEMPOTENCY])},
    "/bills/complaints/{complaint_id}": {"get": _op(
        "A complaint's status", {"200": _json("Complaint", "Its status")},
        parameters=[_path_param("complaint_id", _STR)])},
    "/remitters": {"post": _op("Register a money transfer sender (KYC-lite limits)",
                               {"201": _json("Remitter", "Registered")}, body="RemitterCreate")},
    "/remitters/{mobile}": {"get": _op("A sender and this month's remaining limit",
                                       {"200": _json("RemitterView", "The sender")},
                                       parameters=[_MOBILE])},
    "/remitters/{mobile}/beneficiaries": {
        "post": _op("Add a beneficiary (penny-drop name check)",
                    {"201": _json("Beneficiary", "Added")}, body="BeneficiaryCreate",
                    parameters=[_MOBILE]),
        "get": _op("The sender's beneficiaries (account numbers masked to the last four "
                   "digits) and this month's remaining limit; only for the merchant that "
                   "registered the sender (another caller gets 404)",
                   {"200": _json("BeneficiaryList", "The beneficiaries")},
                   parameters=[_MOBILE])},
    "/transfers/fee": {"get": _op(
        "The customer's fee for a transfer of amount, and the total paid",
        {"200": _json("TransferFee", "The fee")},
        parameters=[{"name": "amount", "in": "query", "required": True, "schema": AMOUNT}])},
    "/transfers": _sale("IMPS-like money transfer (amount + fee; UTR on success)",
                        "TransferCreate"),
    "/insurance/quotes": {"post": _op("An insurer's quote for a plan",
                                      {"201": _json("Quote", "Quoted")}, body="QuoteCreate")},
    "/insurance/policies": _sale("Issue the quoted policy (policy number and document "
                                 "reference in operator_ref and details)", "PolicyCreate"),
    "/travel/trips": {"get": _op("Search bus trips", {"200": _json("Trips", "Trips")},
                                 parameters=[{"name": n, "in": "query", "required": True,
                                              "schema": _STR} for n in ("from", "to", "date")])},
    "/travel/bookings": {"post": _op(
        "Hold seats (the fare held in suspense until booked, released or expired)",
        {"200": _json("Booking", "Held (stored under the key)")}, body="HoldCreate",
        parameters=[IDEMPOTENCY])},
    "/travel/bookings/{ref}": {"get": _op("A booking (one being booked is asked of the partner)",
                                          {"200": _json("Booking", "The booking")},
                                          parameters=[_REF])},
    "/travel/bookings/{ref}/ticket": _booking_step("Book the held seats: ticket and PNR"),
    "/aeps/login": {"post": _op("The agent's daily biometric login (PID block, base64)",
                                {"200": _json("AepsLoggedIn", "Logged in for today")},
                                body="AepsLogin")},
    "/aeps/transactions": {"post": _op(
        "AEPS cash withdrawal, balance enquiry, mini statement or Aadhaar Pay; the PID "
        "block is forwarded, never kept", {
            "200": _json("Aeps", "Approved or declined (response_code)"),
            "202": _json("Aeps", "No answer yet: retry the request (same key) to enquire"),
        }, body="AepsCreate", parameters=[IDEMPOTENCY])},
    "/travel/bookings/{ref}/cancellation": _booking_step(
        "Cancel a booked ticket by the partner's refund rules (the refund credited)"),
}  # fmt: skip
