"""The OpenAPI 3.1 document of ``/api/v1`` (served at ``/api/v1/openapi.json``). The test
suite validates it and validates every answer the tests receive against it, so this is the
contract, not a description written after the fact."""

from __future__ import annotations

from typing import Any

from jsonapi import wire

AMOUNT = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$", "examples": ["100.00"]}
CURRENCY = {"type": "string", "pattern": "^[A-Z]{3}$", "examples": ["ZAR"]}
INSTANT = {"type": "string", "format": "date-time"}
MSISDN = {"type": "string", "pattern": r"^\+?[1-9][0-9]{7,14}$", "examples": ["27821234567"]}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(
    properties: dict[str, Any], required: list[str] | None = None, *, closed: bool = True
) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    schema["required"] = list(properties) if required is None else required
    if closed:
        schema["additionalProperties"] = False
    return schema


SALE_SUMMARY = {
    "id": {"type": "integer"},
    "status": {"enum": ["pending", "completed", "failed", "reversed"]},
    "product": {"type": "string"},
    "kind": {"type": "string"},
    "amount": AMOUNT,
    "currency": CURRENCY,
    "target": {"type": "string"},
    "receipt_number": {"type": "string"},
    "created_at": INSTANT,
    "completed_at": _nullable(INSTANT),
    "reversed_at": _nullable(INSTANT),
}

TOKEN = _obj(
    {
        "token": {"type": "string", "pattern": "^[0-9]{20}$"},
        "units": _nullable({"type": "string"}),
        "unit": _nullable({"type": "string"}),
        "kind": {"enum": ["credit", "fbe", "free", "mct", "key_change", "power_limit"]},
    }
)

