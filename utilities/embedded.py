"""The embedded backend: our STS engine and meter registry, as transaction functions.

Every method here is a transaction function (``fn(txn, ...)``, run by the service through a
:class:`~utilities.interface.TxnRunner`): it may run more than once, writes only through
``txn``, and raises a domain error (rolling everything back, the request claim included)
for bad input. State-changing operations go through :func:`vending.requests.process_once`:
claim the request key, do the work, render the response and store it, in one transaction;
a retry of the same request gets the stored response back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select, update

from utilities import auditing
from utilities.billing import Breakdown, TariffTerms, price_by_amount, price_by_units
from utilities.engine import KeyData, TokenEngine, token_hash
from utilities.errors import (
    FBEAlreadyIssued,
    InsufficientMeterData,
    KeyAlreadyCurrent,
    KeyRevisionExpired,
    MeterBlocked,
    MeterDataInvalid,
    NoDebt,
    NotFBEEligible,
    ServiceChargeNotDue,
    TokenNotVerifiable,
    UnknownMeter,
    UnknownMeterForKeyUpdate,
    UpstreamUnavailable,
)
from utilities.interface import (
    AccountPayment,
    Charge,
    CreditToken,
    CreditTransfer,
    CreditVendResult,
    Customer,
    EngineeringRequest,
    EngineeringToken,
    KeyChange,
    MeterInfo,
    MeterQuery,
    PaymentResult,
    Purchase,
    RequestContext,
    ResponseRenderer,
    TokenInfo,
    UtilityInfo,
    VerifyResult,
)
from utilities.keys import get_key_info
from utilities.registry import (
    MeterRecord,
    check_meter_number,
    check_vendor_may_sell,
    find_meter,
    get_meter,
    reduce_debt,
    vendable_meter,
)
from utilities.sts import meter_test_token, to_base_units
from utilities.sts.amount import ELECTRICITY_RESOLUTION
from utilities.sts.digits import parse_digits
from utilities.sts.errors import TokenFormatError
from utilities.sts.layouts import CLEAR_ALL_REGISTERS
from utilities.tables import issued_tokens, meters
from utilities.tariffs import get_tariff
from vending.auth import Principal, revalidate
from vending.errors import AmountOutOfRange, InvalidAmount, InvalidRequest
from vending.keyring import Keyring
from vending.money import Money
from vending.products import Product, get_product, price_sale, vendor_commission_bp
from vending.requests import (
    Claim,
    Processed,
    StoredResponse,
    find_request,
    process_once,
    store_response,
)
from vending.sales import record_sale
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


_AFTER_PURCHASE = update(meters).where(meters.c.id == bindparam("p_id"))


class SlowMeter(Exception):
    """A demo meter whose vend must be answered late: wait ``seconds``, then vend."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"test meter: vend delayed by {seconds} s")
        self.seconds = seconds


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
    # Honour meters.test_behaviour (demo and simulator meters).
    test_behaviours: bool = True
    # How late a "slow" test meter answers (past the server's deadline).
    slow_meter_seconds: float = 10.0


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


