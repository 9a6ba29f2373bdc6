"""Bus travel over XMLVend (docs/EXTENSION-NAMESPACE.md, issue 14 section 7): our own
requests, translated into :class:`vending.services.travel.TravelSales` (the service the JSON
API sells travel through), its answers rendered by the XMLVend renderer's
``travel_booking``.

* ``ext:tripSearchReq`` -> ``ext:tripSearchResp`` (read-only, kept under its key).
* ``ext:seatHoldReq`` -> ``ext:seatHoldResp``: the seats held, the fare held from the
  vendor's credit until the booking or the hold's expiry (the sweep refunds it).
* ``ext:bookingReq`` / ``ext:cancellationReq`` -> ``ext:bookingResp``.

The service claims each state-changing request's key and stores its answer (replayed for
the same msgID); a booking still pending with the partner is ``ext:TransactionDelayedEx``
until the partner's answer is in.
"""

from __future__ import annotations

from datetime import date

from vending.errors import InvalidRequest
from vending.services.results import Outcome
from vending.services.travel import HoldRequest, TravelSales
from xmlvend.codec import types_ext as ext
from xmlvend.server.handlers.base import Call, Reply, Services
from xmlvend.server.handlers.provider_products import offered


def _travel(services: Services) -> TravelSales:
    return offered(services.app.travel, "bus travel")


def _day(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        raise InvalidRequest(f"{what}: a date YYYY-MM-DD") from None


async def trip_search(services: Services, call: Call) -> Reply:
    request = call.request
    assert isinstance(request, ext.TripSearchReq)
    trips = await _travel(services).search(
        call.who, request.origin, request.destination, _day(request.date, "date")
    )
    return Reply(services.renderer.trip_search(request, trips))


async def seat_hold(services: Services, call: Call) -> Reply:
    request = call.request
    assert isinstance(request, ext.SeatHoldReq)
    search = ("", "", date.min)
    if request.origin and request.destination and request.date:
        search = (request.origin, request.destination, _day(request.date, "date"))
    hold = HoldRequest(
        call.context(),
        request.trip_id.strip(),
        [p.seat.strip() for p in request.passengers],
        [{"name": p.name, "age": p.age} for p in request.passengers],
        request.contact.strip(),
        search=search,
    )
    processed = await _travel(services).hold(hold, services.renderer)
    return Reply.of(Outcome.of(processed))


async def booking(services: Services, call: Call) -> Reply:
    request = call.request
    assert isinstance(request, ext.BookingReq)
    processed = await _travel(services).book(call.context(), request.booking_ref, services.renderer)
    return Reply.of(Outcome.of(processed))


async def cancellation(services: Services, call: Call) -> Reply:
    request = call.request
    assert isinstance(request, ext.CancellationReq)
    processed = await _travel(services).cancel(
        call.context(), request.booking_ref, services.renderer
    )
    return Reply.of(Outcome.of(processed))
