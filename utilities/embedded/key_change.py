"""Meter key changes (updateMeterKey): key change tokens to the current vending key."""

from __future__ import annotations

from datetime import datetime

from utilities.embedded.base import (
    EmbeddedBase,
    _run_once,
    _Vendable,
)
from utilities.engine import KeyData
from utilities.errors import (
    InsufficientMeterData,
    KeyAlreadyCurrent,
    UnknownMeterForKeyUpdate,
)
from utilities.interface import (
    EngineeringToken,
    MeterQuery,
    RequestContext,
    ResponseRenderer,
)
from utilities.registry import (
    check_meter_number,
    check_vendor_may_sell,
    find_meter,
    get_meter,
    vendable_meter,
)
from vending.auth import Principal
from vending.requests import Claim, Processed, StoredResponse
from vending.storage.database import Txn


class KeyChanges(EmbeddedBase):
    # --- key change -------------------------------------------------------------------------

    def update_meter_key(
        self,
        txn: Txn,
        ctx: RequestContext,
        query: MeterQuery,
        renderer: ResponseRenderer,
        now: datetime,
    ) -> Processed:
        """Key change tokens from the meter's field key data (as sent) to the server's."""

        def work(claim: Claim) -> StoredResponse:
            number = check_meter_number(query.msno)
            if find_meter(txn, number) is None:
                raise UnknownMeterForKeyUpdate(f"meter {number} is not registered")
            if query.sgc is None or query.krn is None or query.ti is None:
                raise InsufficientMeterData("the meter's SGC, KRN and TI are required")
            vendable = self._vendable_for_key_change(txn, query, ctx.principal)
            if not vendable.key_change_due:
                raise KeyAlreadyCurrent(f"meter {number} already holds the current key data")
            key_change = self._key_change(txn, vendable, now, claim.request_pk)
            assert key_change is not None
            info = self.meter_info(txn, get_meter(txn, number), now=now)
            token = EngineeringToken(
                kind="key_change",
                tokens=key_change.tokens,
                description="Key Change",
                meter=info,
                key_change=key_change,
            )
            return renderer.engineering(ctx.request, token)

        return _run_once(txn, self._keyring, ctx, work, now)

    def _vendable_for_key_change(
        self, txn: Txn, query: MeterQuery, principal: Principal, target: KeyData | None = None
    ) -> _Vendable:
        meter = vendable_meter(txn, query.msno)
        check_vendor_may_sell(txn, principal.vendor_id, meter.sgc)
        field_key = self._field_key(txn, meter, query)
        to = target or self._engine.target_key(txn, meter)
        return _Vendable(meter, None, field_key, to)
