"""Credit vends (and trials) on our own STS engine: price, tariff, key change, FBE with
the sale, token, the balanced sale, the answer: one transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from utilities.billing import Breakdown, TariffTerms, price_by_amount, price_by_units
from utilities.embedded.base import (
    TRIAL_TOKEN,
    EmbeddedBase,
    _created_by,
    _credit_token,
    _key_change_result,
    _run_once,
    _vend_result,
    _Vendable,
)
from utilities.errors import (
    MeterDataInvalid,
)
from utilities.interface import (
    CreditVendResult,
    MeterInfo,
    MeterQuery,
    Purchase,
    RequestContext,
    ResponseRenderer,
)
from utilities.registry import (
    MeterRecord,
    get_meter,
    record_on_meter,
    reduce_debt,
    with_changes,
)
from utilities.sts import to_base_units
from utilities.sts.amount import ELECTRICITY_RESOLUTION
from vending import recipient_sms
from vending.auth import Principal, revalidate
from vending.errors import InvalidAmount, InvalidRequest
from vending.products import Product, get_product, price_sale, vendor_commission_bp
from vending.requests import Claim, Processed, StoredResponse
from vending.sales import record_sale
from vending.services import idempotency
from vending.storage.database import Txn


class Vending(EmbeddedBase):
    # --- read-only --------------------------------------------------------------------------

    def confirm_meter(self, txn: Txn, query: MeterQuery, now: datetime) -> MeterInfo:
        """Meter and customer details; a blocked meter is reported with can_vend false."""
        meter = get_meter(txn, query.msno)
        key = self._field_key(txn, meter, query)
        try:
            product: Product | None = get_product(txn, self.settings.product_code)
        except InvalidRequest:
            product = None
        return self.meter_info(txn, meter, key=key, now=now, product=product)

    def trial_vend(
        self, txn: Txn, principal: Principal, purchase: Purchase, now: datetime
    ) -> CreditVendResult:
        """What a credit vend would give, with all-zero tokens; nothing is written."""
        revalidate(txn, principal)
        vendable = self._vendable(txn, purchase.meter, principal, lock=False)
        tariff = self._require_tariff(vendable)
        product = self._product(txn, purchase.product_code)
        breakdown = self._price(vendable, tariff, purchase, now)
        self._sale_pricing(txn, principal, product, breakdown)
        key_change = None
        if vendable.key_change_due:
            old, new = vendable.field_key, vendable.target_key
            count = 4 if new.ea == 11 else 2
            key_change = _key_change_result([TRIAL_TOKEN] * count, old, new)
        fbe = None
        if self._fbe_due(vendable.meter, tariff, now) and self.settings.fbe_with_sale:
            fbe = _credit_token("fbe", TRIAL_TOKEN, tariff.fbe_units)
        token = _credit_token("sale", TRIAL_TOKEN, breakdown.units)
        info = self.meter_info(txn, vendable.meter, key=vendable.target_key, tariff=tariff, now=now)
        return _vend_result(info, token, tariff, breakdown, purchase, key_change, fbe)

    # --- credit vend ------------------------------------------------------------------------

    def credit_vend(
        self,
        txn: Txn,
        ctx: RequestContext,
        purchase: Purchase,
        renderer: ResponseRenderer,
        now: datetime,
    ) -> Processed:
        """Claim, price, issue (key change, FBE, sale token), record the sale, render and
        store the response: one transaction."""

        def work(claim: Claim) -> StoredResponse:
            return self._credit_vend_work(txn, ctx, purchase, renderer, now, claim, False)

        return _run_once(txn, self._keyring, ctx, work, now)

    def credit_vend_claimed(
        self,
        txn: Txn,
        ctx: RequestContext,
        purchase: Purchase,
        renderer: ResponseRenderer,
        claim: Claim,
        now: datetime,
    ) -> Processed:
        """The vend of a request claimed earlier (two-phase: the demo slow meter of
        :mod:`utilities.demo_behaviours`): do it and store it."""
        existing = idempotency.lookup(txn, self._keyring, claim.client_id, claim.request_id)
        if existing is not None and existing.response is not None:
            return Processed(existing.response, replayed=True)
        response = self._credit_vend_work(txn, ctx, purchase, renderer, now, claim, True)
        return idempotency.complete(txn, self._keyring, claim, response, now=now)

    def _credit_vend_work(
        self,
        txn: Txn,
        ctx: RequestContext,
        purchase: Purchase,
        renderer: ResponseRenderer,
        now: datetime,
        claim: Claim,
        delayed: bool,
    ) -> StoredResponse:
        principal = ctx.principal
        if delayed:  # claimed (and re-checked) earlier: check again before the sale
            revalidate(txn, principal)
        vendable = self._vendable(txn, purchase.meter, principal)
        tariff = self._require_tariff(vendable)
        product = self._product(txn, purchase.product_code)
        meter = vendable.meter
        month = self.month_of(now)
        key_change = self._key_change(txn, vendable, now, claim.request_pk)
        key = vendable.target_key
        breakdown = self._price(vendable, tariff, purchase, now)
        pricing = self._sale_pricing(txn, principal, product, breakdown)
        fbe_due = self.settings.fbe_with_sale and self._fbe_due(meter, tariff, now)
        tids = self._engine.allocate_tids(txn, meter, key.base_date, now, 2 if fbe_due else 1)
        fbe_token = None
        if fbe_due:
            fbe_sts = self._engine.credit(txn, meter, key, tariff.fbe_units, tids[0])
            fbe_token = _credit_token("fbe", fbe_sts.digits, fbe_sts.units or 0)
        sts = self._engine.credit(txn, meter, key, breakdown.units, tids[-1])
        token = _credit_token("sale", sts.digits, sts.units or 0)
        order = ctx.sale_order(
            product,
            pricing,
            meter.msno,
            units=str(token.units),
            tariff=tariff.code,
            krn=key.krn,
            tid=sts.tid,
            key_change=key_change is not None,
            fbe_units=None if fbe_token is None else str(fbe_token.units),
            credit=breakdown.credit,
            credit_tax=breakdown.credit_tax,
            service_charge=breakdown.service + breakdown.service_tax,
            debt_recovered=breakdown.debt_recovered,
        )
        sold = record_sale(txn, claim, order, created_by=_created_by(principal), now=now)
        updated = self._after_purchase(
            txn, meter, month, sts.units or 0, breakdown, fbe_due, now, claim.request_pk
        )
        receipt = {
            "credit": breakdown.credit,
            "credit_tax": breakdown.credit_tax,
            "currency": tariff.currency,
            "vat_rate_bp": tariff.vat_rate_bp,
            "tariff": tariff.name,
            "receipt_no": sold.sale.receipt_no,
        }
        self._engine.record(
            txn,
            meter,
            sts,
            "sale",
            now,
            request_pk=claim.request_pk,
            sale_id=sold.sale.id,
            details=receipt,
        )
        if fbe_due and fbe_token is not None:
            self._engine.record(txn, meter, fbe_sts, "fbe", now, request_pk=claim.request_pk)
        if updated is None or key_change is not None:
            updated = get_meter(txn, meter.msno)  # debt or key data changed too: read it
        # Days since the purchase before this one (the registry already holds this one).
        info = self.meter_info(txn, updated, tariff=tariff, now=now, product=product, before=meter)
        result = _vend_result(info, token, tariff, breakdown, purchase, key_change, fbe_token)
        # The token to the consumer's phone when the request named one: this transaction.
        recipient_sms.queue_token(
            txn, self._keyring, sold.sale, result, now=now, vendor_name=principal.vendor_name
        )
        return renderer.vend(ctx.request, result, sold.sale, sold.vendor_available)

    def _require_tariff(self, vendable: _Vendable) -> TariffTerms:
        if vendable.tariff is None:
            raise MeterDataInvalid(f"meter {vendable.meter.msno} has no tariff; assign one")
        return vendable.tariff

    @staticmethod
    def _product(txn: Txn, code: str) -> Product:
        product = get_product(txn, code)
        if product.kind != "electricity":
            raise InvalidRequest(f"product {code} is not electricity")
        return product

    def _fbe_due(self, meter: MeterRecord, tariff: TariffTerms, now: datetime) -> bool:
        return bool(
            meter.fbe_eligible and tariff.fbe_units > 0 and meter.fbe_month != self.month_of(now)
        )

    def _price(
        self, vendable: _Vendable, tariff: TariffTerms, purchase: Purchase, now: datetime
    ) -> Breakdown:
        meter = vendable.meter
        month = self.month_of(now)
        debt = 0
        if meter.debt is not None:
            if meter.debt.currency != tariff.currency:
                raise MeterDataInvalid(f"meter {meter.msno}: debt and tariff currencies differ")
            debt = meter.debt.amount
        common: dict[str, Any] = {
            "month_to_date": meter.month_to_date(month),
            "debt_balance": debt,
            "service_due": meter.service_charge_month != month,
        }
        if (purchase.amount is None) == (purchase.units is None):
            raise InvalidAmount("a purchase is by amount or by units")
        if purchase.amount is not None:
            return price_by_amount(tariff, purchase.amount, **common)
        assert purchase.units is not None
        if purchase.units <= 0:
            raise InvalidAmount("the number of units must be positive")
        return price_by_units(
            tariff, to_base_units(purchase.units, ELECTRICITY_RESOLUTION), **common
        )

    @staticmethod
    def _sale_pricing(
        txn: Txn, principal: Principal, product: Product, breakdown: Breakdown
    ) -> Any:
        amount = breakdown.money(breakdown.amount)
        return price_sale(
            product, amount, commission_bp=vendor_commission_bp(txn, principal.vendor_id, product)
        )

    def _after_purchase(
        self,
        txn: Txn,
        meter: MeterRecord,
        month: str,
        units: int,
        breakdown: Breakdown,
        fbe_issued: bool,
        now: datetime,
        request_pk: int,
    ) -> MeterRecord | None:
        """Record the purchase on the meter; the meter as it now reads when that is all
        that changed, else None (read it again)."""
        values: dict[str, Any] = {
            "mtd_month": month,
            "mtd_units": meter.month_to_date(month) + units,
            "last_purchase_at": now,
        }
        if breakdown.service:
            values["service_charge_month"] = month
        if fbe_issued:
            values["fbe_month"] = month
        record_on_meter(txn, meter.id, **values)
        reduce_debt(txn, meter, breakdown.debt_recovered, now=now)
        if breakdown.debt_recovered:
            return None
        return with_changes(meter, **{**values, "last_purchase_at": now.astimezone(UTC)})
