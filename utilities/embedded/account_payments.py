"""Account payments (payAccReq): a meter customer's debt or service charge, paid by the
vendor: one balanced transfer with the answer."""

from __future__ import annotations

from datetime import datetime

from utilities.embedded.base import (
    EmbeddedBase,
    _created_by,
    _run_once,
)
from utilities.errors import (
    MeterBlocked,
    NoDebt,
    ServiceChargeNotDue,
)
from utilities.interface import (
    AccountPayment,
    Charge,
    PaymentResult,
    RequestContext,
    ResponseRenderer,
)
from utilities.registry import (
    check_vendor_may_sell,
    get_meter,
    record_on_meter,
    reduce_debt,
)
from vending.errors import AmountOutOfRange, InvalidAmount, InvalidRequest
from vending.money import Money
from vending.products import price_sale, vendor_commission_bp
from vending.requests import Claim, Processed, StoredResponse
from vending.sales import record_sale
from vending.storage.database import Txn


class AccountPayments(EmbeddedBase):
    # --- account payments -------------------------------------------------------------------

    def pay_account(
        self,
        txn: Txn,
        ctx: RequestContext,
        payment: AccountPayment,
        renderer: ResponseRenderer,
        now: datetime,
    ) -> Processed:
        def work(claim: Claim) -> StoredResponse:
            principal = ctx.principal
            meter = get_meter(txn, payment.meter.msno, for_update=True)
            if meter.blocked:
                raise MeterBlocked(f"meter {meter.msno} has been blocked")
            check_vendor_may_sell(txn, principal.vendor_id, meter.sgc)
            amount = payment.amount
            if amount.amount <= 0:
                raise InvalidAmount("the amount must be positive")
            month = self.month_of(now)
            if payment.kind == "debt":
                if meter.debt is None or meter.debt.amount == 0:
                    raise NoDebt(f"meter {meter.msno} has no outstanding debt")
                if amount.currency != meter.debt.currency:
                    raise InvalidAmount(f"the debt is in {meter.debt.currency}")
                if amount > meter.debt:
                    raise AmountOutOfRange(
                        f"the outstanding debt is {meter.debt.format()} {meter.debt.currency}"
                    )
                charge = Charge(
                    kind="debt",
                    description=meter.debt_description or "Debt",
                    amount=amount,
                    tax=Money.zero(amount.currency),
                    account_no=meter.debt_account_no or meter.account_no,
                    balance=meter.debt - amount,
                )
            elif payment.kind == "service":
                tariff = self._tariff(txn, meter)
                if tariff.service_charge == 0 or meter.service_charge_month == month:
                    raise ServiceChargeNotDue(f"no service charge is due for meter {meter.msno}")
                service = Money(tariff.service_charge, tariff.currency)
                from utilities.billing import vat_on

                tax = Money(vat_on(tariff.service_charge, tariff.vat_rate_bp), tariff.currency)
                if amount != service + tax:
                    raise AmountOutOfRange(
                        f"this month's service charge is {(service + tax).format()} "
                        f"{tariff.currency}"
                    )
                charge = Charge(
                    kind="service",
                    description=f"Service charge {month}",
                    amount=service,
                    tax=tax,
                    account_no=meter.account_no,
                )
            else:
                raise InvalidRequest(f"unknown account payment {payment.kind!r}")
            product = self._product(txn, payment.product_code)
            pricing = price_sale(
                product,
                amount,
                commission_bp=vendor_commission_bp(txn, principal.vendor_id, product),
            )
            tender = payment.tender or amount
            if tender < amount:
                raise InvalidAmount("the tender is less than the amount")
            order = ctx.sale_order(product, pricing, meter.msno, payment=payment.kind)
            sold = record_sale(txn, claim, order, created_by=_created_by(principal), now=now)
            if payment.kind == "debt":
                reduce_debt(txn, meter, amount.amount)
            else:
                record_on_meter(txn, meter.id, service_charge_month=month)
            result = PaymentResult(
                meter=self.meter_info(txn, meter, now=now),
                charge=charge,
                amount=amount,
                tender=tender,
                change=tender - amount,
            )
            return renderer.payment(ctx.request, result, sold.sale, sold.vendor_available)

        return _run_once(txn, self._keyring, ctx, work, now)
