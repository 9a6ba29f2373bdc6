"""Engineering tokens: meter-specific management tokens (class 2) and test/display
tokens (class 1, no meter)."""

from __future__ import annotations

from datetime import datetime

from utilities import auditing
from utilities.embedded.base import (
    _ENGINEERING_DESCRIPTIONS,
    TEST_CONTROL_BITS,
    EmbeddedBase,
    _credit_token,
    _engineering_value,
    _run_once,
)
from utilities.engine import KeyData
from utilities.errors import (
    InsufficientMeterData,
    KeyAlreadyCurrent,
    MeterDataInvalid,
)
from utilities.interface import (
    EngineeringRequest,
    EngineeringToken,
    RequestContext,
    ResponseRenderer,
)
from utilities.keys import get_key_info
from utilities.registry import (
    check_vendor_may_sell,
    get_meter,
    vendable_meter,
)
from utilities.sts import meter_test_token
from vending.errors import InvalidAmount, InvalidRequest
from vending.requests import Claim, Processed, StoredResponse
from vending.storage.database import Txn


class Engineering(EmbeddedBase):
    def non_meter_specific_engineering(self, kind: str, at: str, tt: str) -> EngineeringToken:
        """A class 1 test/display token (not encrypted, no TID, not meter specific)."""
        if kind not in TEST_CONTROL_BITS:
            raise InvalidRequest(f"unknown test/display token {kind!r}")
        control = 1 << TEST_CONTROL_BITS[kind]
        code = self.settings.manufacturer_code
        token = meter_test_token(control=control, manufacturer_code=code)
        return EngineeringToken(
            kind=kind,
            tokens=(token.digits,),
            description=kind.replace("_", " ").title(),
            value=control,
            manufacturer_code=code,
            at=at,
            tt=tt,
        )

    # --- meter-specific engineering ---------------------------------------------------------

    def meter_specific_engineering(
        self,
        txn: Txn,
        ctx: RequestContext,
        request: EngineeringRequest,
        renderer: ResponseRenderer,
        now: datetime,
    ) -> Processed:
        kind = request.kind
        if kind not in _ENGINEERING_DESCRIPTIONS:
            raise InvalidRequest(f"unknown engineering token {kind!r}")

        def work(claim: Claim) -> StoredResponse:
            if kind == "key_change":
                return self._engineering_key_change(txn, ctx, request, renderer, now, claim)
            meter = vendable_meter(txn, request.meter.msno)
            check_vendor_may_sell(txn, ctx.principal.vendor_id, meter.sgc)
            key = self._field_key(txn, meter, request.meter)
            if key != KeyData.of(meter):
                raise MeterDataInvalid(f"meter {meter.msno} does not hold that key data")
            (tid,) = self._engine.allocate_tids(txn, meter, key.base_date, now)
            credit = None
            if kind == "default_credit":
                units = request.value or self.settings.default_credit_units
                if units <= 0:
                    raise InvalidAmount("default credit units must be positive")
                sts = self._engine.credit(txn, meter, key, units, tid)
                value = sts.units
                credit = _credit_token("default_credit", sts.digits, sts.units or 0)
            else:
                value = _engineering_value(kind, request.value)
                sts = self._engine.management(txn, meter, key, kind, value, tid)
                if sts.units is not None:
                    value = sts.units  # power limits are rounded up by the coding
            self._engine.record(
                txn, meter, sts, "engineering", now, request_pk=claim.request_pk,
                details={"kind": kind},
            )  # fmt: skip
            auditing.record_engineering(txn, ctx, meter.msno, kind, value)
            token = EngineeringToken(
                kind=kind,
                tokens=(sts.digits,),
                description=_ENGINEERING_DESCRIPTIONS[kind],
                meter=self.meter_info(txn, meter, now=now),
                value=value,
                credit_token=credit,
            )
            return renderer.engineering(ctx.request, token)

        return _run_once(txn, self._keyring, ctx, work, now)

    def _engineering_key_change(
        self,
        txn: Txn,
        ctx: RequestContext,
        request: EngineeringRequest,
        renderer: ResponseRenderer,
        now: datetime,
        claim: Claim,
    ) -> StoredResponse:
        meter = vendable_meter(txn, request.meter.msno)
        if request.to_krn is None:
            raise InsufficientMeterData("the key change needs the new KRN")
        if request.to_sgc is not None and request.to_sgc != meter.sgc:
            raise MeterDataInvalid("moving a meter to another supply group is not supported")
        info = get_key_info(txn, meter.sgc, request.to_krn)
        if info is None:
            raise MeterDataInvalid(f"SGC {meter.sgc} has no key revision {request.to_krn}")
        if info.ea != meter.ea:
            raise MeterDataInvalid(f"KRN {request.to_krn} is not for EA{meter.ea:02d} meters")
        to_ti = (request.to_ti or meter.ti).strip().zfill(2)
        if not (to_ti.isdigit() and len(to_ti) == 2):
            raise MeterDataInvalid(f"tariff index {request.to_ti!r} is not 2 digits")
        target = KeyData(meter.sgc, request.to_krn, to_ti, info.key_type, meter.ea, info.base_date)
        vendable = self._vendable_for_key_change(txn, request.meter, ctx.principal, target)
        if not vendable.key_change_due:
            raise KeyAlreadyCurrent(f"meter {meter.msno} already holds that key data")
        if target.base_date < vendable.field_key.base_date:
            raise MeterDataInvalid("a key change cannot move a meter to an earlier base date")
        key_change = self._key_change(txn, vendable, now, claim.request_pk)
        assert key_change is not None
        token = EngineeringToken(
            kind="key_change",
            tokens=key_change.tokens,
            description=_ENGINEERING_DESCRIPTIONS["key_change"],
            meter=self.meter_info(txn, get_meter(txn, meter.msno), now=now),
            key_change=key_change,
        )
        return renderer.engineering(ctx.request, token)
