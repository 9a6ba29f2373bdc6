"""The utility service: one :class:`~utilities.interface.UtilityService` over both routes.

A meter is served by our embedded engine or by a utility's own XMLVend server
(``utilities.routes`` in the config), chosen per meter:

1. a route whose ``sgc`` is the meter's supply group (as the request gives it, else as
   registered) -> that utility;
2. a registered meter -> embedded (unless ``default_backend = "upstream"``);
3. an unknown meter -> the ``sgc = "*"`` route when there is one, else embedded (which
   answers UnknownMeter).

All database work runs as named transaction functions through the injected
:class:`~utilities.interface.TxnRunner`; waiting (demo "slow" meters, upstream calls) uses
the injected reactor, never a sleeping thread.

Errors (Deferred errbacks) per operation, besides the core's (InsufficientFunds,
AmountOutOfRange, InvalidAmount, UnknownProduct, VendorBlocked, OperatorBlocked,
CredentialsChanged, IdempotencyConflict, RequestInProgress):

* every meter operation: MeterNumberCheckDigit, UnknownMeter, MeterBlocked,
  MeterDataInvalid, InsufficientMeterData (partial key data), SGCNotAuthorised;
* credit_vend / trial_vend / fbe / free_issue / meter_credit_transfer: KeyRevisionExpired
  (key change needed with auto key change off, or the TID base date is over);
  fbe: NotFBEEligible, FBEAlreadyIssued;
* update_meter_key: UnknownMeterForKeyUpdate, InsufficientMeterData, KeyAlreadyCurrent;
* meter_specific_engineering key_change: KeyAlreadyCurrent, MeterDataInvalid;
* verify_token: TokenNotVerifiable; pay_account: NoDebt, ServiceChargeNotDue;
* upstream route: UpstreamUnavailable, UpstreamFault (the utility's fault class),
  OperationNotSupported (operations the upstream route does not offer).

On the upstream route a credit vend whose outcome is unknown (timeout, dropped connection)
is recovered in the background with last-response advices; the Deferred fires when the
vend is definitive (settled or failed and refunded) - the protocol layer answers "delayed"
at its own deadline meanwhile and the stored response is there for the client's
last-response advice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater
from twisted.python.failure import Failure

from utilities.embedded import EmbeddedBackend, EmbeddedSettings, SlowMeter
from utilities.errors import UnknownMeter
from utilities.interface import (
    AccountPayment,
    CreditTransfer,
    EngineeringRequest,
    MeterQuery,
    Purchase,
    RequestContext,
    ResponseRenderer,
    TxnRunner,
    UtilityInfo,
)
from utilities.registry import check_meter_number, find_meter
from vending.auth import Principal
from vending.clock import Clock
from vending.config import Config, UpstreamRoute
from vending.keyring import Keyring
from vending.requests import (
    Claim,
    Processed,
    StoredResponse,
    claim_request,
    find_request,
    store_response,
)
from vending.storage.database import Txn

log = logging.getLogger("evd.utilities")


@dataclass(frozen=True)
class Routing:
    """Which upstream route (if any) serves a meter; see the module docstring."""

    routes: tuple[UpstreamRoute, ...] = ()
    default_backend: str = "embedded"

    def route_for(self, sgc: str | None, registered: bool) -> UpstreamRoute | None:
        if sgc is not None:
            for route in self.routes:
                if route.sgc == sgc:
                    return route
        wildcard = next((r for r in self.routes if r.sgc == "*"), None)
        if registered and self.default_backend == "embedded":
            return None
        return wildcard

    def lookup(self, txn: Txn, query: MeterQuery) -> UpstreamRoute | None:
        """Transaction function: the route of ``query``'s meter (None = embedded)."""
        number = check_meter_number(query.msno) if query.msno else query.msno
        meter = find_meter(txn, number)
        sgc = query.sgc or (meter.sgc if meter is not None else None)
        return self.route_for(sgc, meter is not None)