SCHEMAS: dict[str, Any] = {
    "Problem": _obj(
        {
            "type": {"type": "string", "format": "uri-reference"},
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string"},
            "fault_class": {"type": "string"},
            "instance": {"type": "string"},
            # A provider order that failed (refunded): which one.
            "order_id": {"type": "string"},
            "refunded": {"type": "boolean"},
        },
        ["type", "title", "status", "detail"],
    ),
    "ProblemType": _obj(
        {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "fault_class": _nullable({"type": "string"}),
        }
    ),
    "SaleCreate": _obj(
        {
            "product": {"type": "string", "examples": ["ELEC-DEMO", "AIR-DEMO-10"]},
            "amount": AMOUNT,
            "meter": {"type": "string", "examples": ["04100000019"]},
            "recipient": MSISDN,
        },
        ["product", "amount"],
    ),
    "Token": TOKEN,
    "ElectricityReceipt": _obj(
        {
            "number": _nullable({"type": "string"}),
            "date": _nullable(INSTANT),
            "meter": {"type": "string"},
            "utility": {"type": "string"},
            "tariff": _nullable({"type": "string"}),
            "credit": AMOUNT,
            "tax": AMOUNT,
            "tax_rate": {"type": "string"},
            "charges": {
                "type": "array",
                "items": _obj(
                    {
                        "kind": {"type": "string"},
                        "description": {"type": "string"},
                        "amount": AMOUNT,
                        "tax": AMOUNT,
                    }
                ),
            },
            "utility_receipt_number": _nullable({"type": "string"}),
        }
    ),
    "VoucherReceipt": _obj(
        {
            "number": {"type": "string"},
            "date": INSTANT,
            "network": _nullable({"type": "string"}),
            "batch": _nullable({"type": "string"}),
            "instructions": _nullable({"type": "string"}),
        }
    ),
    "AccountAfter": _nullable(_obj({"available": AMOUNT, "currency": CURRENCY})),
    "Sale": {
        "description": "A sale. The answer to POST /sales (and GET of a JSON sale) adds the "
        "receipt and tokens (electricity) or pin/serial/expiry (voucher); a reversed sale "
        "keeps its receipt but not its token or PIN.",
        **_obj(
            {
                **SALE_SUMMARY,
                "receipt": {
                    "anyOf": [_ref("ElectricityReceipt"), _ref("VoucherReceipt")],
                },
                "tokens": {"type": "array", "items": _ref("Token")},
                "pin": {"type": "string"},
                "serial": {"type": "string"},
                "expiry": _nullable({"type": "string", "format": "date"}),
                "account": _ref("AccountAfter"),
                "message": {"type": "string"},
            },
            list(SALE_SUMMARY),
        ),
    },
    "Pending": _obj(
        {
            "status": {"const": "pending"},
            "idempotency_key": {"type": "string"},
            "location": {"type": "string"},
            "checked_at": INSTANT,
        }
    ),
    "SalePage": _obj(
        {
            "items": {"type": "array", "items": _ref("Sale")},
            "next_cursor": _nullable({"type": "string"}),
        }
    ),
    "Reversal": _obj(
        {
            "sale_id": _nullable({"type": "integer"}),
            "status": {"const": "reversed"},
            "message": {"type": "string"},
        }
    ),
    "ReversalCreate": _obj({"reason": {"type": "string"}}, []),
    "Account": _obj({"balance": AMOUNT, "available": AMOUNT, "currency": CURRENCY}),
    "Statement": _obj(
        {
            "currency": CURRENCY,
            "items": {
                "type": "array",
                "items": _obj(
                    {
                        "id": {"type": "integer"},
                        "at": INSTANT,
                        "kind": {"type": "string"},
                        "description": {"type": "string"},
                        "role": {"type": "string"},
                        "amount": AMOUNT,
                        "balance_after": AMOUNT,
                    }
                ),
            },
            "next_cursor": _nullable({"type": "string"}),
        }
    ),
    "ConsumerCreate": _obj(
        {"msisdn": MSISDN, "name": {"type": "string"}, "pin": {"type": "string"}}
    ),
    "Consumer": _obj(
        {
            "msisdn": {"type": "string"},
            "name": {"type": "string"},
            "kyc_level": {"type": "integer"},
            "status": {"enum": ["active", "blocked", "closed"]},
            "balance": AMOUNT,
            "currency": CURRENCY,
            "limits": _obj({"max_balance": AMOUNT, "daily_spend": AMOUNT}),
        },
        ["msisdn", "name", "kyc_level", "status"],
    ),
    "CheckoutCreate": _obj(
        {
            "reference": {"type": "string", "maxLength": 64},
            "product": {"type": "string"},
            "target": {"type": "string"},
            "amount": AMOUNT,
            "currency": CURRENCY,
            "card": _obj(
                {
                    "number": {"type": "string", "pattern": "^[0-9 ]{13,23}$"},
                    "expiry": {"type": "string", "pattern": "^[0-9]{4}$"},
                    "cvv": {"type": "string", "pattern": "^[0-9]{3,4}$"},
                }
            ),
            "phone": MSISDN,
        },
        ["reference", "product", "target", "amount", "card"],
    ),
    "SaleMessages": _obj(
        {
            "sale_id": {"type": "integer"},
            "messages": {
                "type": "array",
                "items": _obj(
                    {
                        "to": {"type": "string"},
                        "purpose": {"enum": ["recipient", "reply"]},
                        "state": {
                            "enum": [
                                "pending",
                                "sending",
                                "submitted",
                                "delivered",
                                "failed",
                                "unknown",
                            ]
                        },
                        "attempts": {"type": "integer"},
                        "delivery_report": _nullable({"type": "integer"}),
                        "queued_at": INSTANT,
                        "reported_at": _nullable(INSTANT),
                    }
                ),
            },
        }
    ),
    "Checkout": _obj(
        {
            "reference": {"type": "string"},
            "status": {"enum": ["sold", "declined", "not_completed", "in_progress"]},
            "http_status": {"type": "integer"},
            "rrn": _nullable({"type": "string"}),
            "auth_code": _nullable({"type": "string"}),
            "response_code": _nullable({"type": "string"}),
            "message": _nullable({"type": "string"}),
            "sale": _nullable({"type": "object"}),
        }
    ),
    "TopUpCreate": _obj({"amount": AMOUNT}),
    "TopUp": _obj(
        {
            "msisdn": {"type": "string"},
            "amount": AMOUNT,
            "commission": AMOUNT,
            "currency": CURRENCY,
            "transfer_id": {"type": "integer"},
            "wallet_balance": AMOUNT,
            "account": _ref("AccountAfter"),
        }
    ),
    "SignIn": {
        "description": "A consumer signs in with its mobile number and PIN; a vendor's "
        "operator (a merchant's app) with the client id, operator name and password it uses "
        "on XMLVend. Wrong credentials are throttled: 429 locked until the time in detail.",
        "oneOf": [
            _obj({"msisdn": MSISDN, "pin": {"type": "string"}}),
            _obj(
                {
                    "client_id": {"type": "string", "maxLength": 64},
                    "operator": {"type": "string", "maxLength": 64},
                    "password": {"type": "string"},
                }
            ),
        ],
    },
    "Session": _obj(
        {
            "token": {"type": "string"},
            "token_type": {"const": "Bearer"},
            "expires_at": INSTANT,
            "kind": {"enum": ["consumer", "merchant"]},
        }
    ),
    "CurrentSession": _obj(
        {
            "kind": {"enum": ["consumer", "merchant", "api_key"]},
            "name": {"type": "string"},
            "msisdn": _nullable({"type": "string"}),
            "client_id": _nullable({"type": "string"}),
            "operator": _nullable({"type": "string"}),
            "currency": CURRENCY,
            "expires_at": _nullable(INSTANT),
        }
    ),
    "Products": _obj(
        {
            "items": {
                "type": "array",
                "items": _obj(
                    {
                        "code": {"type": "string"},
                        "kind": {"enum": ["electricity", "voucher"]},
                        "category": {"type": "string", "examples": ["airtime", "data"]},
                        "name": {"type": "string"},
                        "currency": CURRENCY,
                        "price": _nullable(AMOUNT),
                        "min_amount": _nullable(AMOUNT),
                        "max_amount": _nullable(AMOUNT),
                        "network": _nullable({"type": "string"}),
                    }
                ),
            }
        }
    ),
    "Meter": _obj(
        {
            "meter": {"type": "string"},
            "customer": _nullable({"type": "string"}),
            "address": _nullable({"type": "string"}),
            "utility": {"type": "string"},
            "can_vend": {"type": "boolean"},
            "min_amount": _nullable(AMOUNT),
            "max_amount": _nullable(AMOUNT),
        }
    ),
    "BulkRow": _obj(
        {
            "product": {"type": "string"},
            "target": {"type": "string"},
            "amount": {"type": "string"},
            "ref": {"type": "string"},
        },
        ["product"],
    ),
    "BulkSubmission": _obj(
        {
            "file_id": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,40}$"},
            "rows": {
                "type": "array",
                "minItems": 1,
                "maxItems": 10000,
                "items": _ref("BulkRow"),
            },
        }
    ),
    "BulkBatch": _obj(
        {
            "batch_id": {"type": "integer"},
            "file_id": {"type": "string"},
            "state": {"enum": ["running", "done"]},
            "total": {"type": "integer"},
            "counts": _obj(
                {s: {"type": "integer"} for s in ("queued", "sold", "pending", "failed")}
            ),
            "created_at": {"type": "string", "format": "date-time"},
            "finished_at": _nullable({"type": "string", "format": "date-time"}),
            "status_url": {"type": "string"},
            "results_url": {"type": "string"},
        }
    ),
    "WebhookSet": _obj({"callback_url": _nullable({"type": "string", "format": "uri"})}),
    "Webhook": _obj(
        {
            "callback_url": _nullable({"type": "string"}),
            "secret": _nullable({"type": "string"}),
        }
    ),
    "Deliveries": _obj(
        {
            "items": {
                "type": "array",
                "items": _obj(
                    {
                        "id": {"type": "integer"},
                        "event": {"type": "string"},
                        "url": {"type": "string"},
                        "state": {"enum": ["pending", "delivered", "failed"]},
                        "attempts": {
                            "type": "array",
                            "items": _obj(
                                {
                                    "at": INSTANT,
                                    "status": _nullable({"type": "integer"}),
                                    "error": _nullable({"type": "string"}),
                                }
                            ),
                        },
                        "created_at": INSTANT,
                        "next_attempt_at": _nullable(INSTANT),
                        "delivered_at": _nullable(INSTANT),
                    }
                ),
            }
        }
    ),
}


