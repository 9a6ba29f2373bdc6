"""Travel bookings (issue 14 §5): seats held at the partner with the merchant's money in
suspense, booked, released or cancelled -- each step one conditional state change with its
money in the same transaction.

    held     hold_sale: vendor -> suspense (the sale pending); expires at the partner's time
    booking  the book call is under way (or its outcome unknown: the status resolves it)
    booked   settle_sale: suspense -> partner (supplier), margin; PNR and ticket kept
    failed   the partner refused the booking: fail_sale (the hold reversed, refunded)
    released the hold expired (the sweep, on the injected clock) or was given up: refunded
    cancelled a booked ticket cancelled by the partner's rules: its refund partner -> vendor
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update

from catalogue.errors import BookingState, UnknownBooking
from catalogue.interface import Trip
from catalogue.orders import shown_target
from catalogue.tables import travel_bookings
from vending.errors import InvalidRequest
from vending.ledger import Leg, post_transfer
from vending.money import Money
from vending.products import get_product
from vending.requests import Claim
from vending.sales import SaleOrder, fail_sale, get_sale, hold_sale, settle_sale
from vending.storage.database import Txn
from vending.vendors import available_credit

PRODUCT = "TRAVEL-BUS"
# Booking references are "TB" + 18 digits (a partner's callback names one).
REF_PREFIX = "TB"
FINAL_STATES = ("booked", "failed", "released", "cancelled")
MAX_SEATS = 6
_PLACE = re.compile(r"[A-Za-z][A-Za-z .-]{1,39}")
_NAME = re.compile(r"[A-Za-z][A-Za-z .'-]{1,59}")


@dataclass(frozen=True)
class Booking:
    pk: int
    booking_ref: str
    request_pk: int
    book_request_pk: int | None
    sale_id: int
    vendor_id: int
    provider_id: int
    trip: dict[str, Any]
    seats: list[str]
    passengers: list[dict[str, Any]]
    contact: str
    fare: Money
    state: str
    hold_id: str
    expires_at: datetime
    pnr: str | None
    ticket_no: str | None
    refund: Money | None
    message: str
    # The vendor's available credit when read.
    available: Money | None = None


def booking_ref_for(request_pk: int) -> str:
    return f"{REF_PREFIX}{request_pk:018d}"


def check_place(text: str, what: str) -> str:
    if not _PLACE.fullmatch(text.strip()):
        raise InvalidRequest(f"{what}: 2-40 letters")
    return text.strip().title()


def check_passengers(seats: list[str], passengers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not seats or len(seats) > MAX_SEATS or len(set(seats)) != len(seats):
        raise InvalidRequest(f"choose 1 to {MAX_SEATS} different seats")
    if len(passengers) != len(seats):
        raise InvalidRequest("one passenger a seat")
    out = []
    for passenger in passengers:
        name, age = str(passenger.get("name", "")).strip(), passenger.get("age")
        if not _NAME.fullmatch(name):
            raise InvalidRequest("a passenger's name: 2-60 letters")
        if not isinstance(age, int) or not 1 <= age <= 120:
            raise InvalidRequest("a passenger's age: a whole number 1-120")
        out.append({"name": name, "age": age})
    return out


def sale_target(trip_id: str, contact: str) -> str:
    """A booking's sale target: the trip and the contact number."""
    return f"{trip_id}/{contact}"[:64]


def shown_booking_target(trip_id: str, contact: str) -> str:
    """The sale target as answers and the merchant's statement show it (masked)."""
    return shown_target("travel", sale_target(trip_id, contact))


def trip_document(trip: Trip) -> dict[str, Any]:
    return {
        "trip_id": trip.trip_id,
        "operator": trip.operator,
        "bus_type": trip.bus_type,
        "departs": trip.departs.isoformat(),
        "arrives": trip.arrives.isoformat(),
    }


def _booking(txn: Txn, row: Any) -> Booking:
    currency = row.currency
    return Booking(
        row.id, row.booking_ref, row.request_pk, row.book_request_pk, row.sale_id, row.vendor_id,
        row.provider_id, dict(row.trip), list(row.seats), list(row.passengers), row.contact,
        Money(row.fare, currency), row.state, row.hold_id, row.expires_at, row.pnr,
        row.ticket_no, None if row.refund is None else Money(row.refund, currency),
        row.message or "", available_credit(txn, row.vendor_id),
    )  # fmt: skip


def get_booking(txn: Txn, booking_ref: str, vendor_id: int | None = None) -> Booking:
    query = select(travel_bookings).where(travel_bookings.c.booking_ref == booking_ref)
    if vendor_id is not None:
        query = query.where(travel_bookings.c.vendor_id == vendor_id)
    row = txn.execute(query).first()
    if row is None:
        raise UnknownBooking(f"no booking {booking_ref!r}")
    return _booking(txn, row)


def list_bookings(txn: Txn, state: str | None = None, limit: int = 20) -> list[Booking]:
    query = select(travel_bookings).order_by(travel_bookings.c.id.desc()).limit(limit)
    if state is not None:
        query = query.where(travel_bookings.c.state == state)
    return [_booking(txn, row) for row in txn.execute(query).all()]


