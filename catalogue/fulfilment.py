"""Fulfilment of sales through providers: hold -> execute -> (poll | callback) -> settle or
refund, with failover and every attempt recorded.

One sale::

    txn 1  claim the request key, re-check the principal, validate and price (the service's
           ``prepare``), rank the providers, hold the money (vendor -> suspense), write the
           order                                                              -> commit
    call   execute on the best provider; DOWN (it certainly did not take it) -> the next
    txn 2  SUCCESS: settle, render, store the answer under the request key
           FAILED:  refund (the hold reversed), render, store
           PENDING / UNKNOWN (timeout): the provider holds it; the channel is answered
           "pending" with our order id; status polls follow with exponential backoff

A callback or a status poll that says SUCCESS or FAILED closes the order the same way (one
conditional transition: the second of two racing results changes nothing). Nothing but a
final FAILED refunds; a provider that never answers leaves the money in suspense for people
(an ``outbox`` notice after ``give_up_polls``). All providers DOWN: the order was taken by
none, so it fails and refunds at once.

No Twisted here: the provider clients, the transaction runner and the scheduler are
injected (Deferreds are awaited).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from catalogue import callbacks as auth
from catalogue.errors import UnknownOrder, UnknownProvider
from catalogue.interface import (
    CallbackNotice,
    Outcome,
    ProviderClient,
    ProviderOrder,
    ProviderResult,
    ProviderUnavailable,
    Scheduler,
)
from catalogue.orders import (
    Order,
    ProviderSale,
    close_order,
    due_orders,
    find_order,
    lease_poll,
    mark_waiting,
    open_order,
    order_by_pk,
    order_for_request,
    record_attempt,
    request_of,
    sale_view,
    shown_target,
)
from catalogue.providers import get_provider, provider_secret
from catalogue.routing import Candidate, RoutingPolicy, route
from catalogue.tables import provider_callbacks
from vending import outbox
from vending.errors import (
    AccountBlocked,
    DeferredDebitRefused,
    InsufficientFunds,
    RequestInProgress,
    VendingError,
)
from vending.keyring import Keyring
from vending.money import Money
from vending.products import Pricing, Product, price_sale, vendor_commission_bp
from vending.requests import Claim, Processed, StoredResponse, forget_claim
from vending.sale_batch import in_savepoint
from vending.services import idempotency
from vending.services.context import Clock, RequestContext, TxnRunner, created_by
from vending.services.results import Outcome as ServiceOutcome
from vending.storage.database import Txn, commits_with_last_statement

log = logging.getLogger("evd.catalogue.fulfilment")


@dataclass(frozen=True)
class Prepared:
    """A validated sale, ready to hold: what the service's ``prepare`` returns."""

    product: Product
    service: str
    target: str
    amount: Money
    params: dict[str, Any] = field(default_factory=dict)
    # Called in the hold transaction with the new order (e.g. link a bill fetch to it).
    on_hold: Callable[[Txn, Order], None] | None = None
    # A pricing of the service's own (money transfer: amount + fee, commission from the
    # fee) instead of the product's; then ``amount`` is what the provider is asked to send.
    pricing: Pricing | None = None


Prepare = Callable[[Txn, datetime], Prepared]


@dataclass(frozen=True)
class FulfilmentPolicy:
    first_poll_seconds: float = 2.0
    max_poll_seconds: float = 60.0
    # Polls after which a still-unknown order is reported to people (it stays held).
    give_up_polls: int = 30
    sweep_seconds: float = 30.0
    routing: RoutingPolicy = field(default_factory=RoutingPolicy)

    def poll_delay(self, polls: int) -> float:
        return min(self.max_poll_seconds, self.first_poll_seconds * 2.0 ** min(polls, 16))


@dataclass(frozen=True)
class _Held:
    order: Order
    candidates: list[Candidate]
    product_code: str
    amount: Money


@dataclass(frozen=True)
class _Priced:
    """A sale claimed, checked, priced and routed: what its hold needs."""

    claim: Claim
    prepared: Prepared
    pricing: Pricing
    candidates: list[Candidate]


def _refused(error: BaseException) -> Exception:
    """A chunk's sale refused (its result); anything but a refusal fails the chunk."""
    if not isinstance(error, VendingError):
        raise error
    return error


