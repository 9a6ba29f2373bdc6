"""The upstream backend: a utility's own XMLVend server vends, we are its client (the
XMLVend adapter implementing the utility side's backend interface, injected at wiring by
the process composer; its storage is :mod:`utilities.routed_sales`).

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

from twisted.internet.defer import Deferred, fail
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.python.failure import Failure
from twisted.web.iweb import IAgentEndpointFactory

from utilities.errors import (
    OperationNotSupported,
    UpstreamFault,
    UpstreamUnavailable,
)
from utilities.interface import (
    MeterQuery,
    Purchase,
    RequestContext,
    ResponseRenderer,
    TxnRunner,
)
from utilities.routed_sales import FAIL, HOLD, SETTLE, Held, RoutedSaleStore, UpstreamId
from vending.auth import Principal
from vending.clock import Clock
from vending.config import Config, ConfigError, UpstreamRoute
from vending.keyring import Keyring
from vending.requests import Processed
from xmlvend.client import ClientTLS, XMLVendClient, XMLVendClientError
from xmlvend.codec import types_base as b
from xmlvend.codec import types_revenue as r
from xmlvend.codec.faults import SoapFault
from xmlvend.upstream import messages

log = logging.getLogger("evd.utilities.upstream")  # the name operators grep for


@dataclass
class _InFlight:
    """What this process knows of a pending vend beyond the database row."""

    request: Any = None
    renderer: ResponseRenderer | None = None
    purchase: Purchase | None = None
    waiters: list[Deferred] = field(default_factory=list)


def _upstream_id(moment: datetime, request_pk: int) -> UpstreamId:
    """Our msgID at the utility for the request ``request_pk`` claimed at ``moment``."""
    message_id = messages.msg_id(moment, request_pk)
    return message_id.date_time, message_id.unique_number


def _msg_id(upstream_id: UpstreamId) -> b.MsgID:
    return b.MsgID(date_time=upstream_id[0], unique_number=upstream_id[1])


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
        self.store = RoutedSaleStore(
            keyring,
            self.name,
            product_code=product_code,
            clock=clock,
            max_delay_seconds=max_delay_seconds,
            # The first last-response advice: once the vend's own call has timed out.
            first_advice_delay=timedelta(seconds=route.timeout_seconds + 1.0),
        )

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
        endpoint_factory: IAgentEndpointFactory | None = None,
    ) -> UpstreamBackend:
        """The backend of ``route``; ``endpoint_factory`` (tests: an in-memory network to
        the simulator) replaces TCP/TLS to the route's URL."""
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
            endpoint_factory=endpoint_factory,
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
        d = self._runner.run(HOLD, self.store.hold, ctx, purchase, now, _upstream_id)

        def held(outcome: Processed | Held) -> Any:
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

    def _send_vend(self, held: Held, purchase: Purchase) -> None:
        request = messages.credit_vend_request(self.route, _msg_id(held.upstream_id), purchase)
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
            self._runner.run("upstream_purchase", self.store.purchase_of, row_id)
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
        return self._finish(row_id, SETTLE, self.store.settle, result)

    def _finish_failed(self, row_id: int, error: Exception, *, reversal: bool) -> Deferred:
        return self._finish(row_id, FAIL, self.store.fail, error, reversal)

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
            if desc == FAIL and args[-1]:
                self._send_reversal(row_id)
            return processed

        d.addBoth(done)
        return d

    def _request_and_renderer(self, row_id: int) -> Deferred:
        state = self._inflight.get(row_id)
        if state is not None and state.renderer is not None:
            from twisted.internet.defer import succeed

            return succeed((state.request, state.renderer))
        d = self._runner.run("upstream_load_request", self.store.load_request, row_id)

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
        d = self._runner.run("upstream_due", self.store.due, self._clock())

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

    def _schedule(self, row_id: int, seconds: float) -> None:
        self._reactor.callLater(seconds, self._attempt, row_id)  # type: ignore[attr-defined]

    def _attempt(self, row_id: int) -> None:
        if row_id in self._busy:
            return
        self._busy.add(row_id)
        d = self._runner.run("upstream_lease", self.store.lease, row_id, self._clock())

        def leased(lease: dict[str, Any] | None) -> Any:
            if lease is None:
                self._busy.discard(row_id)
                return self._resolve_elsewhere(row_id)
            if lease.age > self._give_up:
                self._busy.discard(row_id)
                error = UpstreamUnavailable(f"utility {self.name}: no answer, recovery gave up")
                return self._finish_failed(row_id, error, reversal=True)
            original = _msg_id(lease.upstream_id)
            advice = messages.last_response_advice(self.route, self._next_msg_id(), original)
            call = self._client.call(advice)
            call.addBoth(self._advice_answered, row_id, lease.age)
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

        d = self._runner.run("upstream_stored", self.store.stored_if_closed, row_id)

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

        def send(original: UpstreamId | None) -> Any:
            if original is None:
                return None
            advice = messages.reversal_advice(self.route, self._next_msg_id(), _msg_id(original))
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
            return self._runner.run(
                "upstream_reversal", self.store.record_reversal, row_id, outcome
            )

        d = self._runner.run("upstream_reversal_lease", self.store.reversal_lease, row_id)
        d.addCallback(send)
        d.addBoth(lambda result: self._busy.discard(row_id) or result)
        d.addErrback(lambda f: log.error("reversal %s: %s", row_id, f.getTraceback()))