def _json(schema: str, description: str, headers: dict[str, Any] | None = None) -> dict:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": _ref(schema)}},
    }
    if headers:
        response["headers"] = headers
    return response


PROBLEM_RESPONSE = {
    "description": "An RFC 9457 problem",
    "content": {"application/problem+json": {"schema": _ref("Problem")}},
}
LOCATION = {"Location": {"schema": {"type": "string"}, "description": "where to poll"}}
IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": True,
    "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,59}$"},
    "description": "The same key and body give the same answer and make no second "
    "change; the same key with another body is refused (422).",
}
OPTIONAL_IDEMPOTENCY = {**IDEMPOTENCY, "required": False}
RANGE = [
    {"name": "from", "in": "query", "schema": {"type": "string"}, "description": "RFC 3339"},
    {"name": "to", "in": "query", "schema": {"type": "string"}, "description": "exclusive"},
    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
]


def _op(
    summary: str,
    responses: dict[str, Any],
    *,
    body: str | None = None,
    parameters: list[dict[str, Any]] | None = None,
    public: bool = False,
) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "responses": {**responses}}
    operation["responses"]["default"] = PROBLEM_RESPONSE
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(body)}},
        }
    if parameters:
        operation["parameters"] = parameters
    if public:
        operation["security"] = []
    return operation


