"""The upstream backend: a utility's own XMLVend server vends, we are its client.

A credit vend is two transactions around one XMLVend call, so that no vend is ever lost::

    txn 1  claim the request key, hold the sale (vendor -> suspense), remember the
           upstream msgID and our client's request (encrypted)            -> commit
    call   creditVendReq to the utility, within the route's timeout
    txn 2  settled: settle the sale, render, store the response
           refused (a business fault): fail the sale (vendor refunded), store the fault

When the outcome is unknown (timeout, dropped connection, SystemEx) the vend stays pending
and is recovered in the background with last-response advices quoting our msgID (backing
off up to ``utilities.recovery_max_delay_seconds``), until it is definitive:

* the utility replays its response -> settle as above;
* it replays a fault, or answers LastResponseEx (no such transaction: it never vended) ->
  fail and refund. A LastResponseEx that comes sooner than three route timeouts after the
  original request is not trusted yet (the request may still be on its way) and is asked
  again later;
* its answer cannot be delivered (no token, unreadable money) or recovery gives up after
  ``utilities.recovery_give_up_seconds`` -> fail and refund, and send the utility a
  reversal advice (repeated until answered; a refused reversal is left in the outbox for
  people to reconcile).

Pending vends survive restarts: :meth:`UpstreamBackend.start` runs a poll loop that picks
up every due row, loading our client's request again with ``ResponseRenderer.load``.
"""

from __future__ import annotations

import itertools
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from twisted.internet.defer import Deferred, fail
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.python.failure import Failure

from utilities import upstream_messages as messages
from utilities.errors import (
    InsufficientMeterData,
    OperationNotSupported,
    UpstreamFault,
    UpstreamUnavailable,
)
from utilities.interface import (
    CreditVendResult,
    MeterQuery,
    Purchase,
    RequestContext,
    ResponseRenderer,
    TxnRunner,
)
from utilities.registry import check_meter_number
from utilities.tables import upstream_vends
from vending import outbox
from vending.auth import Principal, revalidate
from vending.clock import Clock
from vending.config import Config, ConfigError, UpstreamRoute
from vending.keyring import Keyring
from vending.money import Money
from vending.products import get_product, price_sale, vendor_commission_bp
from vending.requests import (
    Claim,
    Processed,
    StoredResponse,
    claim_request,
    find_request,
    store_response,
)
from vending.sales import fail_sale, get_sale, hold_sale, settle_sale
from vending.storage.database import Txn
from vending.storage.schema import requests
from vending.vendors import available_credit
from xmlvend.client import ClientTLS, XMLVendClient, XMLVendClientError
from xmlvend.codec import types_base as b
from xmlvend.codec import types_revenue as r
from xmlvend.codec.faults import SoapFault

log = logging.getLogger("evd.utilities.upstream")


@dataclass(frozen=True)
class _Held:
    row_id: int
    claim: Claim
    msg_id: b.MsgID


@dataclass
class _InFlight:
    """What this process knows of a pending vend beyond the database row."""

    request: Any = None
    renderer: ResponseRenderer | None = None
    purchase: Purchase | None = None
    waiters: list[Deferred] = field(default_factory=list)


def _aad(request_pk: int) -> bytes:
    return f"evd-upstream-request:{request_pk}".encode()


