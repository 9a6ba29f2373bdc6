"""A simulated bus travel partner speaking :mod:`catalogue.adapters.travel_json`.

Every search finds two trips of "Demo Travels" for the day (06:00 and 15:30 UTC, 40 seats,
Rs 650 and Rs 1,200 a seat). A hold keeps its seats ``HOLD_SECONDS``; a held or booked seat
is not sold again. A booking's outcome by the first passenger's age's last digit: ``1``
FAILED (the operator refused), ``2`` PENDING until completed through the control endpoint
(which sends the signed callback when a URL is set), ``3`` booked but the answer held back
``hang`` seconds, else SUCCESS with a PNR and a ticket number. Cancellation rules (by the
``requested_at`` the caller sends): 24 hours or more before departure, 10 % charge; 6 to
24 hours, 50 %; less, refused.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from tools.simulators.common import OrderSimulator, SimOrder, arg, json_body

HOLD_SECONDS = 600
MESSAGES = {"FAILED": "Operator refused the booking", "PENDING": "Awaiting the operator"}
TRIPS = ((time(6, 0), 9, 65_000, "AC Sleeper"), (time(15, 30), 10, 120_000, "Volvo Multi-Axle"))


def trips_for(origin: str, destination: str, day: date) -> list[dict[str, Any]]:
    out = []
    for index, (at, hours, fare, bus) in enumerate(TRIPS, start=1):
        departs = datetime.combine(day, at, tzinfo=UTC)
        out.append({
            "trip_id": f"{origin[:3]}{destination[:3]}{day:%Y%m%d}{index}".upper(),
            "operator": "Demo Travels", "bus_type": bus, "departs": departs.isoformat(),
            "arrives": (departs + timedelta(hours=hours)).isoformat(), "fare": fare,
        })  # fmt: skip
    return out


class TravelSimulator(OrderSimulator):
    kind = "travel"
    ref_field = "pnr"
    extra_fields = ("ticket_no",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reset()

    def reset(self) -> None:
        super().reset()
        self.trips: dict[str, dict[str, Any]] = {}
        self.holds: dict[str, dict[str, Any]] = {}  # hold_id -> trip, seats, fare, ages
        self.taken: dict[str, set[str]] = {}  # trip_id -> held or booked seats
        self.tickets: dict[str, SimOrder] = {}  # pnr -> booking

    def routes(self) -> dict[tuple[bytes, bytes], Any]:
        return {
            (b"GET", b"search"): self._search,
            (b"POST", b"hold"): self._hold,
            (b"POST", b"book"): self._book,
            (b"POST", b"cancel"): self._cancel,
            (b"POST", b"release"): self._release,
        }

    def _search(self, request: Any, body: bytes) -> Any:
        found = trips_for(arg(request, "from"), arg(request, "to"),
                          date.fromisoformat(arg(request, "date")))  # fmt: skip
        for trip in found:
            self.trips[trip["trip_id"]] = trip
            taken = self.taken.get(trip["trip_id"], set())
            trip["seats"] = [str(n) for n in range(1, 41) if str(n) not in taken]
        return self.later(request, lambda: json_body(200, {"trips": found}))

    def _hold(self, request: Any, body: bytes) -> Any:
        data = json.loads(body)
        hold_ref = str(data["hold_ref"])
        existing = next((h for h in self.holds.values() if h["ref"] == hold_ref), None)
        trip = self.trips.get(str(data["trip_id"]))
        seats = [str(s) for s in data["seats"]]
        taken = self.taken.setdefault(str(data["trip_id"]), set())
        if existing is not None:
            answer = {"status": "HELD", "hold_id": existing["id"], "fare": existing["fare"],
                      "expires_in": HOLD_SECONDS}  # fmt: skip
        elif trip is None:
            answer = {"status": "FAILED", "message": "no such trip: search first"}
        elif not seats or len(seats) != len(data["passengers"]) or taken & set(seats):
            answer = {"status": "FAILED", "message": "seats not available"}
        else:
            hold_id = f"H{next(self.state.counter):09d}"
            taken.update(seats)
            ages = [int(p["age"]) for p in data["passengers"]]
            fare = trip["fare"] * len(seats)
            self.holds[hold_id] = {"id": hold_id, "ref": hold_ref, "trip": trip, "seats": seats,
                                   "fare": fare, "ages": ages}  # fmt: skip
            answer = {"status": "HELD", "hold_id": hold_id, "fare": fare,
                      "expires_in": HOLD_SECONDS}  # fmt: skip
        return self.later(request, lambda: json_body(200, answer))

    def _book(self, request: Any, body: bytes) -> Any:
        data = json.loads(body)
        order_id, hold = str(data["order_id"]), self.holds.get(str(data["hold_id"]))
        if hold is None and order_id[:20] not in self.state.orders:
            self.new_order(order_id, "FAILED", "no such hold")
        age = str(hold["ages"][0]) if hold else "0"
        return self.take(request, order_id, age, MESSAGES, hold=hold)

    def completed(self, order: SimOrder, status: str) -> None:
        hold = order.extra.get("hold")
        if status == "SUCCESS":
            order.ref = order.ref or f"PNR{order.txn_id[-7:]}"
            order.extra["ticket_no"] = f"TKT-{order.txn_id[3:]}"
            order.message = "Booked"
            self.tickets[order.ref] = order
        else:
            order.message = "Operator refused the booking"
            if hold is not None:
                self.taken.get(hold["trip"]["trip_id"], set()).difference_update(hold["seats"])

    def _cancel(self, request: Any, body: bytes) -> Any:
        data = json.loads(body)
        order = self.tickets.get(str(data["pnr"]))
        at = datetime.fromisoformat(str(data["requested_at"]))
        if order is None:
            answer = {"status": "FAILED", "message": "no such ticket"}
        elif "cancelled" in order.extra:
            answer = order.extra["cancelled"]
        else:
            hold = order.extra["hold"]
            hours = (datetime.fromisoformat(hold["trip"]["departs"]) - at).total_seconds() / 3600
            if hours < 6:
                answer = {"status": "FAILED", "message": "too close to departure to cancel"}
            else:
                charge = hold["fare"] * (10 if hours >= 24 else 50) // 100
                answer = {"status": "SUCCESS", "refund": hold["fare"] - charge, "charge": charge,
                          "message": f"cancelled {hours:.0f} h before departure"}  # fmt: skip
                order.extra["cancelled"] = answer
                self.taken.get(hold["trip"]["trip_id"], set()).difference_update(hold["seats"])
        return self.later(request, lambda: json_body(200, answer))

    def _release(self, request: Any, body: bytes) -> Any:
        hold = self.holds.pop(str(json.loads(body)["hold_id"]), None)
        if hold is not None:
            self.taken.get(hold["trip"]["trip_id"], set()).difference_update(hold["seats"])
        return self.later(request, lambda: json_body(200, {"status": "RELEASED"}))