class UtilityServiceImpl:
    """The utility side behind one interface (see the module docstring)."""

    def __init__(
        self,
        runner: TxnRunner,
        keyring: Keyring,
        embedded: EmbeddedBackend,
        *,
        reactor: IReactorTime,
        routing: Routing | None = None,
        upstreams: Mapping[str, Any] | None = None,
        clock: Clock,
    ) -> None:
        self._runner = runner
        self._keyring = keyring
        self.embedded = embedded
        self._reactor = reactor
        self._routing = routing or Routing()
        self.upstreams = dict(upstreams or {})
        self._clock = clock

    # --- routing ----------------------------------------------------------------------------

    def _route(self, query: MeterQuery) -> Deferred:
        if not self._routing.routes:
            return succeed(None)
        return self._runner.run("utility_route", self._routing.lookup, query)

    def _dispatch(
        self,
        query: MeterQuery,
        embedded: Callable[[], Deferred],
        upstream: Callable[[Any], Deferred],
    ) -> Deferred:
        d = self._route(query)

        def go(route: UpstreamRoute | None) -> Deferred:
            if route is None:
                return embedded()
            return upstream(self.upstreams[route.route_name])

        d.addCallback(go)
        return d

    def _run(self, desc: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Deferred:
        return self._runner.run(desc, fn, *args, now=self._clock(), **kwargs)

    # --- read-only --------------------------------------------------------------------------

    def confirm_meter(self, meter: MeterQuery) -> Deferred:
        """-> MeterInfo (a blocked meter comes back with can_vend false)."""
        return self._dispatch(
            meter,
            lambda: self._run("utility_confirm_meter", self.embedded.confirm_meter, meter),
            lambda upstream: upstream.confirm_meter(meter),
        )

    def trial_vend(self, principal: Principal, purchase: Purchase) -> Deferred:
        """-> CreditVendResult with all-zero tokens; nothing stored, no money moves."""
        return self._dispatch(
            purchase.meter,
            lambda: self._run("utility_trial_vend", self.embedded.trial_vend, principal, purchase),
            lambda upstream: upstream.trial_vend(principal, purchase),
        )

    def verify_token(self, principal: Principal, meter: MeterQuery, token: str) -> Deferred:
        """-> VerifyResult for a token we issued to ``meter``."""
        return self._dispatch(
            meter,
            lambda: self._runner.run(
                "utility_verify_token", self.embedded.verify_token, principal, meter, token
            ),
            lambda upstream: upstream.verify_token(meter, token),
        )

    def non_meter_specific_engineering(
        self, principal: Principal, kind: str, at: str = "07", tt: str = "02"
    ) -> Deferred:
        """-> EngineeringToken with one class 1 test/display token (no state, no meter)."""
        try:
            return succeed(self.embedded.non_meter_specific_engineering(kind, at, tt))
        except Exception:
            from twisted.internet.defer import fail

            return fail()

    # --- state-changing ---------------------------------------------------------------------

    def credit_vend(
        self, ctx: RequestContext, purchase: Purchase, renderer: ResponseRenderer
    ) -> Deferred:
        """-> Processed: the stored creditVend response (fresh or replayed)."""
        return self._dispatch(
            purchase.meter,
            lambda: self._embedded_credit_vend(ctx, purchase, renderer),
            lambda upstream: upstream.credit_vend(ctx, purchase, renderer),
        )

    def _embedded_credit_vend(
        self, ctx: RequestContext, purchase: Purchase, renderer: ResponseRenderer
    ) -> Deferred:
        d = self._run("utility_credit_vend", self.embedded.credit_vend, ctx, purchase, renderer)

        def slow(failure: Failure) -> Any:
            failure.trap(SlowMeter)
            return self._slow_credit_vend(ctx, purchase, renderer, failure.value.seconds)

        d.addErrback(slow)
        return d

    def _slow_credit_vend(
        self,
        ctx: RequestContext,
        purchase: Purchase,
        renderer: ResponseRenderer,
        seconds: float,
    ) -> Deferred:
        """A demo "slow" meter: claim the request now (so a last-response advice sees it in
        progress), vend after ``seconds``, and store either the vend or its failure."""
        d = self._runner.run("utility_claim", _claim, self._keyring, ctx, now=self._clock())

        def later(claimed: Claim | StoredResponse) -> Any:
            if isinstance(claimed, StoredResponse):
                return Processed(claimed, replayed=True)
            wait = deferLater(self._reactor, seconds, lambda: None)  # type: ignore[arg-type]
            wait.addCallback(lambda _: self._complete_claimed(ctx, purchase, renderer, claimed))
            return wait

        d.addCallback(later)
        return d

    def _complete_claimed(
        self, ctx: RequestContext, purchase: Purchase, renderer: ResponseRenderer, claim: Claim
    ) -> Deferred:
        d = self._run(
            "utility_credit_vend_claimed",
            self.embedded.credit_vend_claimed,
            ctx,
            purchase,
            renderer,
            claim,
        )

        def failed(failure: Failure) -> Deferred:
            log.info("delayed vend %s failed: %s", ctx.key.request_id, failure.value)
            return self._runner.run(
                "utility_store_failure",
                store_failure,
                self._keyring,
                claim,
                renderer.failure(ctx.request, failure.value),
                now=self._clock(),
            )

        d.addErrback(failed)
        return d

    def fbe(self, ctx: RequestContext, meter: MeterQuery, renderer: ResponseRenderer) -> Deferred:
        """-> Processed (fbeResp): this month's free basic electricity token."""
        return self._embedded_only(meter, "utility_fbe", self.embedded.fbe, ctx, meter, renderer)

    def free_issue(
        self, ctx: RequestContext, meter: MeterQuery, renderer: ResponseRenderer
    ) -> Deferred:
        """-> Processed (freeIssueResp): ``utilities.free_issue_units`` free units."""
        return self._embedded_only(
            meter, "utility_free_issue", self.embedded.free_issue, ctx, meter, renderer
        )

    def meter_credit_transfer(
        self, ctx: RequestContext, transfer: CreditTransfer, renderer: ResponseRenderer
    ) -> Deferred:
        """-> Processed (meterCreditTransferResp): the old meter's units on the new one."""
        return self._embedded_only(
            transfer.meter,
            "utility_meter_credit_transfer",
            self.embedded.meter_credit_transfer,
            ctx,
            transfer,
            renderer,
        )

    def update_meter_key(
        self, ctx: RequestContext, meter: MeterQuery, renderer: ResponseRenderer
    ) -> Deferred:
        """-> Processed (updateMeterKeyResp): key change from the given to the server's."""
        return self._embedded_only(
            meter, "utility_update_meter_key", self.embedded.update_meter_key, ctx, meter, renderer
        )

    def meter_specific_engineering(
        self, ctx: RequestContext, request: EngineeringRequest, renderer: ResponseRenderer
    ) -> Deferred:
        """-> Processed (meterSpecificEngResp of the request's kind)."""
        return self._embedded_only(
            request.meter,
            "utility_meter_engineering",
            self.embedded.meter_specific_engineering,
            ctx,
            request,
            renderer,
        )

    def pay_account(
        self, ctx: RequestContext, payment: AccountPayment, renderer: ResponseRenderer
    ) -> Deferred:
        """-> Processed (payAccResp): debt or service charge paid by the vendor."""
        return self._embedded_only(
            payment.meter,
            "utility_pay_account",
            self.embedded.pay_account,
            ctx,
            payment,
            renderer,
        )

    def _embedded_only(
        self, query: MeterQuery, desc: str, fn: Callable[..., Any], *args: Any
    ) -> Deferred:
        operation = desc.removeprefix("utility_")
        return self._dispatch(
            query,
            lambda: self._run(desc, fn, *args),
            lambda upstream: upstream.unsupported(operation),
        )

    # --- lifecycle --------------------------------------------------------------------------

    def start(self, renderers: ResponseRenderer | Mapping[str, ResponseRenderer]) -> None:
        """Start the upstream recovery loops (pending vends of earlier runs included).
        ``renderers``: one renderer, or one per request channel."""
        for upstream in self.upstreams.values():
            upstream.start(renderers)

    def stop(self) -> None:
        for upstream in self.upstreams.values():
            upstream.stop()


# --- transaction functions shared by the slow and upstream paths --------------------------------


def _claim(
    txn: Txn, keyring: Keyring, ctx: RequestContext, *, now: datetime
) -> Claim | StoredResponse:
    from vending.auth import revalidate

    revalidate(txn, ctx.principal)
    key = ctx.key
    return claim_request(
        txn,
        keyring,
        channel=key.channel,
        client_id=key.client_id,
        request_id=key.request_id,
        operation=key.operation,
        fingerprint=key.fingerprint,
        now=now,
    )


def store_failure(
    txn: Txn, keyring: Keyring, claim: Claim, response: StoredResponse, *, now: datetime
) -> Processed:
    """Store a failure response for a claimed request (unless one is stored already)."""
    existing = find_request(txn, keyring, client_id=claim.client_id, request_id=claim.request_id)
    if existing is not None and existing.response is not None:
        return Processed(existing.response, replayed=True)
    store_response(txn, keyring, claim, response.body, http_status=response.http_status, now=now)
    return Processed(response, replayed=False)


# --- construction ------------------------------------------------------------------------------


def embedded_settings(config: Config) -> EmbeddedSettings:
    utilities = config.utilities
    server = config.server
    return EmbeddedSettings(
        utility=UtilityInfo(
            name=server.utility_name, address=server.utility_address, tax_ref=server.utility_tax_ref
        ),
        auto_key_change=utilities.auto_key_change,
        fbe_with_sale=utilities.fbe_with_sale,
        timezone=utilities.timezone,
        free_issue_units=utilities.free_issue_units,
        default_credit_units=utilities.default_credit_units,
        manufacturer_code=utilities.manufacturer_code,
        product_code=utilities.product_code,
        test_behaviours=utilities.test_behaviours,
        # Past the server's deadline, so that the delayed path shows.
        slow_meter_seconds=server.deadline_seconds + 2.0,
    )


def build_utility_service(
    config: Config,
    runner: TxnRunner,
    keyring: Keyring,
    reactor: IReactorTime,
    *,
    clock: Clock,
) -> UtilityServiceImpl:
    """The service as ``evd serve`` (and ``evd simulate-utility``) run it."""
    embedded = EmbeddedBackend(keyring, embedded_settings(config))
    upstreams: dict[str, Any] = {}
    if config.utilities.routes:
        from utilities.upstream import UpstreamBackend

        for route in config.utilities.routes:
            upstreams[route.route_name] = UpstreamBackend.from_config(
                route, config, runner, keyring, reactor, clock=clock
            )
    return UtilityServiceImpl(
        runner,
        keyring,
        embedded,
        reactor=reactor,
        routing=Routing(config.utilities.routes, config.utilities.default_backend),
        upstreams=upstreams,
        clock=clock,
    )


__all__ = ["Routing", "UnknownMeter", "UtilityServiceImpl", "build_utility_service"]
