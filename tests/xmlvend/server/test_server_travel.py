"""Bus travel over XMLVend (docs/EXTENSION-NAMESPACE.md, issue 14 section 7) through the
real handler stack on SQLite and PostgreSQL: trip search, seat hold (the fare held), booking
(ticket and PNR) and cancellation (the partner's refund), each answer strictly
schema-valid and replayed byte for byte for its msgID; a booking pending with the partner
is ``ext:TransactionDelayedEx`` until the partner's answer is in, then the retry and the
last-response advice get the ticket; a refused booking is refunded; bad input changes
nothing. The partner is the travel-partner interface's scripted test implementation (the
simulator over sockets: tests/catalogue/test_catalogue_providers.py, marker providers)."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from server_support import World, assert_strictly_valid
from twisted.internet.defer import succeed

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "catalogue"))

from catalogue_support import ScriptedProvider, attach_provider_sales, seed_shop

from catalogue.interface import Outcome, ProviderResult, Trip, TripHold
from tools.conformance.builders import money
from vending.ledger import verify_ledger
from vending.money import Money
from vending.passwords import hash_password
from vending.vendors import adjust_vendor_balance, create_operator
from xmlvend.codec import types_base as b
from xmlvend.codec import types_ext as ext

SHOP = "6004708000993"
OPERATOR = ("kiran", "pass1234")
FLOAT = Money(1_000_000, "INR")  # Rs 10,000
FARE = 65_000


class BusPartner(ScriptedProvider):
    """A travel partner: two seats on one trip; each booking's outcome from ``outcomes``
    (SUCCESS unless told), its later status from ``statuses`` (by booking reference)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.outcomes: list[Outcome] = []
        self.booked: list[str] = []

    def search(self, origin: str, destination: str, day: date) -> Any:
        at = datetime.combine(day, time(6), tzinfo=UTC)
        trip = Trip("BUS1", "Demo Travels", "AC Sleeper", at, at, Money(FARE, "INR"), ("1", "2"))
        return succeed([trip])

    def hold(self, ref: str, trip_id: str, seats: list, passengers: list) -> Any:
        return succeed(TripHold(f"H-{ref[-4:]}", Money(FARE * len(seats), "INR"), 600))

    def book(self, ref: str, hold_id: str) -> Any:
        self.booked.append(ref)
        outcome = self.outcomes.pop(0) if self.outcomes else Outcome.SUCCESS
        if outcome is Outcome.SUCCESS:
            return succeed(ProviderResult(outcome, "T1", "PNR1", details={"ticket_no": "TK1"}))
        return succeed(ProviderResult(outcome, "T1", None, "X", "no seats left"))

    def cancel(self, pnr: str, at: Any) -> Any:
        from catalogue.adapters.travel_json import Cancelled

        return succeed(Cancelled(Money(117_000, "INR"), Money(13_000, "INR"), "10 % charge"))

    def release(self, hold_id: str) -> Any:
        return succeed(None)


@pytest.fixture
def shop(world: World) -> tuple[World, BusPartner]:
    now = world.clock()
    mappings = (("TRAVEL-BUS", "BUS"),)
    world.database.run_txn("seed_bus_shop", seed_shop, world.keyring, SHOP, mappings, now)
    world.database.run_txn(
        "seed_bus_operator", create_operator, name=OPERATOR[0],
        password_hash=hash_password(OPERATOR[1], log_n=10), vendor_client_id=SHOP, now=now,
    )  # fmt: skip
    world.database.run_txn(
        "bus_shop_float", adjust_vendor_balance, SHOP, FLOAT - Money(100_000, "INR"),
        reason="float", actor="t", now=now,
    )  # fmt: skip
    partner = BusPartner("alpha")
    attach_provider_sales(world.server.services, world.database, world.keyring, world.clock,
                          world.reactor, {"alpha": partner})  # fmt: skip
    return world, partner


def day_after(world: World, days: int = 10) -> str:
    return date.fromordinal(world.clock().date().toordinal() + days).isoformat()


def hold(world: World, contact: str = "9810000010", msg_id: b.MsgID | None = None) -> Any:
    return ext.SeatHoldReq(
        header=world.header(SHOP, OPERATOR, msg_id),
        passengers=(
            ext.Passenger(name="Asha Verma", age=34, seat="1"),
            ext.Passenger(name="Ravi Verma", age=36, seat="2"),
        ),
        trip_id="BUS1",
        contact=contact,
        origin="Bengaluru",
        destination="Mysuru",
        date=day_after(world),
    )


def held_ref(world: World) -> str:
    response = world.call(hold(world))
    assert response.status == 200, response.body
    return response.parsed().booking.booking_ref


def book(world: World, ref: str) -> ext.BookingReq:
    return ext.BookingReq(header=world.header(SHOP, OPERATOR), booking_ref=ref)


def ledger_ok(world: World) -> None:
    problems = world.database.run_txn("verify", verify_ledger)
    assert problems.ok, problems