_NONE = object()


async def first_answer(
    clients: Mapping[str, Any],
    candidates: list[tuple[str, str]],
    capability: str,
    call: Callable[[Any, str], Any],
) -> Any:
    """Ask the ranked ``(provider, provider code)`` candidates whose client has
    ``capability`` (plans, fetch, quote, search ...) in turn: the first answer, or
    ``NO_ANSWER`` when each was down or none can. For calls that change nothing at the
    provider, so trying the next one is safe."""
    for provider, code in candidates:
        client = clients.get(provider)
        if client is None or not hasattr(client, capability):
            continue
        try:
            return await call(client, code)
        except ProviderUnavailable:
            continue
    return NO_ANSWER


NO_ANSWER: Any = _NONE

# What takes a callback about something else than a provider order (see callback_sinks).
CallbackSink = Callable[[Txn, int, CallbackNotice, datetime], str]


class Fulfilment:
    def __init__(
        self,
        runner: TxnRunner,
        keyring: Keyring,
        clock: Clock,
        scheduler: Scheduler,
        clients: Mapping[str, ProviderClient],
        renderers: Any,
        *,
        callback_parsers: Mapping[str, Callable[[bytes], CallbackNotice]] | None = None,
        policy: FulfilmentPolicy | None = None,
        push: Callable[..., None] | None = None,
    ) -> None:
        self._runner = runner
        # Called in the closing transaction of an order answered "pending" before
        # (vending.services.provider_push.ResultPush: webhook + SMS).
        self.push = push
        self._keyring = keyring
        self._clock = clock
        self._scheduler = scheduler
        self.scheduler = scheduler
        self.clients = dict(clients)
        # The channels' renderers by channel name (vending.services.rendering.Renderers).
        self._renderers = renderers
        self._parsers = dict(callback_parsers or {})
        self.policy = policy or FulfilmentPolicy()
        self._sweeping = False
        # Callbacks about what is not a provider order of ours, by the reference's prefix
        # (travel bookings "TB..."): ``sink(txn, provider_id, notice, now)`` -> the result
        # recorded (applied, unknown_order, already_final, ...), in the callback's
        # transaction.
        self.callback_sinks: dict[str, CallbackSink] = {}

    @property
    def keyring(self) -> Keyring:
        """The keyring the request keys' answers are stored under (for the services that
        take their own requests through the idempotency path beside this fulfilment)."""
        return self._keyring

    # --- a sale ---------------------------------------------------------------------------

    async def sell(self, ctx: RequestContext, prepare: Prepare, renderer: Any) -> ServiceOutcome:
        """The channel's answer: final (stored under the request key) or pending."""
        now = self._clock()
        try:
            held = await self._runner.run("provider_hold", self._hold, ctx, prepare, now)
        except RequestInProgress:
            # A retry while the provider works: the same pending answer, with our reference.
            view = await self._runner.run("provider_pending", self._pending_view, ctx)
            if view is None:
                raise
            return ServiceOutcome(renderer.provider_sale(ctx.request, view), replayed=True)
        if isinstance(held, Processed):
            return ServiceOutcome.of(held)
        return await self._dispatch(held, ctx.request, renderer)

    async def sell_many(
        self, items: list[tuple[RequestContext, Prepare]], renderer: Any
    ) -> list[ServiceOutcome | Exception]:
        """Many sales of one caller at once (a bulk file's rows): the same steps as
        :meth:`sell` for each, but the holds in one transaction and the providers' answers
        applied in one more (each sale in its own savepoint: one that fails is rolled back
        alone and its error is its result), the provider calls concurrent. A sale whose
        first provider is down, or whose key is still in flight, goes the single path."""
        now = self._clock()
        try:
            held = await self._runner.run("provider_hold_many", self._hold_many, items, now, True)
        except (DeferredDebitRefused, InsufficientFunds, AccountBlocked) as refused:
            # The chunk's holds, whose debits of the vendor are applied together at its end,
            # did not fit (nothing was held; the ledger's refusal: DeferredDebitRefused where
            # the debits ride with the COMMIT): held again, each debit at once against the
            # locked balance, so that the rows that fit are held and only the rest refused.
            # Anything else that failed the chunk as a whole is raised as it is.
            log.info("bulk chunk of %d held debit by debit: %s", len(items), refused.message)
            held = await self._runner.run("provider_hold_many", self._hold_many, items, now, False)
        out: list[ServiceOutcome | Exception | None] = [None] * len(items)
        calls: list[tuple[int, _Held, Candidate, Any]] = []
        for index, found in enumerate(held):
            ctx, prepare = items[index]
            if isinstance(found, RequestInProgress):
                out[index] = await self._single(ctx, prepare, renderer)
            elif isinstance(found, Exception):
                out[index] = found
            elif isinstance(found, Processed):
                out[index] = ServiceOutcome.of(found)
            else:
                candidate = next((c for c in found.candidates if c.provider in self.clients), None)
                if candidate is None:
                    out[index] = await self._dispatch_or_error(found, ctx.request, renderer)
                    continue
                # Started now, awaited below: the provider calls run concurrently.
                calls.append((index, found, candidate, self._execute(found, candidate)))
        answered: list[tuple[int, _Held, Candidate, ProviderResult, int]] = []
        for index, found, candidate, call in calls:
            started = self._clock()
            try:
                result = await call
            except ProviderUnavailable:
                # Not taken by the first provider: the single path records it and fails over.
                out[index] = await self._dispatch_or_error(found, items[index][0].request, renderer)
                continue
            except Exception as exc:
                log.error("order %s: %s: %r", found.order.order_id, candidate.provider, exc)
                result = ProviderResult(Outcome.UNKNOWN, message="unreadable provider answer")
            answered.append((index, found, candidate, result, self._elapsed_ms(started)))
        if answered:
            applied = await self._runner.run(
                "provider_result_many",
                self._apply_many,
                [
                    (f.order.pk, c.provider_id, r, ms, items[i][0].request)
                    for i, f, c, r, ms in answered
                ],
                renderer,
                self._clock(),
            )
            for (index, found, _c, _r, _ms), outcome in zip(answered, applied, strict=True):
                if isinstance(outcome, Exception):
                    out[index] = outcome
                else:
                    out[index] = self._answer(
                        outcome, found.order, items[index][0].request, renderer
                    )
        return [o if o is not None else RuntimeError("no outcome") for o in out]

    async def _single(self, ctx: RequestContext, prepare: Prepare, renderer: Any) -> Any:
        try:
            return await self.sell(ctx, prepare, renderer)
        except Exception as error:
            return error

    async def _dispatch_or_error(self, held: _Held, request: Any, renderer: Any) -> Any:
        try:
            return await self._dispatch(held, request, renderer)
        except Exception as error:
            return error

    def _execute(self, held: _Held, candidate: Candidate) -> Any:
        order = held.order
        client = self.clients[candidate.provider]
        return client.execute(
            ProviderOrder(
                order_id=order.order_id,
                provider_code=(
                    order.params.get("biller_id", "")
                    if candidate.provider_code == "*"
                    else candidate.provider_code
                ),
                target=order.target,
                amount=held.amount,
                params=order.params,
            )
        )

    @commits_with_last_statement
    def _hold_many(
        self,
        txn: Txn,
        items: list[tuple[RequestContext, Prepare]],
        now: datetime,
        pay_late: bool,
    ) -> list[Processed | _Held | Exception]:
        """A chunk's holds, in two passes so that the shared rows are locked late: first
        every sale's claim, checks, price and route (no shared row locked), then every
        hold's ledger transfer and order. ``pay_late``: the vendor's debits are applied
        together at the end, before the hot accounts' credits, and checked then
        (``vending.sales.hold_sale_paying_late``), so the vendor's row -- which every hold
        of the file debits -- is locked for the chunk's last round trip only (those
        statements ride with the COMMIT); a chunk that does not fit fails whole. Else each
        debit is applied and checked at once, the vendor's row locked from the first to the
        commit. Each step of each sale in its own savepoint; a sale refused at its hold has
        its claim dropped, as the single path's rolled-back transaction drops it."""
        out: list[Processed | _Held | Exception] = []
        for ctx, prepare in items:
            done = in_savepoint(txn, self._price, ctx, prepare, now)
            out.append(_refused(done.error) if done.error is not None else done.result)
        for index, (ctx, _prepare) in enumerate(items):
            priced = out[index]
            if not isinstance(priced, _Priced):
                continue
            done = in_savepoint(txn, self._open, ctx, priced, now, pay_late)
            if done.error is not None:
                forget_claim(txn, priced.claim)
                out[index] = _refused(done.error)
            else:
                out[index] = done.result
        return out

    @commits_with_last_statement
    def _apply_many(
        self,
        txn: Txn,
        answers: list[tuple[int, int, ProviderResult, int, Any]],
        renderer: Any,
        now: datetime,
    ) -> list[Processed | ProviderSale | Exception | None]:
        """A chunk's answers, each sale in its own savepoint, the settlements' hot legs
        deferred to the commit (``vending.sales.settle_sale``, as every settlement's) and
        sent with it in one round trip."""
        out: list[Processed | ProviderSale | Exception | None] = []
        for order_pk, provider_id, result, ms, request in answers:
            done = in_savepoint(
                txn, self._apply, order_pk, provider_id, "execute", result, ms, request,
                renderer, now,
            )  # fmt: skip
            out.append(_refused(done.error) if done.error is not None else done.result)
        return out

    def _hold(
        self, txn: Txn, ctx: RequestContext, prepare: Prepare, now: datetime
    ) -> Processed | _Held:
        priced = self._price(txn, ctx, prepare, now)
        return priced if isinstance(priced, Processed) else self._open(txn, ctx, priced, now)

    def _price(
        self, txn: Txn, ctx: RequestContext, prepare: Prepare, now: datetime
    ) -> Processed | _Priced:
        """A sale's claim, checks, price and route: everything of a hold before its money."""
        claimed = idempotency.claim(txn, self._keyring, ctx.key, ctx.principal, now=now)
        if isinstance(claimed, StoredResponse):
            return Processed(claimed, replayed=True)
        prepared = prepare(txn, now)
        product = prepared.product
        pricing = prepared.pricing or price_sale(
            product,
            prepared.amount,
            commission_bp=vendor_commission_bp(txn, ctx.principal.vendor_id, product),
        )
        candidates = route(txn, product.id, product.code, self.policy.routing, now)
        return _Priced(claimed, prepared, pricing, candidates)

    def _open(
        self,
        txn: Txn,
        ctx: RequestContext,
        priced: _Priced,
        now: datetime,
        pay_late: bool = False,
    ) -> _Held:
        """The hold itself: the sale's money to suspense and its order, pending."""
        prepared = priced.prepared
        order, _sale = open_order(
            txn,
            self._keyring,
            priced.claim,
            ctx.sale_order(prepared.product, priced.pricing, prepared.target,
                           shown_target=shown_target(prepared.service, prepared.target),
                           service=prepared.service),
            service=prepared.service,
            params=prepared.params,
            request_body=ctx.body_to_keep(),
            created_by=created_by(ctx.principal),
            now=now,
            pay_late=pay_late,
        )  # fmt: skip
        if prepared.on_hold is not None:
            prepared.on_hold(txn, order)
        return _Held(order, priced.candidates, prepared.product.code, prepared.amount)

    def _pending_view(self, txn: Txn, ctx: RequestContext) -> ProviderSale | None:
        order = order_for_request(txn, ctx.key.client_id, ctx.key.request_id)
        return None if order is None else sale_view(txn, order)

    async def _dispatch(self, held: _Held, request: Any, renderer: Any) -> ServiceOutcome:
        order = held.order
        for candidate in held.candidates:
            client = self.clients.get(candidate.provider)
            if client is None:
                log.warning("order %s: no client wired for %s", order.order_id, candidate.provider)
                continue
            asked = ProviderOrder(
                order_id=order.order_id,
                provider_code=(
                    order.params.get("biller_id", "")
                    if candidate.provider_code == "*"
                    else candidate.provider_code
                ),
                target=order.target,
                amount=held.amount,
                params=order.params,
            )
            started = self._clock()
            try:
                result = await client.execute(asked)
            except ProviderUnavailable as exc:
                log.warning("order %s: %s down (%s)", order.order_id, candidate.provider, exc)
                await self._runner.run(
                    "provider_down",
                    self._record_down,
                    order.pk,
                    candidate.provider_id,
                    str(exc),
                    self._elapsed_ms(started),
                    self._clock(),
                )
                continue
            except Exception as exc:  # an answer we cannot read: the outcome is unknown
                log.error("order %s: %s: %r", order.order_id, candidate.provider, exc)
                result = ProviderResult(Outcome.UNKNOWN, message="unreadable provider answer")
            outcome = await self._runner.run(
                "provider_result",
                self._apply,
                order.pk,
                candidate.provider_id,
                "execute",
                result,
                self._elapsed_ms(started),
                request,
                renderer,
                self._clock(),
            )
            return self._answer(outcome, order, request, renderer)
        # Every provider refused the connection: none took the order, so it fails now.
        failed = ProviderResult(Outcome.FAILED, code="DOWN", message="no provider available")
        outcome = await self._runner.run(
            "provider_result",
            self._apply,
            order.pk,
            None,
            "execute",
            failed,
            0,
            request,
            renderer,
            self._clock(),
        )
        return self._answer(outcome, order, request, renderer)

    def _answer(
        self, outcome: Processed | ProviderSale, order: Order, request: Any, renderer: Any
    ) -> ServiceOutcome:
        if isinstance(outcome, Processed):
            return ServiceOutcome.of(outcome, product=order.service)
        self._schedule_poll(order.pk, self.policy.poll_delay(0))
        return ServiceOutcome(renderer.provider_sale(request, outcome), replayed=False)

    def _elapsed_ms(self, started: datetime) -> int:
        return int((self._clock() - started).total_seconds() * 1000)

    def _record_down(
        self, txn: Txn, order_pk: int, provider_id: int, message: str, ms: int, now: datetime
    ) -> None:
        record_attempt(
            txn, order_pk, provider_id, "execute", "DOWN", message=message, latency_ms=ms, now=now
        )

    # --- applying a provider's answer (execute, status, callback) ---------------------------

    def _apply(
        self,
        txn: Txn,
        order_pk: int,
        provider_id: int | None,
        action: str,
        result: ProviderResult,
        latency_ms: int,
        request: Any,
        renderer: Any,
        now: datetime,
    ) -> Processed | ProviderSale | None:
        """Record the attempt; close the order on a final outcome (its answer stored), else
        keep it waiting. None: the order was final already (nothing changed)."""
        order = order_by_pk(txn, order_pk)
        if provider_id is not None:
            record_attempt(
                txn,
                order_pk,
                provider_id,
                action,
                result.outcome.value,
                code=result.code,
                message=result.message,
                latency_ms=latency_ms,
                now=now,
            )
        if order.state != "pending":
            # Closed meanwhile (a callback overtook the answer): the stored answer stands.
            return self._stored(txn, order) if renderer is not None else None
        if not result.outcome.is_final:
            if provider_id is not None:
                delay = timedelta(seconds=self.policy.poll_delay(order.polls))
                mark_waiting(txn, order, provider_id, result, now + delay)
            return sale_view(txn, order_by_pk(txn, order_pk))
        sold = close_order(txn, order, provider_id, result, now=now)
        if sold is None:
            return self._stored(txn, order) if renderer is not None else None
        channel, body, claim = request_of(txn, self._keyring, order)
        late = renderer is None
        if renderer is None:
            renderer = self._renderers.get(channel)
            if renderer is None:
                raise RuntimeError(f"no renderer registered for channel {channel!r}")
            request = renderer.load(body)
        response = renderer.provider_sale(request, sold)
        processed = idempotency.complete(txn, self._keyring, claim, response, now=now)
        if late and self.push is not None and not processed.replayed:
            # The client was told "pending": the final result is pushed to it.
            self.push(
                txn, request=request, claim=claim, response=processed.response, sold=sold,
                renderer=renderer, now=now,
            )  # fmt: skip
        log.info("order %s %s via %s (%s)", order.order_id, sold.state, action, result.code or "-")
        return processed

    def _stored(self, txn: Txn, order: Order) -> Processed:
        _channel, _body, claim = request_of(txn, self._keyring, order)
        record = idempotency.lookup(txn, self._keyring, claim.client_id, claim.request_id)
        assert record is not None and record.response is not None
        return Processed(record.response, replayed=False)

    # --- status polling ---------------------------------------------------------------------

    def _schedule_poll(self, order_pk: int, seconds: float) -> None:
        self._scheduler.call_later(seconds, lambda: self.poll(order_pk))

    async def poll(self, order_pk: int) -> None:
        """Ask the holding provider for the order's status once (backing off after)."""
        now = self._clock()
        try:
            order = await self._runner.run("provider_poll_order", order_by_pk, order_pk)
            delay = self.policy.poll_delay(order.polls + 1)
            leased = await self._runner.run(
                "provider_poll_lease", lease_poll, order_pk, timedelta(seconds=delay), now
            )
            if leased is None:
                return
            if leased.provider is None:
                await self._find_orphan(leased, delay)
                return
            client = self.clients.get(leased.provider)
            if client is None:
                return
            started = self._clock()
            try:
                result = await client.status(leased.order_id)
            except ProviderUnavailable as exc:
                result = ProviderResult(Outcome.UNKNOWN, code="DOWN", message=str(exc))
            except Exception as exc:
                log.info("status of %s: %r", leased.order_id, exc)
                result = ProviderResult(Outcome.UNKNOWN, message="no status answer")
            outcome = await self._runner.run(
                "provider_result",
                self._apply_status,
                order_pk,
                leased.provider_id,
                result,
                self._elapsed_ms(started),
                self._clock(),
            )
            if isinstance(outcome, ProviderSale):  # still pending
                if leased.polls + 1 >= self.policy.give_up_polls:
                    await self._runner.run(
                        "provider_stuck", self._report_stuck, order_pk, self._clock()
                    )
                    return
                self._schedule_poll(order_pk, delay)
        except Exception:
            log.exception("status poll of order %s", order_pk)

    async def _find_orphan(self, order: Order, delay: float) -> None:
        """An order no provider answer was applied to (the process stopped during the call):
        ask each candidate provider; the first that knows it holds it from now on."""
        candidates = await self._runner.run("provider_orphan_route", self._route_of, order.pk)
        for candidate in candidates:
            client = self.clients.get(candidate.provider)
            if client is None:
                continue
            try:
                result = await client.status(order.order_id)
            except Exception:
                continue
            if result.outcome is Outcome.UNKNOWN:
                continue
            outcome = await self._runner.run(
                "provider_result",
                self._apply_status,
                order.pk,
                candidate.provider_id,
                result,
                0,
                self._clock(),
            )
            if isinstance(outcome, ProviderSale):
                self._schedule_poll(order.pk, delay)
            return
        log.warning("order %s: no provider knows it yet", order.order_id)
        self._schedule_poll(order.pk, delay)

    def _route_of(self, txn: Txn, order_pk: int) -> list[Candidate]:
        from vending.sales import get_sale

        order = order_by_pk(txn, order_pk)
        sale = get_sale(txn, order.sale_id)
        return route(txn, sale.product_id, sale.product_code, self.policy.routing, self._clock())

    def _apply_status(
        self,
        txn: Txn,
        order_pk: int,
        provider_id: int,
        result: ProviderResult,
        latency_ms: int,
        now: datetime,
    ) -> Processed | ProviderSale | None:
        order = order_by_pk(txn, order_pk)
        if not result.outcome.is_final and order.state == "pending":
            record_attempt(
                txn,
                order_pk,
                provider_id,
                "status",
                result.outcome.value,
                code=result.code,
                message=result.message,
                latency_ms=latency_ms,
                now=now,
            )
            return sale_view(txn, order)
        return self._apply(
            txn, order_pk, provider_id, "status", result, latency_ms, None, None, now
        )

    def _report_stuck(self, txn: Txn, order_pk: int, now: datetime) -> None:
        order = order_by_pk(txn, order_pk)
        outbox.notify(
            txn,
            kind="catalogue.order_unresolved",
            subject=f"order {order.order_id} with {order.provider}",
            payload={"order_id": order.order_id, "action": "reconcile with the provider"},
            now=now,
        )

    def start(self) -> None:
        """Resume polling pending orders (after a restart, or when a poll was lost)."""
        if not self._sweeping:
            self._sweeping = True
            self._scheduler.call_later(0, self.sweep)

    def stop(self) -> None:
        self._sweeping = False

    async def sweep(self) -> None:
        try:
            due = await self._runner.run("provider_due", due_orders, self._clock())
            for order_pk in due:
                await self.poll(order_pk)
        except Exception:
            log.exception("provider order sweep")
        if self._sweeping:
            self._scheduler.call_later(self.policy.sweep_seconds, self.sweep)

    # --- callbacks ------------------------------------------------------------------------

    async def callback(
        self, provider: str, peer: str, body: bytes, signature: str | None
    ) -> tuple[int, str]:
        """A provider's push: (HTTP status, result). Authenticated by the provider's IP
        allow-list and HMAC; applied once; unknown or already final orders change nothing
        (logged)."""
        try:
            found, secret = await self._runner.run(
                "provider_callback_auth", self._callback_auth, provider
            )
        except UnknownProvider:
            log.warning("callback for unknown provider %r from %s", provider, peer)
            return 404, "unknown_provider"
        if not auth.address_allowed(peer, found.callback_ips):
            log.warning("callback from %s refused: %s is not on its allow-list", provider, peer)
            return 403, "forbidden_address"
        if secret is None or not auth.signature_valid(secret, body, signature):
            log.warning("callback from %s (%s) refused: bad signature", provider, peer)
            return 401, "bad_signature"
        parse = self._parsers.get(found.protocol)
        if parse is None:
            return 404, "no_callbacks"
        try:
            notice = parse(body)
        except Exception as exc:
            log.warning("callback from %s unreadable: %s", provider, exc)
            return 400, "unreadable"
        result = await self._runner.run(
            "provider_callback",
            self._apply_callback,
            found.id,
            notice,
            auth.body_digest(body),
            self._clock(),
        )
        log.info("callback from %s for %s: %s", provider, notice.order_id, result)
        return 200, result

    def _callback_auth(self, txn: Txn, provider: str) -> tuple[Any, bytes | None]:
        return get_provider(txn, provider), provider_secret(txn, self._keyring, provider)

    def _apply_callback(
        self, txn: Txn, provider_id: int, notice: CallbackNotice, digest: str, now: datetime
    ) -> str:
        from sqlalchemy import insert, select

        seen = txn.execute(
            select(provider_callbacks.c.id).where(
                provider_callbacks.c.provider_id == provider_id,
                provider_callbacks.c.digest == digest,
            )
        ).first()
        if seen is not None:
            return "duplicate"
        sink = self.callback_sinks.get(notice.order_id[:2])
        order = None if sink is not None else find_order(txn, notice.order_id)
        if sink is not None:
            result = sink(txn, provider_id, notice, now)
        elif order is None:
            result = "unknown_order"
        elif order.provider_id not in (None, provider_id):
            result = "wrong_provider"
        elif order.state != "pending":
            result = "already_final"
        elif not notice.result.outcome.is_final:
            record_attempt(
                txn,
                order.pk,
                provider_id,
                "callback",
                notice.result.outcome.value,
                code=notice.result.code,
                message=notice.result.message,
                now=now,
            )
            result = "not_final"
        else:
            applied = self._apply(
                txn, order.pk, provider_id, "callback", notice.result, 0, None, None, now
            )
            result = "applied" if applied is not None else "already_final"
        txn.execute(
            insert(provider_callbacks).values(
                provider_id=provider_id,
                digest=digest,
                order_id=notice.order_id[:20],
                status=notice.result.outcome.value,
                result=result,
                received_at=now,
            )
        )
        return result

    # --- status by reference --------------------------------------------------------------

    async def status(self, order_id: str) -> ProviderSale:
        def view(txn: Txn) -> ProviderSale:
            from catalogue.orders import get_order

            return sale_view(txn, get_order(txn, order_id))

        return await self._runner.run("provider_order_status", view)

    async def status_for(
        self, vendor_id: int, order_id: str, service: str | None = None, what: str = "order"
    ) -> ProviderSale:
        """The order, if it is the vendor's (and of ``service`` when given): else unknown."""
        sold = await self.status(order_id)
        if sold.sale.vendor_id != vendor_id or service not in (None, sold.service):
            raise UnknownOrder(f"no {what} {order_id!r}")
        return sold
