"""The bus travel partner client (:mod:`catalogue.adapters.travel_json`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from twisted.internet.defer import Deferred

from catalogue.adapters import travel_json as proto
from catalogue.adapters.json_client import SignedJsonClient


class TravelJsonClient(SignedJsonClient):
    def search(self, origin: str, destination: str, day: date) -> Deferred:
        path = "/search?" + urlencode({"from": origin, "to": destination, "date": day.isoformat()})
        return self._side_call(b"GET", path, None, proto.parse_trips)

    def hold(
        self, hold_ref: str, trip_id: str, seats: list[str], passengers: list[dict[str, Any]]
    ) -> Deferred:
        body = proto.encode_hold(hold_ref, trip_id, seats, passengers)
        return self._side_call(b"POST", "/hold", body, proto.parse_hold)

    def book(self, booking_ref: str, hold_id: str) -> Deferred:
        body = proto.dump({"order_id": booking_ref, "hold_id": hold_id})
        return self._order_call(b"POST", "/book", body, proto.parse_booking)

    def status(self, booking_ref: str) -> Deferred:
        path = "/status?" + urlencode({"order_id": booking_ref})
        return self._order_call(b"GET", path, None, proto.parse_booking)

    def cancel(self, pnr: str, requested_at: datetime) -> Deferred:
        body = proto.dump({"pnr": pnr, "requested_at": requested_at.isoformat()})
        return self._side_call(b"POST", "/cancel", body, proto.parse_cancel)

    def release(self, hold_id: str) -> Deferred:
        body = proto.dump({"hold_id": hold_id})
        return self._side_call(b"POST", "/release", body, lambda data: data)
