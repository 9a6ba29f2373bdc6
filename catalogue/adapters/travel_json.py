"""The bus travel partner protocol (HTTP/JSON; sans-IO, shared by the client adapter and
``evd simulate-provider travel``). Documented in docs/CATALOGUE.md:

* ``GET /search?from=&to=&date=`` -> ``{"trips": [{"trip_id", "operator", "bus_type",
  "departs" (ISO UTC), "arrives", "fare" (paise a seat), "seats": [free seat numbers]}]}``
* ``POST /hold`` ``{"hold_ref", "trip_id", "seats", "passengers": [{"name", "age"}]}`` ->
  ``{"status": "HELD", "hold_id", "fare" (paise, all seats), "expires_in" (seconds)}`` or
  ``{"status": "FAILED", "message"}``
* ``POST /book`` ``{"order_id" (our booking reference), "hold_id"}`` -> ``{"status":
  "SUCCESS"|"PENDING"|"FAILED", "txn_id", "pnr", "ticket_no", "code", "message"}``;
  ``GET /status?order_id=`` the same shape
* ``POST /cancel`` ``{"pnr", "requested_at" (ISO UTC)}`` -> ``{"status": "SUCCESS",
  "refund" (paise), "charge" (paise), "message"}`` by the partner's rules, or FAILED
* ``POST /release`` ``{"hold_id"}`` -> ``{"status": "RELEASED"}`` (seats back on sale)
* callback ``POST`` to us (``/callbacks/<partner>``, signed ``X-Signature``): the ``/book``
  answer's shape with ``order_id`` (our booking reference) when a pending booking is final
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from catalogue.adapters import recharge_json
from catalogue.adapters.recharge_json import ProtocolError, _load, _text
from catalogue.interface import CallbackNotice, ProviderResult, Trip, TripHold
from vending.money import Money


def dump(data: dict[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def parse_trips(body: bytes, currency: str = "INR") -> list[Trip]:
    data = _load(body)
    trips = data.get("trips")
    if not isinstance(trips, list):
        raise ProtocolError("no trips")
    return [
        Trip(
            trip_id=str(t["trip_id"])[:32],
            operator=str(t["operator"])[:60],
            bus_type=str(t.get("bus_type", ""))[:40],
            departs=datetime.fromisoformat(t["departs"]),
            arrives=datetime.fromisoformat(t["arrives"]),
            fare=Money(int(t["fare"]), currency),
            seats=tuple(str(s) for s in t["seats"]),
        )
        for t in trips
    ]


def encode_hold(hold_ref: str, trip_id: str, seats: list[str], passengers: list[dict]) -> bytes:
    return dump({"hold_ref": hold_ref, "trip_id": trip_id, "seats": seats,
                 "passengers": passengers})  # fmt: skip


def parse_hold(body: bytes, currency: str = "INR") -> TripHold | str:
    """The hold, or the partner's reason for refusing it."""
    data = _load(body)
    if str(data.get("status", "")).upper() != "HELD":
        return _text(data, "message", 200) or "the partner refused the hold"
    fare, expires = data.get("fare"), data.get("expires_in")
    hold_id = _text(data, "hold_id", 32)
    if not hold_id or not isinstance(fare, int) or fare <= 0 or not isinstance(expires, int):
        raise ProtocolError("a hold needs hold_id, fare and expires_in")
    return TripHold(hold_id, Money(fare, currency), expires)


def parse_booking(body: bytes) -> ProviderResult:
    return recharge_json.parse_result(body, ref_field="pnr", detail_fields=("ticket_no",))


def parse_callback(body: bytes) -> CallbackNotice:
    """A partner's push of a booking's outcome (the order id is our booking reference)."""
    return recharge_json.parse_callback(body, parse_booking)


@dataclass(frozen=True)
class Cancelled:
    refund: Money
    charge: Money
    message: str


def parse_cancel(body: bytes, currency: str = "INR") -> Cancelled | str:
    data = _load(body)
    if str(data.get("status", "")).upper() != "SUCCESS":
        return _text(data, "message", 200) or "the partner refused the cancellation"
    refund, charge = data.get("refund"), data.get("charge")
    if not isinstance(refund, int) or not isinstance(charge, int) or refund < 0 or charge < 0:
        raise ProtocolError("a cancellation needs refund and charge in paise")
    return Cancelled(Money(refund, currency), Money(charge, currency),
                     _text(data, "message", 200) or "")  # fmt: skip
