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

import functools
import logging
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.interfaces import IReactorTime

from utilities.embedded import EmbeddedBackend, EmbeddedSettings
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
from vending.requests import Claim, Processed, StoredResponse
from vending.services import idempotency
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


def _deferred(method: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Deferred]:
    """An ``async def`` method offered as a Deferred-returning one: the request path is
    written in one style (async/await); Twisted callers still get a Deferred."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Deferred:
        return ensureDeferred(method(*args, **kwargs))

    return wrapper


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

    async def _upstream_for(self, query: MeterQuery) -> Any | None:
        """The upstream backend serving ``query``'s meter, or None (our embedded engine)."""
        if not self._routing.routes:
            return None
        route = await self._runner.run("utility_route", self._routing.lookup, query)
        return None if route is None else self.upstreams[route.route_name]

    async def _run(self, desc: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await self._runner.run(desc, fn, *args, now=self._clock(), **kwargs)

    # --- read-only --------------------------------------------------------------------------

    @_deferred
    async def confirm_meter(self, meter: MeterQuery) -> Any:
        """-> MeterInfo (a blocked meter comes back with can_vend false)."""
        upstream = await self._upstream_for(meter)
        if upstream is not None:
            return await upstream.confirm_meter(meter)
        return await self._run("utility_confirm_meter", self.embedded.confirm_meter, meter)

    @_deferred
    async def trial_vend(self, principal: Principal, purchase: Purchase) -> Any:
        """-> CreditVendResult with all-zero tokens; nothing stored, no money moves."""
        upstream = await self._upstream_for(purchase.meter)
        if upstream is not None:
            return await upstream.trial_vend(principal, purchase)
        return await self._run("utility_trial_vend", self.embedded.trial_vend, principal, purchase)

    @_deferred
    async def verify_token(self, principal: Principal, meter: MeterQuery, token: str) -> Any:
        """-> VerifyResult for a token we issued to ``meter``."""
        upstream = await self._upstream_for(meter)
        if upstream is not None:
            return await upstream.verify_token(meter, token)
        return await self._runner.run(
            "utility_verify_token", self.embedded.verify_token, principal, meter, token
        )

    @_deferred
    async def non_meter_specific_engineering(
        self, principal: Principal, kind: str, at: str = "07", tt: str = "02"
    ) -> Any:
        """-> EngineeringToken with one class 1 test/display token (no state, no meter)."""
        return self.embedded.non_meter_specific_engineering(kind, at, tt)

    # --- state-changing ---------------------------------------------------------------------

    @_deferred
    async def credit_vend(
        self, ctx: RequestContext, purchase: Purchase, renderer: ResponseRenderer
    ) -> Processed:
        """-> Processed: the stored creditVend response (fresh or replayed)."""
        upstream = await self._upstream_for(purchase.meter)
        if upstream is not None:
            return await upstream.credit_vend(ctx, purchase, renderer)
        return await self._run(
            "utility_credit_vend", self.embedded.credit_vend, ctx, purchase, renderer
        )

    @_deferred
    async def complete_claimed(
        self, ctx: RequestContext, purchase: Purchase, renderer: ResponseRenderer, claim: Claim
    ) -> Processed:
        """The embedded vend of a request claimed earlier (two-phase: the demo slow meter):
        vend and store the answer, or store the failure's answer: either way it is final."""
        try:
            return await self._run(
                "utility_credit_vend_claimed",
                self.embedded.credit_vend_claimed,
                ctx,
                purchase,
                renderer,
                claim,
            )
        except Exception as error:
            log.info("delayed vend %s failed: %s", ctx.key.request_id, error)
            return await self._runner.run(
                "utility_store_failure",
                store_failure,
                self._keyring,
                claim,
                renderer.failure(ctx.request, error),
                now=self._clock(),
            )

    @_deferred
    async def fbe(
        self, ctx: RequestContext, meter: MeterQuery, renderer: ResponseRenderer
    ) -> Processed:
        """-> Processed (fbeResp): this month's free basic electricity token."""
        return await self._embedded_only(
            meter, "utility_fbe", self.embedded.fbe, ctx, meter, renderer
        )

    @_deferred
    async def free_issue(
        self, ctx: RequestContext, meter: MeterQuery, renderer: ResponseRenderer
    ) -> Processed:
        """-> Processed (freeIssueResp): ``utilities.free_issue_units`` free units."""
        return await self._embedded_only(
            meter, "utility_free_issue", self.embedded.free_issue, ctx, meter, renderer
        )

    @_deferred
    async def meter_credit_transfer(
        self, ctx: RequestContext, transfer: CreditTransfer, renderer: ResponseRenderer
    ) -> Processed:
        """-> Processed (meterCreditTransferResp): the old meter's units on the new one."""
        return await self._embedded_only(
            transfer.meter,
            "utility_meter_credit_transfer",
            self.embedded.meter_credit_transfer,
            ctx,
            transfer,
            renderer,
        )

    @_deferred
    async def update_meter_key(
        self, ctx: RequestContext, meter: MeterQuery, renderer: ResponseRenderer
    ) -> Processed:
        """-> Processed (updateMeterKeyResp): key change from the given to the server's."""
        return await self._embedded_only(
            meter, "utility_update_meter_key", self.embedded.update_meter_key, ctx, meter, renderer
        )

    @_deferred
    async def meter_specific_engineering(
        self, ctx: RequestContext, request: EngineeringRequest, renderer: ResponseRenderer
    ) -> Processed:
        """-> Processed (meterSpecificEngResp of the request's kind)."""
        return await self._embedded_only(
            request.meter,
            "utility_meter_engineering",
            self.embedded.meter_specific_engineering,
            ctx,
            request,
            renderer,
        )

    @_deferred
    async def pay_account(
        self, ctx: RequestContext, payment: AccountPayment, renderer: ResponseRenderer
    ) -> Processed:
        """-> Processed (payAccResp): debt or service charge paid by the vendor."""
        return await self._embedded_only(
            payment.meter,
            "utility_pay_account",
            self.embedded.pay_account,
            ctx,
            payment,
            renderer,
        )

    async def _embedded_only(
        self, query: MeterQuery, desc: str, fn: Callable[..., Any], *args: Any
    ) -> Any:
        upstream = await self._upstream_for(query)
        if upstream is not None:
            return await upstream.unsupported(desc.removeprefix("utility_"))
        return await self._run(desc, fn, *args)

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


def claim_keeping_body(txn: Txn, keyring: Keyring, ctx: RequestContext) -> Claim | StoredResponse:
    """Phase one of a two-phase request: claim and re-check now, keeping the request's body
    for recovery; :meth:`UtilityServiceImpl.complete_claimed` answers it."""
    return idempotency.claim(
        txn, keyring, ctx.key, ctx.principal, now=ctx.received_at, keep_body=ctx.body_to_keep()
    )


def store_failure(
    txn: Txn, keyring: Keyring, claim: Claim, response: StoredResponse, *, now: datetime
) -> Processed:
    """Store a failure response for a claimed request (unless one is stored already)."""
    return idempotency.complete(txn, keyring, claim, response, now=now)


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
    )


