"""What every operation family of the embedded backend shares: settings, the meter's
key and tariff lookups, vendability, result builders and the one idempotency path."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from utilities import auditing
from utilities.billing import Breakdown, TariffTerms
from utilities.engine import KeyData, TokenEngine
from utilities.errors import (
    InsufficientMeterData,
    KeyRevisionExpired,
    MeterDataInvalid,
)
from utilities.interface import (
    Charge,
    CreditToken,
    CreditVendResult,
    Customer,
    KeyChange,
    MeterInfo,
    MeterQuery,
    Purchase,
    RequestContext,
    UtilityInfo,
)
from utilities.keys import get_key_info
from utilities.registry import (
    MeterRecord,
    check_vendor_may_sell,
    vendable_meter,
)
from utilities.sts.layouts import CLEAR_ALL_REGISTERS
from utilities.tariffs import get_tariff
from vending.auth import Principal
from vending.errors import InvalidAmount, InvalidRequest
from vending.keyring import Keyring
from vending.money import Money
from vending.products import Product
from vending.requests import Claim, Processed, StoredResponse
from vending.services import idempotency
from vending.storage.database import Txn
from vending.vendors import available_credit

TRIAL_TOKEN = "0" * 20
KWH = Decimal("0.1")

# Class 1 control bits per test/display (IEC 62055-41 Table 27 is not public; this is the
# order one vendor firmware uses, sts.md §4.3: test number n = bit n; test 0 is mandatory).
TEST_CONTROL_BITS: dict[str, int] = {
    "test_all": 0,
    "test_breaker": 1,
    "test_display": 2,
    "disp_cons_tot": 3,
    "disp_krn": 4,
    "disp_ti": 5,
    "disp_pwr_lmt": 6,
    "disp_tamper": 7,
    "disp_inst_pwr": 8,
    "disp_ver": 9,
    "disp_ph_unbalance": 10,
}

_ENGINEERING_DESCRIPTIONS = {
    "power_limit": "Set Power Limit",
    "phase_unbalance": "Set Phase Unbalance Limit",
    "clear_credit": "Clear Credit",
    "clear_tamper": "Clear Tamper",
    "default_credit": "Default Credit",
    "key_change": "Key Change",
    "water_factor": "Set Water Factor",
}


@dataclass(frozen=True)
class EmbeddedSettings:
    utility: UtilityInfo
    # Issue key change tokens inside a vend when the meter's key is out of date; when false,
    # such vends fail with KeyRevisionExpired (LatestKRNEx) and need updateMeterKey first.
    auto_key_change: bool = True
    # Issue the month's FBE token together with the first sale of the month.
    fbe_with_sale: bool = True
    # Months (FBE, service charge, block tariffs) are calendar months in this zone.
    timezone: str = "UTC"
    # Units (0.1 kWh) of a free issue and of a default credit token.
    free_issue_units: int = 100
    default_credit_units: int = 100
    # MfrCode put on class 1 test/display tokens (2 or 4 digits).
    manufacturer_code: str = "00"
    # Product whose range confirmMeter reports as min/max vend.
    product_code: str = "ELEC-DEMO"


@dataclass(frozen=True)
class _Vendable:
    """A meter ready for a credit-like vend, with the key work it needs."""

    meter: MeterRecord
    tariff: TariffTerms | None
    field_key: KeyData
    target_key: KeyData

    @property
    def key_change_due(self) -> bool:
        return self.field_key != self.target_key


class EmbeddedBase:
    """Settings, keyring and the helpers every operation family shares."""

    def __init__(self, keyring: Keyring, settings: EmbeddedSettings) -> None:
        self._keyring = keyring
        self._engine = TokenEngine(keyring)
        self.settings = settings
        self._zone = ZoneInfo(settings.timezone)
        # The last moment asked and its month: one vend asks up to four times for its one
        # ``now`` (one tuple, replaced whole: safe across the database threads).
        self._last_month: tuple[datetime | None, str] = (None, "")

    # --- helpers ----------------------------------------------------------------------------

    def month_of(self, moment: datetime) -> str:
        last = self._last_month
        if last[0] is moment:
            return last[1]
        local = moment.astimezone(self._zone)
        month = f"{local.year:04d}-{local.month:02d}"  # (a third of strftime's cost)
        self._last_month = (moment, month)
        return month

    def meter_info(
        self,
        txn: Txn,
        meter: MeterRecord,
        *,
        key: KeyData | None = None,
        tariff: TariffTerms | None = None,
        # None: a read that reports no time-dependent facts (days since purchase, FBE due).
        now: datetime | None = None,
        product: Product | None = None,
        # The meter as it read before a purchase just recorded on ``meter``: the days
        # since the last purchase count from that one's when it had one.
        before: MeterRecord | None = None,
    ) -> MeterInfo:
        key = key or KeyData.of(meter)
        if tariff is None and meter.tariff_id is not None:
            tariff = get_tariff(txn, meter.tariff_id).terms
        last_purchase_at = meter.last_purchase_at
        if before is not None and before.last_purchase_at is not None:
            last_purchase_at = before.last_purchase_at
        days = None
        if now is not None and last_purchase_at is not None:
            days = max((now - last_purchase_at).days, 0)
        customer = Customer(
            name=meter.customer_name or "Customer",
            address=meter.customer_address or "-",
            account_no=meter.account_no,
            contact_no=meter.contact_no,
            loc_ref=meter.loc_ref,
            days_since_last_purchase=days,
        )
        month = self.month_of(now) if now is not None else None
        fbe_due = bool(
            meter.fbe_eligible
            and tariff is not None
            and tariff.fbe_units > 0
            and month is not None
            and meter.fbe_month != month
        )
        return MeterInfo(
            msno=meter.msno,
            sgc=key.sgc,
            krn=key.krn,
            ti=key.ti,
            at=f"{key.ea:02d}",
            tt=meter.tt,
            utility=self.settings.utility,
            customer=customer,
            tariff_name=None if tariff is None else tariff.name,
            can_vend=not meter.blocked and tariff is not None,
            fbe_due=fbe_due,
            min_vend=None if product is None else product.min_amount,
            max_vend=None if product is None else product.max_amount,
        )

    def _field_key(self, txn: Txn, meter: MeterRecord, query: MeterQuery) -> KeyData:
        """The key data the meter holds: as the client sent it (meter card or MeterDetail),
        else as registered. Values that cannot be this meter's raise MeterDataInvalid."""
        if query.at is not None and query.at.zfill(2) != f"{meter.ea:02d}":
            raise MeterDataInvalid(f"meter {meter.msno} is not an AT {query.at} meter")
        if query.tt is not None and query.tt.zfill(2) != meter.tt:
            raise MeterDataInvalid(f"meter {meter.msno} is not a TT {query.tt} meter")
        if query.sgc is None and query.krn is None and query.ti is None:
            return KeyData.of(meter)
        if query.sgc is None or query.krn is None or query.ti is None:
            raise InsufficientMeterData("SGC, KRN and TI must be given together")
        if query.sgc != meter.sgc:
            raise MeterDataInvalid(f"meter {meter.msno} is not in supply group {query.sgc}")
        ti = query.ti.strip().zfill(2)
        if not (ti.isdigit() and len(ti) == 2):
            raise MeterDataInvalid(f"tariff index {query.ti!r} is not 2 digits")
        info = get_key_info(txn, query.sgc, query.krn)
        if info is None:
            raise MeterDataInvalid(f"SGC {query.sgc} has no key revision {query.krn}")
        key_type = meter.key_type if query.krn == meter.krn else info.key_type
        return KeyData(query.sgc, query.krn, ti, key_type, meter.ea, info.base_date)

    def _tariff(self, txn: Txn, meter: MeterRecord) -> TariffTerms:
        if meter.tariff_id is None:
            raise MeterDataInvalid(f"meter {meter.msno} has no tariff; assign one")
        return get_tariff(txn, meter.tariff_id).terms

    def _vendable(
        self, txn: Txn, query: MeterQuery, principal: Principal | None, *, lock: bool = True
    ) -> _Vendable:
        meter = vendable_meter(txn, query.msno, for_update=lock)
        if principal is not None:
            check_vendor_may_sell(txn, principal.vendor_id, meter.sgc)
        field_key = self._field_key(txn, meter, query)
        target = self._engine.target_key(txn, meter)
        if field_key != target and not self.settings.auto_key_change:
            raise KeyRevisionExpired(
                f"meter {meter.msno} holds KRN {field_key.krn}; KRN {target.krn} is current: "
                "an update meter key operation is required"
            )
        tariff = self._tariff(txn, meter) if meter.tariff_id is not None else None
        return _Vendable(meter, tariff, field_key, target)

    def _key_change(
        self, txn: Txn, vendable: _Vendable, now: datetime, request_pk: int | None
    ) -> KeyChange | None:
        """Issue and record the key change a vendable meter needs (None if it needs none)."""
        if not vendable.key_change_due:
            return None
        meter, old, new = vendable.meter, vendable.field_key, vendable.target_key
        tokens = self._engine.key_change(txn, meter, old, new)
        self._engine.apply_key_change(txn, meter, old, new)
        for token in tokens:
            self._engine.record(txn, meter, token, "key_change", now, request_pk=request_pk)
        auditing.record_key_change(txn, meter.msno, old, new, now=now)
        return _key_change_result(tokens, old, new)

    @staticmethod
    def _vendor_available(txn: Txn, principal: Principal) -> Money:
        """The vendor's available credit (balance + credit limit) for availCredit."""
        return available_credit(txn, principal.vendor_id)


