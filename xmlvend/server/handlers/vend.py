"""creditVendReq and trialCreditVendReq, for electricity and for denominated vouchers.

* Electricity (``resource`` Electricity, a meter identifier): the utility service vends --
  one transaction on our own engine, hold/call/settle through a utility's server.
* Vouchers (``resource xsi:type="ext:Voucher"`` and/or ``meterIdentifier
  xsi:type="ext:ProductIdentifier"``, docs/EXTENSION-NAMESPACE.md): a PIN from stock, sold
  in one transaction with the claim of the request and its stored response.
* Either with ``notifyMsisdn`` on the resource (``ext:Voucher``, ``ext:Electricity``): the
  PIN or token also goes to that phone by SMS, queued in the sale's transaction.
* Bills, money transfers and insurance policies (``meterIdentifier`` ``ext:BillIdentifier``,
  ``ext:BeneficiaryIdentifier``, ``ext:PolicyIdentifier``): :mod:`.provider_products`.

A trial vend gives the same breakdown with an all-zero token or PIN; nothing is stored and
no money moves.
"""

from __future__ import annotations

from decimal import Decimal

from utilities.interface import MeterQuery, Purchase
from vending.errors import InvalidRequest
from vending.money import Money
from vending.services.electricity_sales import ElectricityQuoteRequest, ElectricitySaleRequest
from vending.services.recharge_sales import RechargeRequest
from vending.services.voucher_sales import VoucherQuoteRequest, VoucherSaleRequest
from vending.sms_merchants import normalize_msisdn
from xmlvend.codec import types_base as b
from xmlvend.codec import types_ext as ext
from xmlvend.codec import types_revenue as r
from xmlvend.server.convert import Currencies, meter_query
from xmlvend.server.errors import UseCaseNotSupported
from xmlvend.server.handlers import provider_products
from xmlvend.server.handlers.base import Call, Reply, Services
from xmlvend.server.renderer import TRIAL_RECEIPT_NO, VoucherReceipt

_KWH = ("kwh",)


async def credit_vend(services: Services, call: Call) -> Reply:
    request = call.request
    assert isinstance(request, r.CreditVendReq)
    notify = notify_msisdn(request)
    if provider_products.is_provider_sale(request):
        if notify is not None:
            raise UseCaseNotSupported(
                "notifyMsisdn is for PIN and token sales; bills, transfers and policies "
                "send their own receipts"
            )
        return await provider_products.sell(services, call, request)
    recharge = recharge_of(request)
    if recharge is not None:
        if notify is not None:
            raise UseCaseNotSupported(
                "notifyMsisdn is for PIN and token sales; a recharge goes to its recipient"
            )
        return await _sell_recharge(services, call, request, *recharge)
    product_code = voucher_product_code(request)
    if product_code is not None:
        return await _sell_voucher(services, call, request, product_code, notify)
    purchase = purchase_of(request, services.currencies, services.electricity_product)
    outcome = await services.app.electricity.sell(
        ElectricitySaleRequest(call.context(), purchase, recipient=notify), services.renderer
    )
    return Reply.of(outcome)


def notify_msisdn(request: r.AbstractCreditVendReq) -> str | None:
    """The consumer's phone that also gets the PIN or token by SMS: ``notifyMsisdn`` of an
    ``ext:Voucher`` or ``ext:Electricity`` resource (docs/EXTENSION-NAMESPACE.md), as E.164
    digits; a malformed number is refused before anything is sold."""
    value = getattr(request.resource, "notify_msisdn", None)
    if value is None:
        return None
    try:
        return normalize_msisdn(value)
    except InvalidRequest as error:
        raise InvalidRequest(f"notifyMsisdn: {error}") from None


async def trial_credit_vend(services: Services, call: Call) -> Reply:
    request = call.request
    assert isinstance(request, r.TrialCreditVendReq)
    notify_msisdn(request)  # checked as the sale would; a trial sends nothing
    provider_products.refuse_trial(request)
    product_code = voucher_product_code(request)
    if product_code is not None:
        return await _quote_voucher(services, call, request, product_code)
    purchase = purchase_of(request, services.currencies, services.electricity_product)
    result = await services.app.electricity.quote(ElectricityQuoteRequest(call.who, purchase))
    balance = await services.app.accounts.available(call.who)
    return Reply(services.renderer.trial_vend(call.rendering(), result, balance))


# --- electricity ---------------------------------------------------------------------------------