def build_utility_service(
    config: Config,
    runner: TxnRunner,
    keyring: Keyring,
    reactor: IReactorTime,
    *,
    clock: Clock,
    upstream_factory: Callable[..., Any] | None = None,
) -> UtilityServiceImpl:
    """The service as ``evd serve`` (and ``evd simulate-utility``) run it.
    ``upstream_factory(route, config, runner, keyring, reactor, clock=)`` builds the client
    of a utility's own server for each configured route (injected by the process composer:
    the XMLVend client adapter); routes without one cannot be served."""
    embedded = EmbeddedBackend(keyring, embedded_settings(config))
    upstreams: dict[str, Any] = {}
    if config.utilities.routes:
        if upstream_factory is None:
            raise ValueError("utilities.routes are configured but no upstream client is wired")
        for route in config.utilities.routes:
            upstreams[route.route_name] = upstream_factory(
                route, config, runner, keyring, reactor, clock=clock
            )
    service = UtilityServiceImpl(
        runner,
        keyring,
        embedded,
        reactor=reactor,
        routing=Routing(config.utilities.routes, config.utilities.default_backend),
        upstreams=upstreams,
        clock=clock,
    )
    if not config.utilities.test_behaviours:
        return service
    from utilities.demo_behaviours import DemoBehaviours

    return DemoBehaviours.from_config(config, service, runner, keyring, reactor)


__all__ = ["Routing", "UnknownMeter", "UtilityServiceImpl", "build_utility_service"]