class EmbeddedBackend:
    """Transaction functions implementing every utility operation on our own engine."""

    def __init__(self, keyring: Keyring, settings: EmbeddedSettings) -> None:
        self._keyring = keyring
        self._engine = TokenEngine(keyring)
        self.settings = settings
        self._zone = ZoneInfo(settings.timezone)

    # --- helpers ----------------------------------------------------------------------------

    def month_of(self, moment: datetime) -> str:
        return moment.astimezone(self._zone).strftime("%Y-%m")

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
    ) -> MeterInfo:
        key = key or KeyData.of(meter)
        if tariff is None and meter.tariff_id is not None:
            tariff = get_tariff(txn, meter.tariff_id).terms
        days = None
        if now is not None and meter.last_purchase_at is not None:
            days = max((now - meter.last_purchase_at).days, 0)
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

    def _check_behaviour(self, meter: MeterRecord, delayed: bool) -> None:
        if not self.settings.test_behaviours or meter.test_behaviour is None:
            return
        if meter.test_behaviour == "slow" and not delayed:
            raise SlowMeter(self.settings.slow_meter_seconds)
        if meter.test_behaviour == "upstream_failure":
            raise UpstreamUnavailable(
                f"test meter {meter.msno}: the utility's vending server is unavailable"
            )

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

    def verify_token(
        self, txn: Txn, principal: Principal, query: MeterQuery, token: str
    ) -> VerifyResult:
        revalidate(txn, principal)
        meter = get_meter(txn, query.msno)
        try:
            digits = f"{parse_digits(token):020d}"
        except TokenFormatError:
            raise TokenNotVerifiable("not a 20-digit STS token") from None
        row = txn.execute(
            select(issued_tokens)
            .where(
                issued_tokens.c.meter_id == meter.id,
                issued_tokens.c.token_hash == token_hash(digits),
            )
            .order_by(issued_tokens.c.id.desc())
        ).first()
        if row is None:
            raise TokenNotVerifiable(f"token was not issued by this server for meter {meter.msno}")
        details = dict(row.details or {})
        currency = details.get("currency")
        units = None
        if row.token_class == 0 and row.amount is not None:
            units = Decimal(row.amount) * KWH
        info = TokenInfo(
            token=digits,
            token_class=row.token_class,
            subclass=row.subclass,
            tid=row.tid or 0,
            transfer_amount=units if units is not None else Decimal(row.amount or 0),
            issued_at=row.issued_at,
        )

        def money(key: str) -> Money | None:
            value = details.get(key)
            return None if value is None or currency is None else Money(int(value), currency)

        rate = details.get("vat_rate_bp")
        return VerifyResult(
            meter=self.meter_info(txn, meter),
            token_info=info,
            kind=row.kind,
            units=units,
            credit=money("credit"),
            credit_tax=money("credit_tax"),
            tax_rate=None if rate is None else Decimal(int(rate)) / 100,
            tariff_name=details.get("tariff"),
            receipt_no=details.get("receipt_no"),
        )

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
        store the response: one transaction. Raises SlowMeter for demo "slow" meters
        before writing anything (the service then claims first and vends later)."""

        def work(claim: Claim) -> StoredResponse:
            return self._credit_vend_work(txn, ctx, purchase, renderer, now, claim, False)

        return process_once(txn, self._keyring, ctx.key, work, now=now)

    def credit_vend_claimed(
        self,
        txn: Txn,
        ctx: RequestContext,
        purchase: Purchase,
        renderer: ResponseRenderer,
        claim: Claim,
        now: datetime,
    ) -> Processed:
        """The vend of a request claimed earlier (demo slow meters): do it and store it."""
        existing = find_request(
            txn, self._keyring, client_id=claim.client_id, request_id=claim.request_id
        )
        if existing is not None and existing.response is not None:
            return Processed(existing.response, replayed=True)
        response = self._credit_vend_work(txn, ctx, purchase, renderer, now, claim, True)
        store_response(
            txn, self._keyring, claim, response.body, http_status=response.http_status, now=now
        )
        return Processed(response, replayed=False)

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
        revalidate(txn, principal)
        vendable = self._vendable(txn, purchase.meter, principal)
        self._check_behaviour(vendable.meter, delayed)
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
        info = self.meter_info(txn, updated, tariff=tariff, now=now, product=product)
        info = replace(info, customer=_customer_days(info.customer, meter, now))
        result = _vend_result(info, token, tariff, breakdown, purchase, key_change, fbe_token)
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
        txn.execute(_AFTER_PURCHASE, {"p_id": meter.id, **values})
        reduce_debt(txn, meter, breakdown.debt_recovered, now=now)
        if breakdown.debt_recovered:
            return None
        return replace(meter, **{**values, "last_purchase_at": now.astimezone(UTC)})

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
            revalidate(txn, ctx.principal)
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
                txn.execute(
                    update(meters).where(meters.c.id == vendable.meter.id).values(fbe_month=month)
                )
            auditing.record_free_token(
                txn, ctx, vendable.meter.msno, kind, units, audit_details, now=now
            )
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

        return process_once(txn, self._keyring, ctx.key, work, now=now)

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
            revalidate(txn, ctx.principal)
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

        return process_once(txn, self._keyring, ctx.key, work, now=now)

    def _vendable_for_key_change(
        self, txn: Txn, query: MeterQuery, principal: Principal, target: KeyData | None = None
    ) -> _Vendable:
        meter = vendable_meter(txn, query.msno)
        check_vendor_may_sell(txn, principal.vendor_id, meter.sgc)
        field_key = self._field_key(txn, meter, query)
        to = target or self._engine.target_key(txn, meter)
        return _Vendable(meter, None, field_key, to)

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
            revalidate(txn, ctx.principal)
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
            auditing.record_engineering(txn, ctx, meter.msno, kind, value, now=now)
            token = EngineeringToken(
                kind=kind,
                tokens=(sts.digits,),
                description=_ENGINEERING_DESCRIPTIONS[kind],
                meter=self.meter_info(txn, meter, now=now),
                value=value,
                credit_token=credit,
            )
            return renderer.engineering(ctx.request, token)

        return process_once(txn, self._keyring, ctx.key, work, now=now)

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
            revalidate(txn, principal)
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
                reduce_debt(txn, meter, amount.amount, now=now)
            else:
                txn.execute(
                    update(meters).where(meters.c.id == meter.id).values(service_charge_month=month)
                )
            result = PaymentResult(
                meter=self.meter_info(txn, meter, now=now),
                charge=charge,
                amount=amount,
                tender=tender,
                change=tender - amount,
            )
            return renderer.payment(ctx.request, result, sold.sale, sold.vendor_available)

        return process_once(txn, self._keyring, ctx.key, work, now=now)


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


def _customer_days(customer: Customer | None, meter: MeterRecord, now: datetime) -> Customer | None:
    """Days since the purchase before this one (the registry already holds this one)."""
    if customer is None or meter.last_purchase_at is None:
        return customer
    return replace(customer, days_since_last_purchase=max((now - meter.last_purchase_at).days, 0))


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
__all__ = ["EmbeddedBackend", "EmbeddedSettings", "SlowMeter", "UnknownMeter"]
