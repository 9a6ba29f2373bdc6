"""Free tokens: free basic electricity, free issue and meter credit transfer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from utilities import auditing
from utilities.billing import TariffTerms
from utilities.embedded.base import (
    EmbeddedBase,
    _credit_token,
    _run_once,
    _Vendable,
)
from utilities.errors import (
    FBEAlreadyIssued,
    NotFBEEligible,
)
from utilities.interface import (
    CreditTransfer,
    CreditVendResult,
    MeterQuery,
    RequestContext,
    ResponseRenderer,
)
from utilities.registry import (
    check_meter_number,
    get_meter,
    record_on_meter,
)
from utilities.sts import to_base_units
from utilities.sts.amount import ELECTRICITY_RESOLUTION
from vending.errors import InvalidAmount, InvalidRequest
from vending.money import Money
from vending.requests import Claim, Processed, StoredResponse
from vending.storage.database import Txn


class FreeTokens(EmbeddedBase):
    # --- free tokens (FBE, free issue, meter credit transfer) -------------------------------

    def _free_vend(
        self,
        txn: Txn,
        ctx: RequestContext,
        query: MeterQuery,
        renderer: ResponseRenderer,
        now: datetime,
        kind: str,
        units_for: Callable[[_Vendable, TariffTerms | None], int],
        audit_details: dict[str, Any],
    ) -> Processed:
        def work(claim: Claim) -> StoredResponse:
            vendable = self._vendable(txn, query, ctx.principal)
            tariff = vendable.tariff
            units = units_for(vendable, tariff)
            key_change = self._key_change(txn, vendable, now, claim.request_pk)
            key = vendable.target_key
            (tid,) = self._engine.allocate_tids(txn, vendable.meter, key.base_date, now)
            sts = self._engine.credit(txn, vendable.meter, key, units, tid)
            self._engine.record(
                txn,
                vendable.meter,
                sts,
                kind,
                now,
                request_pk=claim.request_pk,
                details={"tariff": None if tariff is None else tariff.name},
            )
            if kind == "fbe":
                month = self.month_of(now)
                record_on_meter(txn, vendable.meter.id, fbe_month=month)
            auditing.record_free_token(txn, ctx, vendable.meter.msno, kind, units, audit_details)
            token = _credit_token(kind, sts.digits, sts.units or 0)
            currency = ctx.principal.currency if tariff is None else tariff.currency
            zero = Money.zero(currency)
            info = self.meter_info(txn, get_meter(txn, vendable.meter.msno), tariff=tariff, now=now)
            result = CreditVendResult(
                meter=info,
                token=token,
                credit=zero,
                credit_tax=zero,
                tax_rate=Decimal(0) if tariff is None else Decimal(tariff.vat_rate_bp) / 100,
                tender=zero,
                less_round=zero,
                change=zero,
                tariff_name=None if tariff is None else tariff.name,
                key_change=key_change,
                amount=zero,
            )
            return renderer.vend(
                ctx.request, result, None, self._vendor_available(txn, ctx.principal)
            )

        return _run_once(txn, self._keyring, ctx, work, now)

    def fbe(
        self,
        txn: Txn,
        ctx: RequestContext,
        query: MeterQuery,
        renderer: ResponseRenderer,
        now: datetime,
    ) -> Processed:
        def units_for(vendable: _Vendable, tariff: TariffTerms | None) -> int:
            meter = vendable.meter
            if not meter.fbe_eligible or tariff is None or tariff.fbe_units == 0:
                raise NotFBEEligible(f"meter {meter.msno} is not registered for FBE")
            if meter.fbe_month == self.month_of(now):
                raise FBEAlreadyIssued(f"FBE for meter {meter.msno} was issued this month")
            return tariff.fbe_units

        return self._free_vend(txn, ctx, query, renderer, now, "fbe", units_for, {})

    def free_issue(
        self,
        txn: Txn,
        ctx: RequestContext,
        query: MeterQuery,
        renderer: ResponseRenderer,
        now: datetime,
    ) -> Processed:
        units = self.settings.free_issue_units
        if units <= 0:
            raise InvalidRequest("free issue is disabled (utilities.free_issue_units = 0)")
        return self._free_vend(txn, ctx, query, renderer, now, "free", lambda *_: units, {})

    def meter_credit_transfer(
        self,
        txn: Txn,
        ctx: RequestContext,
        transfer: CreditTransfer,
        renderer: ResponseRenderer,
        now: datetime,
    ) -> Processed:
        if transfer.units <= 0:
            raise InvalidAmount("the units to transfer must be positive")
        units = to_base_units(transfer.units, ELECTRICITY_RESOLUTION)
        old = (transfer.old_msno or "").strip()
        if not old:
            raise InvalidRequest("the old meter number is required")
        if len(old) in (11, 13) and old.isdigit():
            check_meter_number(old)
        if old == transfer.meter.msno.strip():
            raise InvalidRequest("the old and the new meter are the same")
        details = {"old_msno": old, "ref_no": transfer.ref_no}
        return self._free_vend(
            txn, ctx, transfer.meter, renderer, now, "mct", lambda *_: units, details
        )
