"""PIN-less recharge (mobile prepaid, DTH, data card) through providers, for every channel
(issue 14 §2): number lookup (operator, circle, ported), plans (cached with expiry),
the sale (:class:`catalogue.fulfilment.Fulfilment`: hold, execute with failover, pending
resolved by callback or status poll, refund only on a final FAILED) and its status."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from catalogue import recharge
from catalogue.errors import NoProviderAvailable, ProviderError
from catalogue.fulfilment import NO_ANSWER, Fulfilment, Prepared, first_answer
from catalogue.interface import Plan
from catalogue.orders import ProviderSale
from catalogue.routing import route
from vending.auth import Principal
from vending.errors import InvalidRequest
from vending.money import Money
from vending.products import get_product
from vending.services.context import Clock, RequestContext, TxnRunner
from vending.services.rendering import ChannelRenderer
from vending.services.results import Outcome
from vending.storage.database import Txn


@dataclass(frozen=True)
class RechargeRequest:
    """Recharge ``number`` (mobile number or DTH subscriber id) by ``amount``. Without an
    operator, a mobile number's operator and circle are looked up."""

    ctx: RequestContext
    number: str
    amount: Money
    operator: str | None = None
    circle: str | None = None
    plan_code: str | None = None
    # The operator's vending product instead of its code (XMLVend's ext:ProductIdentifier).
    product_code: str | None = None


class RechargeSales:
    def __init__(
        self,
        runner: TxnRunner,
        fulfilment: Fulfilment,
        clock: Clock,
        *,
        plans_ttl: timedelta = timedelta(hours=6),
    ) -> None:
        self._runner = runner
        self._fulfilment = fulfilment
        self._clock = clock
        self._plans_ttl = plans_ttl

    async def lookup(self, principal: Principal, number: str) -> recharge.NumberInfo:
        return await self._runner.run("recharge_lookup", recharge.lookup_number, number)

    async def operators(self) -> list[recharge.RechargeOperator]:
        return await self._runner.run("recharge_operators", recharge.list_operators)

    async def plans(self, principal: Principal, operator_code: str, circle: str) -> list[Plan]:
        """The operator's plans in the circle: from the cache, else from a provider."""
        now = self._clock()
        circle = recharge.check_circle(circle)

        def cached(txn: Txn) -> tuple[str, list[Plan] | None, list[tuple[str, str]]]:
            operator = recharge.get_operator(txn, operator_code)
            plans = recharge.cached_plans(txn, operator.code, circle, now)
            if plans is not None:
                return operator.code, plans, []
            product = get_product(txn, operator.product_code)
            ranked = route(txn, product.id, product.code, self._fulfilment.policy.routing, now)
            return operator.code, None, [(c.provider, c.provider_code) for c in ranked]

        code, plans, candidates = await self._runner.run("recharge_plans_cached", cached)
        if plans is not None:
            return plans
        fetched = await first_answer(
            self._fulfilment.clients, candidates, "plans",
            lambda client, provider_code: client.plans(provider_code, circle),
        )  # fmt: skip
        if fetched is not NO_ANSWER:
            await self._runner.run(
                "recharge_plans_store", recharge.store_plans, code, circle, fetched, now,
                self._plans_ttl,
            )  # fmt: skip
            return fetched
        raise ProviderError(f"no provider answered the plans of {code} in {circle}")

    async def sell(self, request: RechargeRequest, renderer: ChannelRenderer) -> Outcome:
        return await self._fulfilment.sell(request.ctx, self._prepare(request), renderer)

    async def sell_many(
        self, requests: list[RechargeRequest], renderer: ChannelRenderer
    ) -> list[Outcome | Exception]:
        """Many recharges of one caller (a bulk file's rows): each exactly as :meth:`sell`
        sells it, the holds and the settlements each in one transaction
        (:meth:`catalogue.fulfilment.Fulfilment.sell_many`); an error is that row's result."""
        items = [(request.ctx, self._prepare(request)) for request in requests]
        return await self._fulfilment.sell_many(items, renderer)

    def _prepare(self, request: RechargeRequest) -> Callable[[Txn, datetime], Prepared]:
        def prepare(txn: Txn, now: datetime) -> Prepared:
            operator_code = request.operator
            if operator_code is None and request.product_code is not None:
                operator_code = recharge.operator_for_product(txn, request.product_code).code
            if operator_code is None:
                info = recharge.lookup_number(txn, request.number)
                operator, circle, ported = info.operator, info.circle, info.ported
            else:
                operator = recharge.get_operator(txn, operator_code)
                circle = recharge.check_circle(request.circle) if request.circle else None
                ported = False
                if operator.service != "dth" and circle is None:
                    info = recharge.lookup_number(txn, request.number)
                    circle, ported = info.circle, info.ported
            target = recharge.validate_target(operator, request.number)
            if request.amount.amount <= 0:
                raise InvalidRequest("the amount must be positive")
            params = {"operator": operator.code, "service": operator.service, "ported": ported}
            if circle:
                params["circle"] = circle
            if request.plan_code:
                params["plan"] = request.plan_code[:20]
            return Prepared(
                product=get_product(txn, operator.product_code),
                service=operator.service,
                target=target,
                amount=request.amount,
                params=params,
            )

        return prepare

    async def status(self, principal: Principal, order_id: str) -> ProviderSale:
        return await self._fulfilment.status_for(principal.vendor_id, order_id, None, "order")


__all__ = ["NoProviderAvailable", "RechargeRequest", "RechargeSales"]