# --- result builders --------------------------------------------------------------------------


def _created_by(principal: Principal) -> str:
    who = principal.operator_name or "-"
    return f"vendor:{principal.client_id}:{who}"


def _credit_token(kind: str, digits: str, units: int) -> CreditToken:
    descriptions = {
        "sale": "Prepayment Sale",
        "fbe": "Free Basic Electricity",
        "free": "Free Issue",
        "mct": "Meter Credit Transfer",
        "default_credit": "Default Credit",
    }
    return CreditToken(
        kind=kind if kind in ("sale", "fbe", "free", "mct") else "free",  # type: ignore[arg-type]
        token=digits,
        units=Decimal(units) * KWH,
        description=descriptions.get(kind, kind),
    )


def _key_change_result(tokens: Any, old: KeyData, new: KeyData) -> KeyChange:
    digits = tuple(t if isinstance(t, str) else t.digits for t in tokens)
    return KeyChange(
        tokens=digits,
        from_sgc=old.sgc,
        from_krn=old.krn,
        from_ti=old.ti,
        to_sgc=new.sgc,
        to_krn=new.krn,
        to_ti=new.ti,
    )


def _vend_result(
    info: MeterInfo,
    token: CreditToken,
    tariff: TariffTerms,
    breakdown: Breakdown,
    purchase: Purchase,
    key_change: KeyChange | None,
    fbe: CreditToken | None,
) -> CreditVendResult:
    money = breakdown.money
    amount = money(breakdown.amount)
    tender = purchase.tender if purchase.tender is not None else amount
    if tender.currency != amount.currency or tender < amount:
        raise InvalidAmount("the tender is less than the amount")
    charges = []
    if breakdown.service:
        charges.append(
            Charge(
                kind="service",
                description="Service charge",
                amount=money(breakdown.service),
                tax=money(breakdown.service_tax),
                account_no=info.customer.account_no if info.customer else None,
            )
        )
    if breakdown.debt_recovered:
        charges.append(
            Charge(
                kind="debt",
                description="Debt recovery",
                amount=money(breakdown.debt_recovered),
                tax=money(0),
                account_no=info.customer.account_no if info.customer else None,
                balance=money(breakdown.debt_left),
            )
        )
    return CreditVendResult(
        meter=info,
        token=token,
        credit=money(breakdown.credit),
        credit_tax=money(breakdown.credit_tax),
        tax_rate=Decimal(tariff.vat_rate_bp) / 100,
        tender=tender,
        less_round=money(breakdown.less_round),
        change=tender - amount,
        tariff_name=tariff.name,
        charges=tuple(charges),
        key_change=key_change,
        fbe_token=fbe,
        amount=amount,
    )


def _engineering_value(kind: str, value: int | None) -> int:
    if kind == "clear_credit":
        return CLEAR_ALL_REGISTERS if value is None else value
    if kind == "clear_tamper":
        return 0
    if value is None or value < 0:
        raise InvalidRequest(f"{kind} needs a non-negative value")
    return value


# Re-exported for the service's error handling.
__all__ = ["TEST_CONTROL_BITS", "TRIAL_TOKEN", "EmbeddedBase", "EmbeddedSettings"]


def _run_once(
    txn: Txn,
    keyring: Keyring,
    ctx: RequestContext,
    work: Callable[[Claim], StoredResponse],
    now: datetime,
) -> Processed:
    """The one idempotency path (claim, re-check the principal, ``work``, store)."""
    return idempotency.run_once(
        txn, keyring, ctx.key, ctx.principal, lambda _txn, claim: work(claim), _same, now=now
    )


def _same(response: StoredResponse) -> StoredResponse:
    return response
