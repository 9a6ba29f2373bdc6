"""Bus travel for every channel (issue 14 §5): search -> hold seats (the money held in
suspense by one ledger transfer) -> book (ticket and PNR) -> cancel by the partner's refund
rules; a hold that expires is released (refunded) by the sweep on the injected clock.

Each state-changing step is claimed under its request key first (the one idempotency path:
``idempotency.claim`` ... ``complete``) and its answer stored, so a retry replays it; the
partner is called between the two transactions, keyed by our references (a repeated hold
or book is answered with what the partner already did). A booking whose outcome is pending
or unknown stays in suspense: the partner's callback, the status query, the sweep or a retry
of the book request finishes it (never a refund on a timeout). The book request's answer
then is an answer for now ("being booked", ``idempotency.complete(keep_body=True)``): once
the partner's answer is final it is replaced by the final one, rendered again from the kept
request by its channel's renderer (``idempotency.replace_interim``) and pushed, so a retry
and a last-response advice get the final answer."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any, Protocol

from catalogue import travel
from catalogue.errors import ProviderError, UnknownBooking
from catalogue.fulfilment import NO_ANSWER, first_answer
from catalogue.interface import (
    CallbackNotice,
    Outcome,
    ProviderResult,
    ProviderUnavailable,
    Trip,
    TripHold,
)
from catalogue.orders import shown_target
from catalogue.routing import route
from catalogue.travel import Booking
from vending.auth import Principal, revalidate
from vending.errors import InvalidRequest, RequestInProgress, VendingError
from vending.keyring import Keyring
from vending.money import Money
from vending.products import get_product, price_sale, vendor_commission_bp
from vending.requests import Claim, Processed, StoredResponse
from vending.services import idempotency
from vending.services.context import Clock, RequestContext, TxnRunner, created_by
from vending.storage.database import Txn

log = logging.getLogger("evd.services.travel")


class TravelRenderer(Protocol):
    """A channel's answers about bookings (stored under the request keys)."""

    def travel_booking(self, request: Any, booking: Booking) -> StoredResponse: ...

    def failure(self, request: Any, error: Exception) -> StoredResponse: ...


@dataclass(frozen=True)
class PushedBooking:
    """A booking's final result as the result push reads a provider sale."""

    order_id: str
    service: str
    state: str
    target: str
    amount: Money
    operator_ref: str | None
    sale: Any

    @property
    def shown_target(self) -> str:
        """The contact number masked, as every provider sale's result shows its target."""
        return shown_target(self.service, self.target)

    @classmethod
    def of(cls, booking: Booking) -> PushedBooking:
        state = "success" if booking.state == "booked" else "failed"
        vendor = SimpleNamespace(vendor_id=booking.vendor_id)
        return cls(booking.booking_ref, "travel", state, booking.contact, booking.fare,
                   booking.pnr, vendor)  # fmt: skip


@dataclass(frozen=True)
class HoldRequest:
    ctx: RequestContext
    trip_id: str
    seats: list[str]
    passengers: list[dict[str, Any]]
    contact: str
    # The trip as found by the search (the partner's trip, re-checked by its hold).
    search: tuple[str, str, date] = field(default=("", "", date.min))