def _path_param(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema}


SALE_ID = _path_param("sale_id", {"type": "integer"})
MSISDN_PARAM = _path_param("msisdn", MSISDN)

PATHS: dict[str, Any] = {
    "/openapi.json": {
        "get": _op(
            "This document",
            {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}},
            public=True,
        )
    },
    "/problems/{slug}": {
        "get": _op(
            "What a problem type means",
            {"200": _json("ProblemType", "The problem type")},
            parameters=[_path_param("slug", {"type": "string"})],
            public=True,
        )
    },
    "/sessions": {
        "post": _op(
            "Sign in (a consumer: mobile number and PIN; a merchant's operator: client id, "
            "operator and password): a short-lived session token for apps",
            {"201": _json("Session", "Signed in")},
            body="SignIn",
            public=True,
        )
    },
    "/sessions/current": {
        "get": _op("Who the bearer credential speaks for", {"200": _json("CurrentSession", "Who")}),
        "delete": _op("Sign out (ends the session)", {"204": {"description": "Signed out"}}),
    },
    "/products": {
        "get": _op(
            "What the caller can buy with POST /sales (active vouchers and electricity)",
            {"200": _json("Products", "Electricity first, then vouchers by code")},
        )
    },
    "/meters/{meter}": {
        "get": _op(
            "Confirm a meter before paying: its customer and utility",
            {"200": _json("Meter", "The meter")},
            parameters=[_path_param("meter", {"type": "string", "pattern": "^[0-9]{6,20}$"})],
        )
    },
    "/sales": {
        "post": _op(
            "Sell electricity (meter) or a voucher (PIN), from the vendor's float or the "
            "consumer's wallet",
            {
                "201": _json("Sale", "Sold (a retry with the same key gets the same answer)"),
                "202": _json("Pending", "Not final within the deadline: poll Location", LOCATION),
            },
            body="SaleCreate",
            parameters=[IDEMPOTENCY],
        ),
        "get": _op(
            "The caller's sales, newest first, paged",
            {"200": _json("SalePage", "A page of sales")},
            parameters=RANGE,
        ),
    },
    "/sales/by-key/{key}": {
        "get": _op(
            "A sale by the Idempotency-Key it was requested with (the 202's Location)",
            {
                "200": {
                    "description": "Final: the request's own answer, a Sale for POST /sales, "
                    "an Order for a provider sale (recharge, bill, transfer, insurance)",
                    "content": {
                        "application/json": {
                            "schema": {"anyOf": [_ref("Sale"), _ref("Order")]}
                        }
                    },
                },
                "202": _json("Pending", "Still being processed", LOCATION),
            },
            parameters=[_path_param("key", {"type": "string"})],
        )
    },
    "/sales/{sale_id}": {
        "get": _op("One sale", {"200": _json("Sale", "The sale")}, parameters=[SALE_ID])
    },
    "/sales/{sale_id}/reversal": {
        "post": _op(
            "Reverse a sale (the product's reversal policy, as on XMLVend)",
            {"200": _json("Reversal", "Reversed; the buyer's account was refunded")},
            parameters=[SALE_ID, OPTIONAL_IDEMPOTENCY],
        )
    },
    "/account": {
        "get": _op(
            "The caller's balance (vendor float or consumer wallet)",
            {"200": _json("Account", "The account")},
        )
    },
    "/account/statement": {
        "get": _op(
            "The caller's ledger entries, newest first, paged",
            {"200": _json("Statement", "A page of entries")},
            parameters=RANGE,
        )
    },
    "/consumers": {
        "post": _op(
            "Register a consumer (vendor keys; KYC level 0)",
            {"201": _json("Consumer", "Registered", LOCATION)},
            body="ConsumerCreate",
        )
    },
    "/consumers/{msisdn}": {
        "get": _op(
            "A consumer (a vendor sees the profile; the consumer also its wallet)",
            {"200": _json("Consumer", "The consumer")},
            parameters=[MSISDN_PARAM],
        )
    },
    "/consumers/{msisdn}/topups": {
        "post": _op(
            "Merchant cash-in to a consumer's wallet (vendor keys)",
            {"201": _json("TopUp", "Credited")},
            body="TopUpCreate",
            parameters=[MSISDN_PARAM, IDEMPOTENCY],
        )
    },
    "/sales/{sale_id}/messages": {
        "get": _op(
            "The SMS sent for a sale (its recipient's PIN or token) and their delivery "
            "states (Kannel's reports); never their text",
            {"200": _json("SaleMessages", "Oldest first")},
            parameters=[SALE_ID],
        )
    },
    "/checkout": {
        "post": _op(
            "Card checkout for a consumer without an account (public; docs/CARDS.md): pay "
            "by card through the acquirer's switch, get the PIN or token. The same "
            "reference later gets the same answer.",
            {
                "201": _json("Checkout", "Paid and sold"),
                "402": _json("Checkout", "Declined by the card issuer; nothing sold"),
                "409": _json("Checkout", "This reference is being paid right now"),
                "502": _json(
                    "Checkout",
                    "Not completed (no answer, or the sale failed): the payment is reversed",
                ),
            },
            body="CheckoutCreate",
            public=True,
        )
    },
    "/webhook": {
        "put": _op(
            "Register (or with null remove) the API key's callback URL; the signing secret "
            "is shown once",
            {"200": _json("Webhook", "Registered")},
            body="WebhookSet",
        )
    },
    "/bulk": {
        "post": {
            **_op(
                "Submit a bulk file (text/csv with its checksum trailer, docs/BULK.md) or "
                "rows as JSON; answered at once, sold in the background",
                {
                    "202": _json("BulkBatch", "Accepted: the rows are being sold"),
                    "200": _json("BulkBatch", "The same file again: its batch, nothing new"),
                },
            ),
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": _ref("BulkSubmission")},
                    "text/csv": {"schema": {"type": "string"}},
                },
            },
        }
    },
    "/bulk/{batch_id}": {
        "get": _op(
            "A bulk batch's counts by state",
            {"200": _json("BulkBatch", "The batch")},
            parameters=[_path_param("batch_id", {"type": "integer"})],
        )
    },
    "/bulk/{batch_id}/results": {
        "get": _op(
            "Every row's result as CSV (row, product, target, amount, ref, state, reason, "
            "reference, operator_ref, serial, pin)",
            {
                "200": {
                    "description": "CSV",
                    "content": {"text/csv; charset=utf-8": {}},
                }
            },
            parameters=[_path_param("batch_id", {"type": "integer"})],
        )
    },
    "/webhook/deliveries": {
        "get": _op(
            "The API key's webhook delivery log",
            {"200": _json("Deliveries", "Newest first")},
            parameters=[RANGE[3]],
        )
    },
}