class UpstreamBackend:
    """One configured upstream route (one utility server)."""

    def __init__(
        self,
        route: UpstreamRoute,
        runner: TxnRunner,
        keyring: Keyring,
        client: XMLVendClient,
        reactor: IReactorTime,
        *,
        money: messages.MoneyReader,
        product_code: str = "ELEC-DEMO",
        poll_seconds: float = 2.0,
        max_delay_seconds: float = 60.0,
        give_up_seconds: float = 86400.0,
        clock: Clock,
    ) -> None:
        self.route = route
        self.name = route.route_name
        self._runner = runner
        self._keyring = keyring
        self._client = client
        self._reactor = reactor
        self._money = money
        self._product_code = product_code
        self._poll_seconds = poll_seconds
        self._max_delay = max_delay_seconds
        self._give_up = give_up_seconds
        self._clock = clock
        self._unique = itertools.count(secrets.randbelow(900_000))
        self._inflight: dict[int, _InFlight] = {}
        self._busy: set[int] = set()
        self._renderers: Mapping[str, ResponseRenderer] | ResponseRenderer | None = None
        self._loop: LoopingCall | None = None

    @classmethod
    def from_config(
        cls,
        route: UpstreamRoute,
        config: Config,
        runner: TxnRunner,
        keyring: Keyring,
        reactor: IReactorTime,
        *,
        clock: Clock,
    ) -> UpstreamBackend:
        if route.timeout_seconds >= config.server.deadline_seconds:
            raise ConfigError(
                f"utilities.routes[{route.route_name}].timeout_seconds must be below "
                f"server.deadline_seconds ({config.server.deadline_seconds})"
            )
        tls = None
        if route.ca or route.cert:
            tls = ClientTLS(
                ca=str(config.path(route.ca)) if route.ca else "",
                cert=str(config.path(route.cert)) if route.cert else "",
                key=str(config.path(route.key)) if route.key else "",
            )
        client = XMLVendClient(
            reactor,
            route.url,
            timeout=route.timeout_seconds,
            gzip_request=route.gzip_request,
            tls=tls,
        )
        utilities = config.utilities
        return cls(
            route,
            runner,
            keyring,
            client,
            reactor,
            money=messages.MoneyReader(config.currency.default, config.currency.aliases),
            product_code=utilities.product_code,
            poll_seconds=utilities.recovery_poll_seconds,
            max_delay_seconds=utilities.recovery_max_delay_seconds,
            give_up_seconds=utilities.recovery_give_up_seconds,
            clock=clock,
        )

    def _next_msg_id(self) -> b.MsgID:
        return messages.msg_id(self._clock(), next(self._unique))

    @staticmethod
    def unsupported(operation: str) -> Deferred:
        return fail(
            OperationNotSupported(f"{operation} is not offered for meters of an upstream utility")
        )

    # --- read-only --------------------------------------------------------------------------

    def _ask(self, request: Any) -> Deferred:
        d = self._client.call(request)

        def answer(response: Any) -> Any:
            if isinstance(response, SoapFault):
                raise messages.fault_error(response)
            return response

        def unreachable(failure: Failure) -> Any:
            failure.trap(XMLVendClientError)
            raise UpstreamUnavailable(f"utility {self.name}: {failure.value}")

        d.addCallbacks(answer, unreachable)
        return d

    def confirm_meter(self, query: MeterQuery) -> Deferred:
        request = messages.confirm_customer_request(self.route, self._next_msg_id(), query)
        d = self._ask(request)
        d.addCallback(self._expect, r.ConfirmCustomerResp)
        d.addCallback(lambda resp: self._readable(messages.meter_info, resp, query, self._money))
        return d

    def trial_vend(self, principal: Principal, purchase: Purchase) -> Deferred:
        request = messages.credit_vend_request(
            self.route, self._next_msg_id(), purchase, trial=True
        )
        d = self._ask(request)
        d.addCallback(self._expect, r.CreditVendResp)
        d.addCallback(
            lambda resp: self._readable(messages.vend_result, resp, purchase, self._money)
        )
        return d

    def verify_token(self, query: MeterQuery, token: str) -> Deferred:
        """-> VerifyResult: the utility that issued the token verifies it."""
        request = messages.verify_request(self.route, self._next_msg_id(), query, token)
        d = self._ask(request)
        d.addCallback(self._expect, r.VerifyResp)
        d.addCallback(
            lambda resp: self._readable(messages.verify_result, resp, query, token, self._money)
        )
        return d

    @staticmethod
    def _expect(response: Any, cls: type) -> Any:
        if not isinstance(response, cls):
            raise UpstreamFault("SystemEx", f"utility answered {type(response).__name__}")
        return response

    @staticmethod
    def _readable(fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except messages.UnusableResponse as exc:
            raise UpstreamFault("SystemEx", f"utility answer unusable: {exc}") from None

    # --- credit vend ------------------------------------------------------------------------

    def credit_vend(
        self, ctx: RequestContext, purchase: Purchase, renderer: ResponseRenderer
    ) -> Deferred:
        """-> Processed once the vend is definitive (see the module docstring)."""
        now = self._clock()
        d = self._runner.run("upstream_hold", self._hold, ctx, purchase, now)

        def held(outcome: Processed | _Held) -> Any:
            if isinstance(outcome, Processed):
                return outcome
            state = self._inflight.setdefault(outcome.row_id, _InFlight())
            state.request, state.renderer, state.purchase = ctx.request, renderer, purchase
            waiter: Deferred = Deferred()
            state.waiters.append(waiter)
            self._send_vend(outcome, purchase)
            return waiter

        d.addCallback(held)
        return d

    def _hold(
        self, txn: Txn, ctx: RequestContext, purchase: Purchase, now: datetime
    ) -> Processed | _Held:
        key = ctx.key
        claimed = claim_request(
            txn,
            self._keyring,
            channel=key.channel,
            client_id=key.client_id,
            request_id=key.request_id,
            operation=key.operation,
            fingerprint=key.fingerprint,
            now=now,
        )
        if isinstance(claimed, StoredResponse):
            return Processed(claimed, replayed=True)
        principal = ctx.principal
        revalidate(txn, principal)
        msno = check_meter_number(purchase.meter.msno)
        if purchase.amount is None:
            raise InsufficientMeterData("vends through a utility's server are by amount")
        product = get_product(txn, purchase.product_code or self._product_code)
        pricing = price_sale(
            product,
            purchase.amount,
            commission_bp=vendor_commission_bp(txn, principal.vendor_id, product),
        )
        order = ctx.sale_order(product, pricing, msno, route=self.name)
        held = hold_sale(txn, claimed, order, created_by=f"vendor:{principal.client_id}", now=now)
        message_id = messages.msg_id(now, claimed.request_pk)
        data_key, blob = self._keyring.encrypt(txn, ctx.request_body, aad=_aad(claimed.request_pk))
        row_id = txn.execute(
            insert(upstream_vends)
            .values(
                request_pk=claimed.request_pk,
                sale_id=held.sale.id,
                route=self.name,
                msno=msno,
                upstream_date_time=message_id.date_time,
                upstream_unique_number=message_id.unique_number,
                data_key_id=data_key,
                request_body=blob,
                state="pending",
                attempts=0,
                next_attempt_at=now + self._first_advice_delay(),
                created_at=now,
            )
            .returning(upstream_vends.c.id)
        ).scalar_one()
        return _Held(row_id, claimed, message_id)

    def _first_advice_delay(self) -> timedelta:
        return timedelta(seconds=self.route.timeout_seconds + 1.0)

    def _send_vend(self, held: _Held, purchase: Purchase) -> None:
        request = messages.credit_vend_request(self.route, held.msg_id, purchase)
        self._busy.add(held.row_id)
        d = self._client.call(request)

        def answered(response: Any) -> Deferred | None:
            self._busy.discard(held.row_id)
            return self._conclude(held.row_id, response, from_advice=False)

        def failed(failure: Failure) -> Deferred | None:
            self._busy.discard(held.row_id)
            if failure.check(XMLVendClientError) and not failure.value.may_have_been_processed:
                error = UpstreamUnavailable(f"utility {self.name} unreachable: {failure.value}")
                return self._finish_failed(held.row_id, error, reversal=False)
            log.warning("upstream vend %s: outcome unknown (%s)", held.row_id, failure.value)
            self._schedule(held.row_id, self.route.timeout_seconds + 1.0)
            return None

        d.addCallbacks(answered, failed)
        d.addErrback(self._log_failure, held.row_id)

    def _log_failure(self, failure: Failure, row_id: int) -> None:
        log.error("upstream vend %s: %s", row_id, failure.getTraceback())
        self._schedule(row_id, self._poll_seconds)

    # --- outcomes ---------------------------------------------------------------------------

    def _conclude(self, row_id: int, response: Any, *, from_advice: bool) -> Deferred | None:
        """Act on an answer to the vend (or on the original response an advice replayed)."""
        if isinstance(response, SoapFault):
            if messages.is_uncertain(response):
                self._schedule(row_id, self._poll_seconds)
                return None
            return self._finish_failed(row_id, messages.fault_error(response), reversal=False)
        if isinstance(response, b.XMLVendFaultResp):  # a replayed fault
            fault = response.fault
            name = type(fault).__name__ if fault is not None else "SystemEx"
            desc = fault.desc if fault is not None else ""
            return self._finish_failed(row_id, UpstreamFault(name, desc), reversal=False)
        if not isinstance(response, r.CreditVendResp):
            error = UpstreamFault("SystemEx", f"utility answered {type(response).__name__}")
            return self._finish_failed(row_id, error, reversal=True)
        state = self._inflight.get(row_id)
        purchase = state.purchase if state else None
        d = (
            self._runner.run("upstream_purchase", self._purchase_of, row_id)
            if purchase is None
            else None
        )
        if d is None:
            return self._settle_with(row_id, response, purchase)  # type: ignore[arg-type]
        d.addCallback(lambda p: self._settle_with(row_id, response, p))
        return d

    def _settle_with(self, row_id: int, response: r.CreditVendResp, purchase: Purchase) -> Any:
        try:
            result = messages.vend_result(response, purchase, self._money)
        except messages.UnusableResponse as exc:
            error = UpstreamFault("SystemEx", f"utility answer unusable: {exc}")
            return self._finish_failed(row_id, error, reversal=True)
        return self._finish(row_id, "upstream_settle", self._settle, result)

    def _finish_failed(self, row_id: int, error: Exception, *, reversal: bool) -> Deferred:
        return self._finish(row_id, "upstream_fail", self._fail, error, reversal)

    def _finish(self, row_id: int, desc: str, fn: Any, *args: Any) -> Deferred:
        d = self._request_and_renderer(row_id)
        d.addCallback(lambda rr: self._runner.run(desc, fn, row_id, rr[0], rr[1], *args))

        def done(processed: Processed | Failure) -> Any:
            state = self._inflight.pop(row_id, None)
            if isinstance(processed, Failure):
                log.error("upstream vend %s: %s", row_id, processed.getTraceback())
                self._schedule(row_id, self._poll_seconds)
                if state is not None:
                    self._inflight[row_id] = state
                return None
            for waiter in state.waiters if state else ():
                waiter.callback(processed)
            if desc == "upstream_fail" and args[-1]:
                self._send_reversal(row_id)
            return processed

        d.addBoth(done)
        return d

    def _request_and_renderer(self, row_id: int) -> Deferred:
        state = self._inflight.get(row_id)
        if state is not None and state.renderer is not None:
            from twisted.internet.defer import succeed

            return succeed((state.request, state.renderer))
        d = self._runner.run("upstream_load_request", self._load_request, row_id)

        def loaded(found: tuple[str, bytes]) -> tuple[Any, ResponseRenderer]:
            channel, body = found
            renderer = self._renderer_for(channel)
            return renderer.load(body), renderer

        d.addCallback(loaded)
        return d

    def _renderer_for(self, channel: str) -> ResponseRenderer:
        renderers = self._renderers
        if renderers is None:
            raise RuntimeError("the upstream recovery was not started with a renderer")
        if isinstance(renderers, Mapping):
            return renderers[channel]
        return renderers

    def _load_request(self, txn: Txn, row_id: int) -> tuple[str, bytes]:
        row = txn.execute(
            select(
                upstream_vends.c.request_pk,
                upstream_vends.c.data_key_id,
                upstream_vends.c.request_body,
                requests.c.channel,
            )
            .join(requests, requests.c.id == upstream_vends.c.request_pk)
            .where(upstream_vends.c.id == row_id)
        ).one()
        body = self._keyring.decrypt(
            txn, row.data_key_id, bytes(row.request_body), aad=_aad(row.request_pk)
        )
        return row.channel, body

    def _purchase_of(self, txn: Txn, row_id: int) -> Purchase:
        row = txn.execute(
            select(upstream_vends.c.msno, upstream_vends.c.sale_id).where(
                upstream_vends.c.id == row_id
            )
        ).one()
        sale = get_sale(txn, row.sale_id)
        return Purchase(MeterQuery(row.msno), amount=sale.amount)

    # --- the two closing transactions -------------------------------------------------------

    def _row_and_claim(self, txn: Txn, row_id: int) -> tuple[Any, Claim]:
        row = txn.execute(
            select(upstream_vends, requests.c.client_id, requests.c.request_id)
            .join(requests, requests.c.id == upstream_vends.c.request_pk)
            .where(upstream_vends.c.id == row_id)
        ).one()
        return row, Claim(row.request_pk, row.client_id, row.request_id)

    def _stored(self, txn: Txn, claim: Claim) -> Processed:
        found = find_request(
            txn, self._keyring, client_id=claim.client_id, request_id=claim.request_id
        )
        assert found is not None and found.response is not None
        return Processed(found.response, replayed=True)

    def _vendor_available(self, txn: Txn, vendor_id: int) -> Money:
        """The vendor's available credit (balance + credit limit) for availCredit."""
        return available_credit(txn, vendor_id)

    def _close(self, txn: Txn, row_id: int, state: str, **values: Any) -> bool:
        now = self._clock()
        result = txn.execute(
            update(upstream_vends)
            .where(upstream_vends.c.id == row_id, upstream_vends.c.state == "pending")
            .values(state=state, completed_at=now, **values)
        )
        return result.rowcount == 1

    def _settle(
        self,
        txn: Txn,
        row_id: int,
        request: Any,
        renderer: ResponseRenderer,
        result: CreditVendResult,
    ) -> Processed:
        row, claim = self._row_and_claim(txn, row_id)
        if not self._close(txn, row_id, "settled"):
            return self._stored(txn, claim)
        now = self._clock()
        sale = settle_sale(
            txn,
            row.sale_id,
            external_ref=result.utility_receipt_no,
            details={
                "units": str(result.token.units),
                "utility_receipt_no": result.utility_receipt_no,
            },
            now=now,
        )
        available = self._vendor_available(txn, sale.vendor_id)
        response = renderer.vend(request, result, sale, available)
        store_response(
            txn, self._keyring, claim, response.body, http_status=response.http_status, now=now
        )
        return Processed(response, replayed=False)

    def _fail(
        self,
        txn: Txn,
        row_id: int,
        request: Any,
        renderer: ResponseRenderer,
        error: Exception,
        reversal: bool,
    ) -> Processed:
        row, claim = self._row_and_claim(txn, row_id)
        if not self._close(txn, row_id, "failed", reversal="needed" if reversal else None):
            return self._stored(txn, claim)
        now = self._clock()
        fail_sale(txn, row.sale_id, reason=str(error)[:200], now=now)
        response = renderer.failure(request, error)
        store_response(
            txn, self._keyring, claim, response.body, http_status=response.http_status, now=now
        )
        if reversal:
            outbox.notify(
                txn,
                kind="upstream.reversal_needed",
                subject=f"{self.name}: vend {row.upstream_date_time}/{row.upstream_unique_number}",
                payload={"msno": row.msno, "sale_id": row.sale_id, "reason": str(error)[:200]},
                now=now,
            )
        return Processed(response, replayed=False)

    # --- recovery ---------------------------------------------------------------------------

    def start(self, renderers: ResponseRenderer | Mapping[str, ResponseRenderer]) -> None:
        self._renderers = renderers
        if self._loop is None:
            self._loop = LoopingCall(self.poll)
            self._loop.clock = self._reactor  # type: ignore[assignment]
            self._loop.start(self._poll_seconds, now=True).addErrback(
                lambda f: log.error("upstream poll loop stopped: %s", f.getTraceback())
            )

    def stop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None

    def poll(self) -> Deferred:
        """Look at every due row of this route once (also what a restart resumes)."""
        d = self._runner.run("upstream_due", self._due, self._clock())

        def each(rows: list[tuple[int, str, str | None]]) -> None:
            for row_id, state, reversal in rows:
                if row_id in self._busy:
                    continue
                if state == "pending":
                    self._attempt(row_id)
                elif reversal == "needed":
                    self._send_reversal(row_id)

        d.addCallback(each)
        d.addErrback(lambda f: log.error("upstream poll: %s", f.getTraceback()))
        return d

    def _due(self, txn: Txn, now: datetime) -> list[tuple[int, str, str | None]]:
        rows = txn.execute(
            select(upstream_vends.c.id, upstream_vends.c.state, upstream_vends.c.reversal)
            .where(
                upstream_vends.c.route == self.name,
                upstream_vends.c.next_attempt_at <= now,
                (upstream_vends.c.state == "pending") | (upstream_vends.c.reversal == "needed"),
            )
            .order_by(upstream_vends.c.next_attempt_at)
            .limit(100)
        )
        return [(row.id, row.state, row.reversal) for row in rows]

    def _schedule(self, row_id: int, seconds: float) -> None:
        self._reactor.callLater(seconds, self._attempt, row_id)  # type: ignore[attr-defined]

    def _lease(self, txn: Txn, row_id: int, now: datetime) -> dict[str, Any] | None:
        """Take the next attempt at a pending row (one process at a time), or None."""
        row = txn.execute(select(upstream_vends).where(upstream_vends.c.id == row_id)).first()
        if row is None or row.state != "pending":
            return None
        delay = min(self._max_delay, 2.0 ** min(row.attempts, 16))
        result = txn.execute(
            update(upstream_vends)
            .where(upstream_vends.c.id == row_id, upstream_vends.c.attempts == row.attempts)
            .values(attempts=row.attempts + 1, next_attempt_at=now + timedelta(seconds=delay))
        )
        if result.rowcount != 1:
            return None
        return {
            "msg_id": b.MsgID(
                date_time=row.upstream_date_time, unique_number=row.upstream_unique_number
            ),
            "age": (now - row.created_at).total_seconds(),
        }

    def _attempt(self, row_id: int) -> None:
        if row_id in self._busy:
            return
        self._busy.add(row_id)
        d = self._runner.run("upstream_lease", self._lease, row_id, self._clock())

        def leased(lease: dict[str, Any] | None) -> Any:
            if lease is None:
                self._busy.discard(row_id)
                return self._resolve_elsewhere(row_id)
            if lease["age"] > self._give_up:
                self._busy.discard(row_id)
                error = UpstreamUnavailable(f"utility {self.name}: no answer, recovery gave up")
                return self._finish_failed(row_id, error, reversal=True)
            advice = messages.last_response_advice(self.route, self._next_msg_id(), lease["msg_id"])
            call = self._client.call(advice)
            call.addBoth(self._advice_answered, row_id, lease["age"])
            return call

        d.addCallback(leased)
        d.addErrback(self._log_failure, row_id)

    def _advice_answered(self, response: Any, row_id: int, age: float) -> Any:
        self._busy.discard(row_id)
        if isinstance(response, Failure):
            log.info("advice for upstream vend %s: %s", row_id, response.value)
            return None  # the lease's next_attempt_at brings the poll back
        if isinstance(response, b.LastRespAdviceResp):
            original = response.last_response
            if original is None:
                return None
            return self._conclude(row_id, original, from_advice=True)
        if isinstance(response, SoapFault):
            if response.fault_class == "LastResponseEx":
                if age < 3 * self.route.timeout_seconds:
                    return None  # maybe still on its way: ask again later
                error = UpstreamFault("SystemEx", f"utility {self.name} has no such vend")
                return self._finish_failed(row_id, error, reversal=False)
            return None  # in progress, busy, system errors: ask again later
        return None

    def _resolve_elsewhere(self, row_id: int) -> Any:
        """A row closed by another process (or earlier): answer our waiters from the store."""
        state = self._inflight.get(row_id)
        if state is None or not state.waiters:
            return None

        def stored(txn: Txn) -> Processed | None:
            row, claim = self._row_and_claim(txn, row_id)
            if row.state == "pending":
                return None
            return self._stored(txn, claim)

        d = self._runner.run("upstream_stored", stored)

        def deliver(processed: Processed | None) -> None:
            if processed is None:
                return
            done = self._inflight.pop(row_id, None)
            for waiter in done.waiters if done else ():
                waiter.callback(processed)

        d.addCallback(deliver)
        return d

    # --- reversal advice --------------------------------------------------------------------

    def _send_reversal(self, row_id: int) -> None:
        if row_id in self._busy:
            return
        self._busy.add(row_id)

        def lease(txn: Txn) -> b.MsgID | None:
            row = txn.execute(select(upstream_vends).where(upstream_vends.c.id == row_id)).one()
            if row.reversal != "needed":
                return None
            delay = min(self._max_delay, 2.0 ** min(row.attempts, 16))
            txn.execute(
                update(upstream_vends)
                .where(upstream_vends.c.id == row_id)
                .values(
                    attempts=row.attempts + 1,
                    next_attempt_at=self._clock() + timedelta(seconds=delay),
                )
            )
            return b.MsgID(
                date_time=row.upstream_date_time, unique_number=row.upstream_unique_number
            )

        def send(original: b.MsgID | None) -> Any:
            if original is None:
                return None
            advice = messages.reversal_advice(self.route, self._next_msg_id(), original)
            return self._client.call(advice).addBoth(record)

        def record(response: Any) -> Any:
            if isinstance(response, Failure):
                return None  # retried by the poll loop
            if isinstance(response, b.ReversalAdviceResp):
                outcome = "reversed" if response.tx_reversed else "refused"
            elif isinstance(response, SoapFault) and response.fault_class == "ReversalEx":
                outcome = "refused"
            else:
                return None
            return self._runner.run("upstream_reversal", self._record_reversal, row_id, outcome)

        d = self._runner.run("upstream_reversal_lease", lease)
        d.addCallback(send)
        d.addBoth(lambda result: self._busy.discard(row_id) or result)
        d.addErrback(lambda f: log.error("reversal %s: %s", row_id, f.getTraceback()))

    def _record_reversal(self, txn: Txn, row_id: int, outcome: str) -> None:
        txn.execute(
            update(upstream_vends)
            .where(upstream_vends.c.id == row_id, upstream_vends.c.reversal == "needed")
            .values(reversal=outcome)
        )
        if outcome == "refused":
            outbox.notify(
                txn,
                kind="upstream.reversal_refused",
                subject=f"{self.name}: upstream vend {row_id}",
                payload={"row": row_id, "action": "reconcile with the utility by hand"},
                now=self._clock(),
            )