class TravelSales:
    def __init__(
        self,
        runner: TxnRunner,
        keyring: Keyring,
        clock: Clock,
        clients: Any,
        *,
        scheduler: Any = None,
        sweep_seconds: float = 30.0,
        routing: Any = None,
        renderers: Any = None,
        push: Any = None,
    ) -> None:
        self._runner = runner
        # The channels' renderers (a late final answer replaces the book request's interim
        # one) and the push of that answer (webhook, SMS: provider_push.ResultPush).
        self._renderers = renderers
        self._push = push
        self._keyring = keyring
        self._clock = clock
        self._clients = clients
        self._scheduler = scheduler
        self._sweep_seconds = sweep_seconds
        self._routing = routing
        self._sweeping = False

    # --- search -----------------------------------------------------------------------------

    async def _partners(self, principal: Principal | None) -> list[tuple[str, int]]:
        now = self._clock()

        def ranked(txn: Txn) -> list[tuple[str, int]]:
            if principal is not None:
                revalidate(txn, principal)
            product = get_product(txn, travel.PRODUCT)
            from catalogue.routing import RoutingPolicy

            return [(c.provider, c.provider_id) for c in route(
                txn, product.id, product.code, self._routing or RoutingPolicy(), now)]  # fmt: skip

        partners = await self._runner.run("travel_partners", ranked)
        return [(name, pid) for name, pid in partners if hasattr(self._clients.get(name), "hold")]

    async def search(
        self, principal: Principal, origin: str, destination: str, day: date
    ) -> list[Trip]:
        origin = travel.check_place(origin, "from")
        destination = travel.check_place(destination, "to")
        if day < self._clock().date():
            raise InvalidRequest("the travel date has passed")
        partners = [(name, "") for name, _pid in await self._partners(principal)]
        trips = await first_answer(
            self._clients, partners, "search",
            lambda client, _code: client.search(origin, destination, day),
        )  # fmt: skip
        if trips is not NO_ANSWER:
            return trips
        raise ProviderError("no travel partner answered the search")

    # --- hold -------------------------------------------------------------------------------

    async def hold(self, request: HoldRequest, renderer: TravelRenderer) -> Processed:
        ctx, now = request.ctx, self._clock()
        passengers = travel.check_passengers(request.seats, request.passengers)
        contact = request.contact.removeprefix("+91")
        if not (len(contact) == 10 and contact.isdigit() and contact[0] in "6789"):
            raise InvalidRequest("contact: a 10-digit mobile number")
        claimed = await self._runner.run("travel_hold_claim", self._claim, ctx, now)
        if isinstance(claimed, StoredResponse):
            return Processed(claimed, replayed=True)
        ref = travel.booking_ref_for(claimed.request_pk)
        held: TripHold | str | None = None
        partner: tuple[str, int] | None = None
        for name, pid in await self._partners(None):
            try:
                held = await self._clients[name].hold(ref, request.trip_id, request.seats,
                                                      passengers)  # fmt: skip
            except ProviderUnavailable:
                continue
            partner = (name, pid)
            break
        if partner is None or held is None or isinstance(held, str):
            reason = held if isinstance(held, str) else "no travel partner could hold the seats"
            return await self._fail(ctx, claimed, renderer, InvalidRequest(reason))
        trip = await self._trip(partner[0], request)
        try:
            return await self._runner.run(
                "travel_hold", self._hold, ctx, claimed, partner[1], trip, request, passengers,
                contact, held, renderer, self._clock(),
            )  # fmt: skip
        except VendingError as error:  # e.g. not enough credit: give the seats back
            await self._release_at(partner[0], held.hold_id)
            return await self._fail(ctx, claimed, renderer, error)

    async def _trip(self, partner: str, request: HoldRequest) -> Trip:
        origin, destination, day = request.search
        if origin:
            for trip in await self._clients[partner].search(origin, destination, day):
                if trip.trip_id == request.trip_id:
                    return trip
        now = self._clock()
        return Trip(request.trip_id, "", "", now, now, travel.Money(0, "INR"), ())

    def _claim(self, txn: Txn, ctx: RequestContext, now: datetime) -> Claim | StoredResponse:
        return idempotency.claim(
            txn, self._keyring, ctx.key, ctx.principal, now=now, keep_body=ctx.body_to_keep()
        )

    def _hold(self, txn: Txn, ctx: RequestContext, claimed: Claim, provider_id: int, trip: Trip,
              request: HoldRequest, passengers: list, contact: str, held: TripHold,
              renderer: TravelRenderer, now: datetime) -> Processed:  # fmt: skip
        product = get_product(txn, travel.PRODUCT)
        pricing = price_sale(
            product, held.fare,
            commission_bp=vendor_commission_bp(txn, ctx.principal.vendor_id, product),
        )  # fmt: skip
        booking = travel.hold(
            txn, claimed, ctx.sale_order(
                product, pricing, travel.sale_target(trip.trip_id, contact),
                shown_target=travel.shown_booking_target(trip.trip_id, contact)),
            provider_id=provider_id, trip=trip, seats=list(request.seats),
            passengers=passengers, contact=contact, hold_id=held.hold_id, fare=held.fare,
            expires_in=held.expires_in, created_by=created_by(ctx.principal), now=now,
        )  # fmt: skip
        response = renderer.travel_booking(ctx.request, booking)
        return idempotency.complete(txn, self._keyring, claimed, response, now=now)

    async def _fail(
        self, ctx: RequestContext, claimed: Claim, renderer: TravelRenderer, error: Exception
    ) -> Processed:
        response = renderer.failure(ctx.request, error)

        def store(txn: Txn) -> Processed:
            return idempotency.complete(txn, self._keyring, claimed, response, now=self._clock())

        return await self._runner.run("travel_failed", store)

    # --- book -------------------------------------------------------------------------------

    async def book(
        self, ctx: RequestContext, booking_ref: str, renderer: TravelRenderer
    ) -> Processed:
        now = self._clock()

        def start(txn: Txn) -> tuple[Claim, Booking] | StoredResponse | Processed:
            claimed = self._claim(txn, ctx, now)
            if isinstance(claimed, StoredResponse):
                return claimed
            booking = travel.get_booking(txn, booking_ref, ctx.principal.vendor_id)
            try:
                return claimed, travel.start_booking(txn, booking, claimed.request_pk, now)
            except travel.BookingState as error:
                response = renderer.failure(ctx.request, error)
                return idempotency.complete(txn, self._keyring, claimed, response, now=now)

        try:
            started = await self._runner.run("travel_book_start", start)
        except RequestInProgress:
            # A retry while the partner books: the booking as it stands (not stored).
            booking = await self.booking(ctx.principal, booking_ref, ask=False)
            return Processed(renderer.travel_booking(ctx.request, booking), replayed=True)
        if isinstance(started, StoredResponse):
            return Processed(await self._settled_answer(ctx, booking_ref, started), replayed=True)
        if isinstance(started, Processed):
            return started
        claimed, booking = started
        partner = await self._partner_of(booking)
        try:
            result = await self._clients[partner].book(booking.booking_ref, booking.hold_id)
        except ProviderUnavailable as exc:  # certainly not booked: the hold stands
            result = ProviderResult(Outcome.FAILED, code="DOWN", message=str(exc)[:200])
        return await self._runner.run(
            "travel_book_result", self._apply, booking.booking_ref, result, ctx.request,
            renderer, claimed, self._clock(),
        )  # fmt: skip

    def _apply(self, txn: Txn, ref: str, result: ProviderResult, request: Any,
               renderer: TravelRenderer | None, claimed: Claim | None,
               now: datetime) -> Processed | None:  # fmt: skip
        """The partner's answer to a booking: final -> settled or refunded; pending or
        unknown -> it stays ``booking`` (money in suspense) until a callback, a status query
        or the sweep finds it final. The book request's answer is the booking as it then
        stands; one still in doubt is an answer for now, replaced (and pushed) when final."""
        booking = travel.get_booking(txn, ref)
        done = None
        if result.outcome.is_final and booking.state == "booking":
            done = travel.finish_booking(
                txn, booking, success=result.outcome is Outcome.SUCCESS,
                pnr=result.operator_ref, ticket_no=result.details.get("ticket_no"),
                message=result.message, now=now,
            )  # fmt: skip
            booking = done or travel.get_booking(txn, ref)
        if renderer is None or claimed is None:
            if done is not None:
                self._finish_late(txn, done, now)
            return None
        response = renderer.travel_booking(request, booking)
        return idempotency.complete(
            txn, self._keyring, claimed, response, now=now, keep_body=booking.state == "booking"
        )

    def _finish_late(self, txn: Txn, booking: Booking, now: datetime) -> None:
        """A booking answered "booking" (pending) is final now: its book request's final
        answer stored under its key and pushed (webhook, SMS), in this transaction."""
        if booking.book_request_pk is None or self._renderers is None:
            return
        kept = idempotency.interim(txn, self._keyring, booking.book_request_pk)
        renderer = None if kept is None else self._renderers.get(kept.channel)
        if kept is None or kept.body is None or not hasattr(renderer, "travel_booking"):
            return
        request = renderer.load(kept.body)  # type: ignore[union-attr]
        response = renderer.travel_booking(request, booking)  # type: ignore[union-attr]
        idempotency.replace_interim(txn, self._keyring, kept, response, now=now)
        if self._push is not None:
            self._push(
                txn, request=request, claim=kept.claim, response=response,
                sold=PushedBooking.of(booking), renderer=renderer, now=now,
            )  # fmt: skip

    async def _settled_answer(
        self, ctx: RequestContext, booking_ref: str, stored: StoredResponse
    ) -> StoredResponse:
        """A retried book request's stored answer; while the booking is still being booked
        the partner is asked first (its final answer replaces the stored one)."""

        def read(txn: Txn) -> Booking | None:
            found = travel.get_booking(txn, booking_ref, ctx.principal.vendor_id)
            return found if found.state == "booking" else None

        try:
            booking = await self._runner.run("travel_book_retry", read)
        except VendingError:
            return stored
        if booking is None:
            return stored
        await self.resolve(booking)

        def again(txn: Txn) -> StoredResponse:
            record = idempotency.lookup(txn, self._keyring, ctx.key.client_id, ctx.key.request_id)
            return stored if record is None or record.response is None else record.response

        return await self._runner.run("travel_book_replay", again)

    def apply_callback(self, txn: Txn, provider_id: int, notice: CallbackNotice,
                       now: datetime) -> str:  # fmt: skip
        """A partner's authenticated callback about a booking (``Fulfilment.callback_sinks``
        under ``TB``): applied once; an unknown booking, another partner's, or one not being
        booked (already final) changes nothing; the result is logged and recorded."""
        try:
            booking = travel.get_booking(txn, notice.order_id)
        except UnknownBooking:
            return "unknown_order"
        if booking.provider_id != provider_id:
            return "wrong_provider"
        if booking.state != "booking":
            return "already_final" if booking.state in travel.FINAL_STATES else "not_booking"
        if not notice.result.outcome.is_final:
            return "not_final"
        self._apply(txn, booking.booking_ref, notice.result, None, None, None, now)
        return "applied"

    async def _partner_of(self, booking: Booking) -> str:
        from catalogue.tables import providers

        def name(txn: Txn) -> str:
            return txn.execute(
                providers.select().with_only_columns(providers.c.name)
                .where(providers.c.id == booking.provider_id)
            ).scalar_one()  # fmt: skip

        return await self._runner.run("travel_partner", name)

    # --- status, cancel ---------------------------------------------------------------------

    async def booking(self, principal: Principal, booking_ref: str, *, ask: bool = True) -> Booking:
        """The booking; one still being booked is asked of the partner (and finished when
        the partner's answer is final; its book request's answer stored then)."""

        def read(txn: Txn) -> Booking:
            revalidate(txn, principal)
            return travel.get_booking(txn, booking_ref, principal.vendor_id)

        booking = await self._runner.run("travel_booking", read)
        if ask and booking.state == "booking":
            await self.resolve(booking)
            booking = await self._runner.run("travel_booking", read)
        return booking

    async def resolve(self, booking: Booking) -> None:
        partner = await self._partner_of(booking)
        try:
            result = await self._clients[partner].status(booking.booking_ref)
        except ProviderUnavailable:
            return
        if not result.outcome.is_final:
            return

        await self._runner.run(
            "travel_resolve", self._apply, booking.booking_ref, result, None, None, None,
            self._clock(),
        )  # fmt: skip

    async def cancel(
        self, ctx: RequestContext, booking_ref: str, renderer: TravelRenderer
    ) -> Processed:
        now = self._clock()

        def start(txn: Txn) -> tuple[Claim, Booking] | StoredResponse:
            claimed = self._claim(txn, ctx, now)
            if isinstance(claimed, StoredResponse):
                return claimed
            return claimed, travel.get_booking(txn, booking_ref, ctx.principal.vendor_id)

        started = await self._runner.run("travel_cancel_start", start)
        if isinstance(started, StoredResponse):
            return Processed(started, replayed=True)
        claimed, booking = started
        if booking.state != "booked" or not booking.pnr:
            error = travel.BookingState(f"booking {booking_ref} is {booking.state}, not booked")
            return await self._fail(ctx, claimed, renderer, error)
        partner = await self._partner_of(booking)
        answer = await self._clients[partner].cancel(booking.pnr, now)
        if isinstance(answer, str):
            return await self._fail(ctx, claimed, renderer, InvalidRequest(answer))

        def finish(txn: Txn) -> Processed:
            done = travel.cancel(
                txn, travel.get_booking(txn, booking_ref), refund=answer.refund,
                charge=answer.charge, message=answer.message,
                created_by=created_by(ctx.principal), now=self._clock(),
            )  # fmt: skip
            response = renderer.travel_booking(ctx.request, done)
            return idempotency.complete(txn, self._keyring, claimed, response, now=self._clock())

        return await self._runner.run("travel_cancel", finish)

    # --- expired holds ----------------------------------------------------------------------

    async def sweep(self) -> int:
        """Release every hold past its expiry (refund; the partner told, best effort) and
        ask the partner about bookings in doubt. The number of holds released."""
        now = self._clock()
        released = 0
        for ref in await self._runner.run("travel_expired", travel.expired_holds, now):

            def release(txn: Txn, ref: str = ref) -> Booking | None:
                booking = travel.get_booking(txn, ref)
                return booking if travel.release(txn, booking, "the hold expired", now) else None

            booking = await self._runner.run("travel_release", release)
            if booking is not None:
                released += 1
                await self._release_at(await self._partner_of(booking), booking.hold_id)
        for ref in await self._runner.run("travel_in_doubt", travel.booking_in_doubt, now):
            booking = await self._runner.run("travel_booking", travel.get_booking, ref)
            await self.resolve(booking)
        return released

    async def _release_at(self, partner: str, hold_id: str) -> None:
        try:
            await self._clients[partner].release(hold_id)
        except Exception as exc:  # the partner's own expiry frees the seats anyway
            log.info("release of hold %s at %s: %s", hold_id, partner, exc)

    def start(self) -> None:
        if self._scheduler is not None and not self._sweeping:
            self._sweeping = True
            self._scheduler.call_later(self._sweep_seconds, self._tick)

    def stop(self) -> None:
        self._sweeping = False

    async def _tick(self) -> None:
        try:
            await self.sweep()
        except Exception:
            log.exception("travel hold sweep")
        if self._sweeping:
            self._scheduler.call_later(self._sweep_seconds, self._tick)


__all__ = ["HoldRequest", "PushedBooking", "TravelRenderer", "TravelSales"]