# --- the distribution network and reward points (issue 13; jsonapi.network) -----------------

SCHEMAS["FundRequestCreate"] = _obj(
    {"amount": AMOUNT, "reference": {"type": "string", "minLength": 1, "maxLength": 32}}
)
SCHEMAS["FundRequestRejection"] = _obj({"reason": {"type": "string", "maxLength": 200}})
SCHEMAS["FundRequest"] = _obj(
    {
        "id": {"type": "integer"},
        "requester": {"type": "string", "description": "the asking node's code"},
        "reference": {"type": "string"},
        "amount": AMOUNT,
        "currency": CURRENCY,
        "state": {"enum": ["pending", "approved", "rejected", "expired"]},
        "reason": {"type": "string"},
        "created_at": _nullable(INSTANT),
        "expires_at": INSTANT,
        "decided_at": _nullable(INSTANT),
        "transfer_id": _nullable({"type": "integer"}),
    }
)
SCHEMAS["FundRequests"] = _obj({"items": {"type": "array", "items": _ref("FundRequest")}})
SCHEMAS["Points"] = _obj(
    {
        "points": {"type": "integer", "minimum": 0},
        "value": AMOUNT,
        "currency": CURRENCY,
        "next_expiry": _nullable(INSTANT),
        "expiring_points": {"type": "integer", "minimum": 0},
    }
)
SCHEMAS["PointsStatement"] = _obj(
    {
        "items": {
            "type": "array",
            "items": _obj(
                {
                    "id": {"type": "integer"},
                    "at": INSTANT,
                    "kind": {"enum": ["earn", "redeem", "expire", "reverse", "clawback"]},
                    "points": {"type": "integer"},
                    "value": AMOUNT,
                    "currency": CURRENCY,
                    "sale_id": _nullable({"type": "integer"}),
                    "reference": _nullable({"type": "string"}),
                }
            ),
        },
        "next_cursor": _nullable({"type": "string"}),
    }
)
SCHEMAS["PointsRedemptionCreate"] = _obj(
    {"points": {"type": "integer", "minimum": 1, "maximum": 999999999999}}
)
SCHEMAS["PointsRedemption"] = _obj(
    {
        "points": {"type": "integer"},
        "value": AMOUNT,
        "currency": CURRENCY,
        "transfer_id": {"type": "integer"},
        "replayed": {"type": "boolean"},
    }
)