def test_search_hold_book_cancel(shop) -> None:
    world, partner = shop
    search = ext.TripSearchReq(
        header=world.header(SHOP, OPERATOR), origin="Bengaluru", destination="Mysuru",
        date=day_after(world),
    )  # fmt: skip
    found = world.call(search)
    assert found.status == 200, found.body
    assert_strictly_valid(found.body, lenient_msg_id=True)
    (trip,) = found.parsed().trips
    assert (trip.trip_id, trip.seats, trip.fare) == ("BUS1", "1 2", money(Decimal(650), "INR"))

    request = hold(world)
    held = world.call(request)
    assert held.status == 200, held.body
    assert_strictly_valid(held.body, lenient_msg_id=True)
    detail = held.parsed().booking
    assert isinstance(held.parsed(), ext.SeatHoldResp)
    assert (detail.state, detail.seats, detail.fare) == ("held", "1 2", money(Decimal(1300), "INR"))
    assert detail.expires_at and detail.booking_ref.startswith("TB")
    after_hold = world.balance(SHOP)
    assert after_hold.amount < FLOAT.amount  # the fare is held from the shop's credit
    assert world.call(request).body == held.body and world.balance(SHOP) == after_hold
    other = hold(world, contact="9810000011", msg_id=request.header.msg_id)
    assert world.call(other).fault_class() == "DuplicateMsgIDEx"

    booking = book(world, detail.booking_ref)
    booked = world.call(booking)
    assert booked.status == 200, booked.body
    assert_strictly_valid(booked.body, lenient_msg_id=True)
    ticket = booked.parsed().booking
    assert (ticket.state, ticket.pnr, ticket.ticket_no) == ("booked", "PNR1", "TK1")
    assert world.call(booking).body == booked.body and partner.booked == [detail.booking_ref]

    cancel = ext.CancellationReq(
        header=world.header(SHOP, OPERATOR), booking_ref=ticket.booking_ref
    )
    cancelled = world.call(cancel)
    assert cancelled.status == 200, cancelled.body
    assert_strictly_valid(cancelled.body, lenient_msg_id=True)
    done = cancelled.parsed().booking
    assert done.state == "cancelled" and done.refund == money(Decimal(1170), "INR")
    assert world.call(cancel).body == cancelled.body
    ledger_ok(world)


def test_pending_booking_is_delayed_then_the_retry_gets_the_ticket(shop) -> None:
    world, partner = shop
    ref = held_ref(world)
    held_balance = world.balance(SHOP)
    partner.outcomes.append(Outcome.PENDING)
    booking = book(world, ref)
    delayed = world.call(booking)
    assert delayed.fault_class() == "TransactionDelayedEx"
    assert_strictly_valid(delayed.body, lenient_msg_id=True)
    assert ref.encode() in delayed.body
    assert world.call(booking).fault_class() == "TransactionDelayedEx"  # still with the partner
    assert world.balance(SHOP) == held_balance  # held, never refunded on a wait

    partner.statuses[ref] = ProviderResult(
        Outcome.SUCCESS, "T1", "PNR9", details={"ticket_no": "TK9"}
    )
    final = world.call(booking)  # the retry asks the partner, and gets the ticket
    assert final.status == 200, final.body
    assert final.parsed().booking.pnr == "PNR9"
    advice = b.LastRespAdviceReq(
        header=world.header(SHOP, OPERATOR), advice_req_msg_id=booking.header.msg_id
    )
    embedded = world.call(advice).parsed().last_response
    assert isinstance(embedded, ext.BookingResp) and embedded.booking.ticket_no == "TK9"
    assert world.call(booking).body == final.body
    assert partner.booked == [ref]  # booked once
    ledger_ok(world)


def test_refused_booking_is_refunded(shop) -> None:
    world, partner = shop
    ref = held_ref(world)
    partner.outcomes.append(Outcome.FAILED)
    refused = world.call(book(world, ref))
    assert refused.fault_class() == "BusinessRuleEx"
    assert_strictly_valid(refused.body, lenient_msg_id=True)
    assert f"Booking {ref} failed".encode() in refused.body and b"refunded" in refused.body
    assert world.balance(SHOP) == FLOAT
    ledger_ok(world)


def test_bad_travel_requests_change_nothing(shop) -> None:
    world, partner = shop
    bad_contact = world.call(hold(world, contact="5123456789"))
    assert bad_contact.fault_class() == "BusinessRuleEx" and b"contact" in bad_contact.body
    unknown = world.call(book(world, "TB000000000000009999"))
    assert unknown.status == 500 and unknown.fault_class() != "TransactionDelayedEx"
    past = ext.TripSearchReq(
        header=world.header(SHOP, OPERATOR), origin="Bengaluru", destination="Mysuru",
        date="2020-01-01",
    )  # fmt: skip
    assert world.call(past).fault_class() == "BusinessRuleEx"
    assert world.balance(SHOP) == FLOAT and not partner.booked