def hold(
    txn: Txn,
    claim: Claim,
    order: SaleOrder,
    *,
    provider_id: int,
    trip: Trip,
    seats: list[str],
    passengers: list[dict[str, Any]],
    contact: str,
    hold_id: str,
    fare: Money,
    expires_in: int,
    created_by: str,
    now: datetime,
) -> Booking:
    """The partner holds the seats: the fare goes to suspense (the sale pending)."""
    held = hold_sale(txn, claim, order, created_by=created_by, now=now)
    ref = booking_ref_for(claim.request_pk)
    txn.execute(
        insert(travel_bookings).values(
            booking_ref=ref,
            request_pk=claim.request_pk,
            sale_id=held.sale.id,
            vendor_id=order.vendor_id,
            provider_id=provider_id,
            trip_id=trip.trip_id,
            trip=trip_document(trip),
            seats=seats,
            passengers=passengers,
            contact=contact,
            fare=fare.amount,
            currency=fare.currency,
            state="held",
            hold_id=hold_id,
            expires_at=now + timedelta(seconds=max(0, expires_in)),
            message="seats held",
            created_at=now,
            updated_at=now,
        )
    )
    return get_booking(txn, ref)


def _move(
    txn: Txn, booking: Booking, source: str, target: str, now: datetime, **values: Any
) -> bool:
    changed = txn.execute(
        update(travel_bookings)
        .where(travel_bookings.c.id == booking.pk, travel_bookings.c.state == source)
        .values(state=target, updated_at=now, **values)
    )
    return changed.rowcount == 1


def start_booking(txn: Txn, booking: Booking, book_request_pk: int, now: datetime) -> Booking:
    """held -> booking, unless the hold expired (then it is released here and refused)."""
    if booking.state != "held":
        raise BookingState(f"booking {booking.booking_ref} is {booking.state}, not held")
    if booking.expires_at <= now:
        release(txn, booking, "the hold expired", now)
        raise BookingState(f"the hold of {booking.booking_ref} expired: seats released")
    if not _move(txn, booking, "held", "booking", now, book_request_pk=book_request_pk):
        raise BookingState(f"booking {booking.booking_ref} changed meanwhile")
    return get_booking(txn, booking.booking_ref)


def finish_booking(
    txn: Txn, booking: Booking, *, success: bool, pnr: str | None, ticket_no: str | None,
    message: str, now: datetime,
) -> Booking | None:  # fmt: skip
    """booking -> booked (settled) or failed (refunded). None: already final."""
    if success:
        if not _move(txn, booking, "booking", "booked", now, pnr=(pnr or "")[:20] or None,
                     ticket_no=(ticket_no or "")[:32] or None, message=message[:200]):  # fmt: skip
            return None
        settle_sale(txn, booking.sale_id, external_ref=pnr,
                    details={"booking_ref": booking.booking_ref},
                    shown_target=shown_booking_target(booking.trip["trip_id"], booking.contact),
                    now=now)  # fmt: skip
    else:
        if not _move(txn, booking, "booking", "failed", now, message=message[:200]):
            return None
        fail_sale(txn, booking.sale_id, reason=message or "booking refused", now=now)
    return get_booking(txn, booking.booking_ref)


def release(txn: Txn, booking: Booking, reason: str, now: datetime) -> bool:
    """held -> released: the hold reversed (the merchant refunded). False: not held."""
    if not _move(txn, booking, "held", "released", now, message=reason[:200]):
        return False
    fail_sale(txn, booking.sale_id, reason=reason, now=now)
    return True


def expired_holds(txn: Txn, now: datetime, limit: int = 100) -> list[str]:
    rows = txn.execute(
        select(travel_bookings.c.booking_ref)
        .where(travel_bookings.c.state == "held", travel_bookings.c.expires_at <= now)
        .order_by(travel_bookings.c.expires_at)
        .limit(limit)
    )
    return [r.booking_ref for r in rows]


def booking_in_doubt(txn: Txn, now: datetime, limit: int = 100) -> list[str]:
    rows = txn.execute(
        select(travel_bookings.c.booking_ref)
        .where(travel_bookings.c.state == "booking")
        .limit(limit)
    )
    return [r.booking_ref for r in rows]


def cancel(
    txn: Txn, booking: Booking, *, refund: Money, charge: Money, message: str,
    created_by: str, now: datetime,
) -> Booking:  # fmt: skip
    """booked -> cancelled: the partner's refund goes back to the merchant (partner ->
    vendor, one balanced transfer); the cancellation charge stays with the partner."""
    if refund.amount > booking.fare.amount or refund.currency != booking.fare.currency:
        raise BookingState("the partner's refund is more than the fare")
    if not _move(txn, booking, "booked", "cancelled", now, refund=refund.amount,
                 message=message[:200]):  # fmt: skip
        raise BookingState(f"booking {booking.booking_ref} is {booking.state}, not booked")
    transfer_id = None
    if refund.amount > 0:
        sale = get_sale(txn, booking.sale_id)
        product = get_product(txn, sale.product_code)
        from vending.vendors import get_vendor_by_id

        vendor = get_vendor_by_id(txn, booking.vendor_id)
        posted = post_transfer(
            txn,
            kind="travel_refund",
            legs=[Leg(product.supplier_account_id, -refund, "supplier"),
                  Leg(vendor.account_id, refund, "refund")],
            description=f"Cancelled {booking.booking_ref}, charge {charge.format()}",
            created_by=created_by,
            reference=f"sale:{booking.sale_id}",
            now=now,
        )  # fmt: skip
        transfer_id = posted.id
    txn.execute(
        update(travel_bookings)
        .where(travel_bookings.c.id == booking.pk)
        .values(refund_transfer_id=transfer_id)
    )
    return get_booking(txn, booking.booking_ref)
