"""Bills, money transfer and insurance over XMLVend (docs/EXTENSION-NAMESPACE.md, issue 14
section 7): translate our extension forms into the application services' requests, the same
services the JSON API sells them through.

* ``ext:billFetchReq`` -> :meth:`BillPayments.fetch` -> ``ext:billFetchResp`` (read-only:
  the endpoint keeps the answer under the request key like any read-only answer).
* ``ext:insuranceQuoteReq`` -> :meth:`InsuranceSales.quote` -> ``ext:insuranceQuoteResp``.
* ``r:creditVendReq`` whose ``b:meterIdentifier`` is ``ext:BillIdentifier``,
  ``ext:BeneficiaryIdentifier`` or ``ext:PolicyIdentifier`` -> the service's sale through
  :class:`catalogue.fulfilment.Fulfilment`, which claims the request key, holds the money,
  and stores the answer the renderer gives (``provider_sale``): success, refused and
  refunded, or pending (``ext:TransactionDelayedEx``, the final answer by a retry or a
  last-response advice).

A trial vend of these is refused (UseCaseSupportEx): what a merchant may learn before paying
is what the fetch and the quote answer, and neither sells anything.
"""

from __future__ import annotations

from typing import TypeVar

from vending.errors import InvalidRequest
from vending.money import Money
from vending.services.bill_payments import BillFetchRequest, BillPaymentRequest
from vending.services.insurance import IssueRequest, QuoteRequest
from vending.services.money_transfers import TransferRequest
from xmlvend.codec import types_ext as ext
from xmlvend.codec import types_revenue as r
from xmlvend.server.errors import UseCaseNotSupported
from xmlvend.server.handlers.base import Call, Reply, Services

_BILLS = "bill payments"
_INSURANCE = "insurance"

Service = TypeVar("Service")

# The meter identifiers that make a creditVendReq one of these sales.
SALE_IDENTIFIERS = (ext.BillIdentifier, ext.BeneficiaryIdentifier, ext.PolicyIdentifier)


def is_provider_sale(request: r.AbstractCreditVendReq) -> bool:
    return isinstance(request.id_method.meter_identifier, SALE_IDENTIFIERS)


def refuse_trial(request: r.AbstractCreditVendReq) -> None:
    """A trial vend of a bill, transfer or policy: refused, pointing at what to ask."""
    identifier = request.id_method.meter_identifier
    if isinstance(identifier, ext.BillIdentifier):
        raise UseCaseNotSupported("no trial bill payment: ask ext:billFetchReq for the amount due")
    if isinstance(identifier, ext.PolicyIdentifier):
        raise UseCaseNotSupported("no trial policy issue: ask ext:insuranceQuoteReq for a premium")
    if isinstance(identifier, ext.BeneficiaryIdentifier):
        raise UseCaseNotSupported("no trial money transfer: the fee is on the receipt")


async def sell(services: Services, call: Call, request: r.CreditVendReq) -> Reply:
    """The creditVendReq of a bill payment, a money transfer or a policy issue."""
    identifier = request.id_method.meter_identifier
    amount = _amount(request, services)
    app = services.app
    if isinstance(identifier, ext.BillIdentifier):
        payment = BillPaymentRequest(
            call.context(),
            identifier.biller_id.strip(),
            amount,
            identifier.mobile.strip(),
            params=bill_params(identifier),
            ref_id=(identifier.ref_id or "").strip() or None,
        )
        return Reply.of(await offered(app.bills, _BILLS).pay(payment, services.renderer))
    if isinstance(identifier, ext.BeneficiaryIdentifier):
        transfer = TransferRequest(
            call.context(), identifier.sender.strip(), identifier.beneficiary_id, amount
        )
        transfers = offered(app.transfers, "money transfers")
        return Reply.of(await transfers.transfer(transfer, services.renderer))
    assert isinstance(identifier, ext.PolicyIdentifier)
    issue = IssueRequest(
        call.context(),
        identifier.plan.strip(),
        identifier.quote_id.strip(),
        amount,
        identifier.holder.strip(),
        identifier.dob.strip(),
        identifier.mobile.strip(),
    )
    return Reply.of(await offered(app.insurance, _INSURANCE).issue(issue, services.renderer))


async def bill_fetch(services: Services, call: Call) -> Reply:
    request = call.request
    assert isinstance(request, ext.BillFetchReq)
    bills = offered(services.app.bills, _BILLS)
    identifier = request.bill_identifier
    if identifier.ref_id:
        raise InvalidRequest("refId: a bill fetch gives one; only its payment quotes it")
    bill = await bills.fetch(
        BillFetchRequest(
            call.who, identifier.biller_id.strip(), bill_params(identifier), identifier.mobile
        )
    )
    return Reply(services.renderer.bill_fetch(request, bill))


async def insurance_quote(services: Services, call: Call) -> Reply:
    request = call.request
    assert isinstance(request, ext.InsuranceQuoteReq)
    insurance = offered(services.app.insurance, _INSURANCE)
    quote = await insurance.quote(
        QuoteRequest(
            call.who,
            request.plan.strip(),
            services.currencies.money(request.sum_insured),
            request.dob.strip(),
            request.term_years,
        )
    )
    return Reply(services.renderer.insurance_quote(request, quote))


def offered(service: Service | None, what: str) -> Service:
    """The application service, or UseCaseSupportEx when this server has none wired."""
    if service is None:
        raise UseCaseNotSupported(f"this server does not offer {what}: no provider is wired")
    return service


def bill_params(identifier: ext.BillIdentifier) -> dict[str, str]:
    """The customer parameters by name; a name given twice is refused."""
    params: dict[str, str] = {}
    for param in identifier.params:
        name = param.name.strip()
        if name in params:
            raise InvalidRequest(f"the customer parameter {name!r} is given twice")
        params[name] = param.value.strip()
    return params


def _amount(request: r.CreditVendReq, services: Services) -> Money:
    value = request.purchase_value
    if isinstance(value, r.PurchaseValueCurrency):
        return services.currencies.money(value.amt)
    raise UseCaseNotSupported("bills, transfers and policies are bought by amount")
