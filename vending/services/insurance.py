"""Insurance for every channel (issue 14 §5): a quote from the insurer, then the policy
issued through :class:`catalogue.fulfilment.Fulfilment` like every provider sale (the
premium held in suspense; SUCCESS settles it with the policy number and the document
reference; PENDING/UNKNOWN resolve by callback or status poll; only a final FAILED
refunds). Premiums of existing policies are bill payments (``services.bills``, category
``Insurance``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from catalogue import insurance
from catalogue.errors import ProviderError
from catalogue.fulfilment import NO_ANSWER, Fulfilment, Prepared, first_answer
from catalogue.interface import InsuranceQuote
from catalogue.orders import ProviderSale
from catalogue.routing import route
from vending.auth import Principal, revalidate
from vending.errors import InvalidRequest
from vending.money import Money
from vending.products import get_product
from vending.services.context import Clock, RequestContext, TxnRunner
from vending.services.rendering import ChannelRenderer
from vending.services.results import Outcome
from vending.storage.database import Txn


@dataclass(frozen=True)
class QuoteRequest:
    principal: Principal
    plan: str  # our product code, INS-...
    sum_insured: Money
    dob: str
    term_years: int


@dataclass(frozen=True)
class IssueRequest:
    """Issue the policy of ``quote_id`` for ``premium`` (the quote's) to the holder."""

    ctx: RequestContext
    plan: str
    quote_id: str
    premium: Money
    holder: str
    dob: str
    mobile: str


class InsuranceSales:
    def __init__(self, runner: TxnRunner, fulfilment: Fulfilment, clock: Clock) -> None:
        self._runner = runner
        self._fulfilment = fulfilment
        self._clock = clock

    async def quote(self, request: QuoteRequest) -> InsuranceQuote:
        now = self._clock()
        insurance.check_plan(request.plan, request.term_years)
        holder = insurance.check_holder("Quote Holder", request.dob, "9000000000", now.date())
        if request.sum_insured.amount <= 0:
            raise InvalidRequest("the sum insured must be positive")

        def candidates(txn: Txn) -> list[tuple[str, str]]:
            revalidate(txn, request.principal)
            product = get_product(txn, request.plan)
            ranked = route(txn, product.id, product.code, self._fulfilment.policy.routing, now)
            return [(c.provider, c.provider_code) for c in ranked]

        age = insurance.age_on(holder.dob, now.date())
        answer = await first_answer(
            self._fulfilment.clients,
            await self._runner.run("insurance_quote_route", candidates),
            "quote",
            lambda client, code: client.quote(code, request.sum_insured, age, request.term_years),
        )
        if isinstance(answer, str):
            raise InvalidRequest(f"the insurer gives no quote: {answer}")
        if answer is not NO_ANSWER:
            return InsuranceQuote(
                answer.quote_id, request.plan, answer.premium, answer.sum_insured,
                answer.valid_minutes,
            )  # fmt: skip
        raise ProviderError(f"no insurer answered a quote for {request.plan}")

    async def issue(self, request: IssueRequest, renderer: ChannelRenderer) -> Outcome:
        def prepare(txn: Txn, now: datetime) -> Prepared:
            holder = insurance.check_holder(request.holder, request.dob, request.mobile, now.date())
            product = get_product(txn, request.plan)
            if request.premium.amount <= 0 or not request.quote_id.strip():
                raise InvalidRequest("give the quote's id and premium")
            return Prepared(
                product=product,
                service="insurance",
                target=holder.mobile,
                amount=request.premium,
                params={
                    "plan": request.plan,
                    "quote_id": request.quote_id.strip()[:32],
                    "holder": holder.name,
                    "dob": holder.dob.isoformat(),
                },
            )

        return await self._fulfilment.sell(request.ctx, prepare, renderer)

    async def status(self, principal: Principal, order_id: str) -> ProviderSale:
        return await self._fulfilment.status_for(
            principal.vendor_id, order_id, "insurance", "policy order"
        )


__all__ = ["InsuranceSales", "IssueRequest", "QuoteRequest"]