def purchase_of(
    request: r.AbstractCreditVendReq, currencies: Currencies, product_code: str
) -> Purchase:
    """The utility side's Purchase: the meter, the amount (or units) and the cash tender."""
    resource = request.resource
    if not isinstance(resource, b.Electricity):
        raise UseCaseNotSupported(
            f"{type(resource).__name__} is not sold here; electricity and vouchers are"
        )
    meter: MeterQuery = meter_query(request.id_method.meter_identifier)
    value = request.purchase_value
    amount: Money | None = None
    units: Decimal | None = None
    if isinstance(value, r.PurchaseValueCurrency):
        amount = currencies.money(value.amt)
    elif isinstance(value, r.PurchaseValueUnits):
        if value.units.si_unit.strip().lower() not in _KWH:
            raise UseCaseNotSupported(f"units in {value.units.si_unit!r}: vend by kWh or amount")
        units = value.units.value
    else:
        raise UseCaseNotSupported(f"purchase by {type(value).__name__} is not supported")
    return Purchase(
        meter=meter,
        amount=amount,
        units=units,
        product_code=product_code,
        tender=cash_tender(request.pay_type, currencies),
    )


def cash_tender(pay_type: b.PayType | None, currencies: Currencies) -> Money | None:
    """What the customer handed over, when the request says (Cash); else None."""
    if isinstance(pay_type, b.Cash):
        return currencies.money(pay_type.tender_amt)
    return None


# --- vouchers ------------------------------------------------------------------------------------


def recharge_of(request: r.AbstractCreditVendReq) -> tuple[str, str] | None:
    """(product code, recipient) of a PIN-less recharge (an ext:ProductIdentifier with a
    recipient), else None."""
    identifier = request.id_method.meter_identifier
    if isinstance(identifier, ext.ProductIdentifier) and identifier.recipient:
        return identifier.product_code.strip(), identifier.recipient.strip()
    return None


async def _sell_recharge(
    services: Services, call: Call, request: r.CreditVendReq, product_code: str, recipient: str
) -> Reply:
    recharge = services.app.recharge
    if recharge is None:
        raise UseCaseNotSupported("PIN-less recharges are not offered here (no provider wired)")
    amount = _voucher_amount(request, services.currencies)
    assert amount is not None
    outcome = await recharge.sell(
        RechargeRequest(call.context(), recipient, amount, product_code=product_code),
        services.renderer,
    )
    return Reply.of(outcome)


def voucher_product_code(request: r.AbstractCreditVendReq) -> str | None:
    """The voucher product a request buys, or None for an electricity request."""
    identifier = request.id_method.meter_identifier
    resource = request.resource
    codes: set[str] = set()
    if isinstance(identifier, ext.ProductIdentifier):
        if identifier.recipient:
            raise UseCaseNotSupported(
                "PIN-less top-ups (recipient) are not offered; omit recipient to buy a PIN"
            )
        codes.add(identifier.product_code.strip())
    if isinstance(resource, ext.Voucher) and resource.product_code:
        codes.add(resource.product_code.strip())
    if not codes:
        if isinstance(resource, ext.Voucher):
            raise InvalidRequest("a voucher request needs a productCode (ext:ProductIdentifier)")
        return None
    if len(codes) > 1:
        raise InvalidRequest("the productCode of resource and meterIdentifier differ")
    return codes.pop()


def _voucher_amount(request: r.AbstractCreditVendReq, currencies: Currencies) -> Money | None:
    value = request.purchase_value
    if isinstance(value, r.PurchaseValueCurrency):
        return currencies.money(value.amt)
    raise UseCaseNotSupported("vouchers are bought by amount (PurchaseValueCurrency)")


async def _sell_voucher(
    services: Services,
    call: Call,
    request: r.CreditVendReq,
    product_code: str,
    notify: str | None = None,
) -> Reply:
    amount = _voucher_amount(request, services.currencies)
    outcome = await services.app.vouchers.sell(
        VoucherSaleRequest(call.context(), product_code, amount, recipient=notify),
        services.renderer,
    )
    return Reply.of(outcome)


async def _quote_voucher(
    services: Services, call: Call, request: r.TrialCreditVendReq, product_code: str
) -> Reply:
    amount = _voucher_amount(request, services.currencies)
    quote = await services.app.vouchers.quote(VoucherQuoteRequest(call.who, product_code, amount))
    product = quote.product
    pin_length = int(product.attributes.get("pin_length") or 16)
    network = str(product.attributes.get("network") or "") or None
    receipt = VoucherReceipt(
        product_code=product.code,
        description=product.code,
        price=quote.pricing.price,
        serial_no="0",
        pin="0" * max(4, min(pin_length, 32)),
        expiry=None,
        batch_no=None,
        network=network,
        instructions=None,
        receipt_no=TRIAL_RECEIPT_NO,
    )
    body = services.renderer.voucher_vend(call.rendering(), receipt, quote.balance, trial=True)
    return Reply(body)