FUND_REQUEST_ID = _path_param("request_id", {"type": "integer"})
PATHS["/fund-requests"] = {
    "post": _op(
        "The caller's network node asks its parent for credit (approval is the transfer); "
        "the same reference twice is refused",
        {"201": _json("FundRequest", "Asked; the parent is notified", LOCATION)},
        body="FundRequestCreate",
    ),
    "get": _op(
        "The caller's own fund requests, newest first",
        {"200": _json("FundRequests", "The requests")},
        parameters=[RANGE[3]],
    ),
}
PATHS["/fund-requests/pending"] = {
    "get": _op(
        "Unexpired pending fund requests of the caller's subtree (to decide)",
        {"200": _json("FundRequests", "Oldest first")},
    )
}
PATHS["/fund-requests/{request_id}"] = {
    "get": _op(
        "One fund request: the caller's own or one of its subtree's (to poll its state)",
        {"200": _json("FundRequest", "The request")},
        parameters=[FUND_REQUEST_ID],
    )
}
PATHS["/fund-requests/{request_id}/approval"] = {
    "post": _op(
        "Approve a subtree node's fund request (vendor privilege network): the credit "
        "moves from the caller's node in the same transaction. An optional JSON body "
        '{"reason": "..."} is recorded with the decision.',
        {"200": _json("FundRequest", "Approved (or found expired: state expired)")},
        parameters=[FUND_REQUEST_ID],
    )
}
PATHS["/fund-requests/{request_id}/rejection"] = {
    "post": _op(
        "Reject a subtree node's fund request with a reason (vendor privilege network)",
        {"200": _json("FundRequest", "Rejected")},
        body="FundRequestRejection",
        parameters=[FUND_REQUEST_ID],
    )
}
PATHS["/points"] = {
    "get": _op(
        "The caller's unexpired reward points (a consumer's own, else its merchant's)",
        {"200": _json("Points", "The balance")},
    )
}
PATHS["/points/statement"] = {
    "get": _op(
        "The caller's points moves (earned, redeemed, expired, reversed), newest first",
        {"200": _json("PointsStatement", "A page")},
        parameters=[RANGE[2], RANGE[3]],
    )
}
PATHS["/points/redemptions"] = {
    "post": _op(
        "Redeem points into the caller's account (wallet or float): one ledger transfer "
        "from the rewards liability. The Idempotency-Key is the redemption's reference.",
        {
            "201": _json("PointsRedemption", "Redeemed"),
            "200": _json("PointsRedemption", "This key's earlier redemption (replayed)"),
        },
        body="PointsRedemptionCreate",
        parameters=[IDEMPOTENCY],
    )
}

# The provider products (issue 14): their module uses the helpers above.
from jsonapi import openapi_catalogue  # noqa: E402

SCHEMAS.update(openapi_catalogue.SCHEMAS)
PATHS.update(openapi_catalogue.PATHS)

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "EVD vending JSON API",
        "version": "1.0.0",
        "description": "Sales of electricity tokens and vouchers, accounts, consumer wallets "
        "and pushed results. Errors are RFC 9457 problems (application/problem+json). "
        "Amounts are decimal strings in the account's currency.",
    },
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearer": []}],
    "components": {
        "securitySchemes": {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "An API key (evd api-key create) or a session token "
                "(POST /sessions: a consumer's or a merchant operator's)",
            }
        },
        "schemas": SCHEMAS,
    },
    "paths": PATHS,
}


def document_bytes() -> bytes:
    return wire.dumps(DOCUMENT)
