"""The contract between the protocol layers (``xmlvend.server`` today; SMS/USSD/web later)
and the utility side (embedded STS engine and meter registry, or a utility's own upstream
XMLVend server).

The utility side returns plain domain results (these dataclasses) and never builds protocol
messages; the protocol layer never reaches into meters, tariffs or tokens. Operations that
change state (a vend, an FBE token, a key change) take a :class:`RequestContext` and a
*render* callback: the utility side claims the request key, does the work, calls ``render``
with the result and stores what it returns, all in one database transaction where it can
(embedded), or as hold → upstream call → settle/fail where it cannot (upstream). The caller
gets the stored response back, so a replay is byte-for-byte the same.

Everything asynchronous returns a Twisted ``Deferred``; database work is run through the
injected :class:`TxnRunner`, so tests can run it synchronously.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Concatenate, Literal, ParamSpec, Protocol

from twisted.internet.defer import Deferred

from vending.auth import Principal
from vending.money import Money
from vending.products import Pricing, Product
from vending.requests import Processed, RequestKey, StoredResponse
from vending.sales import Sale, SaleOrder
from vending.storage.database import Txn

P = ParamSpec("P")


class TxnRunner(Protocol):
    """Runs a named transaction function off the reactor thread (see vending.storage)."""

    def run(
        self,
        desc: str,
        fn: Callable[Concatenate[Txn, P], Any],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> Deferred: ...


# --- identifying a meter ------------------------------------------------------------------------


@dataclass(frozen=True)
class MeterQuery:
    """How a request names a meter: at least its number; key data when the client sent it
    (b:MeterDetail / b:ExtMeterDetail / track 2 of a meter card)."""

    msno: str
    sgc: str | None = None
    krn: int | None = None
    ti: str | None = None
    at: str | None = None
    tt: str | None = None
    track2: str | None = None


# --- what the utility side answers ----------------------------------------------------------------


@dataclass(frozen=True)
class UtilityInfo:
    name: str
    address: str
    tax_ref: str


@dataclass(frozen=True)
class Customer:
    name: str
    address: str
    account_no: str | None = None
    contact_no: str | None = None
    loc_ref: str | None = None
    days_since_last_purchase: int | None = None


@dataclass(frozen=True)
class MeterInfo:
    msno: str
    sgc: str
    krn: int
    ti: str
    # STS algorithm technology ("07") and token technology ("02" numeric, "01" magcard).
    at: str
    tt: str
    utility: UtilityInfo
    customer: Customer | None = None
    tariff_name: str | None = None
    can_vend: bool = True
    fbe_due: bool = False
    min_vend: Money | None = None
    max_vend: Money | None = None


CreditTokenKind = Literal["sale", "fbe", "free", "mct"]


@dataclass(frozen=True)
class CreditToken:
    """One 20-digit credit token and what it carries."""

    kind: CreditTokenKind
    token: str
    units: Decimal
    si_unit: str = "kWh"
    resource: str = "Electricity"
    description: str = "Prepayment Sale"


@dataclass(frozen=True)
class KeyChange:
    """Key change tokens (2 for STA, 4 for MISTY1), encrypted under the meter's old key."""

    tokens: tuple[str, ...]
    from_sgc: str
    from_krn: int
    from_ti: str
    to_sgc: str
    to_krn: int
    to_ti: str
    # A set-power-limit token matching the new tariff index, when the utility issues one.
    power_limit_token: str | None = None


@dataclass(frozen=True)
class Charge:
    """A receipt line besides the energy: a service charge or a debt recovery."""

    kind: Literal["service", "debt"]
    description: str
    amount: Money
    tax: Money
    account_no: str | None = None
    # Debt left after this recovery (debt lines only).
    balance: Money | None = None


@dataclass(frozen=True)
class CreditVendResult:
    """The breakdown of one electricity purchase, as the receipt shows it.

    ``amount`` is the price of the purchase (what the vendor pays, the sale's amount)::

        amount == credit + credit_tax + sum(c.amount + c.tax for c in charges) + less_round
        tender == amount + change

    ``tender`` is what the customer handed over (the request's cash tender, else the
    amount), ``change`` what is given back, ``less_round`` what of the amount could not be
    credited (always zero for our own engine, which rounds units up: see
    :mod:`utilities.billing`; an upstream utility's receipt may carry some).
    FBE, free issue and meter credit transfer results have ``amount`` zero.

    On the wire, XMLVend's ``lessRound`` is the receipt total after rounding,
    ``amount - less_round`` (the sum of the lines), as deployed servers send it (reference
    §3.5: lessRound = tenderAmt = 90.00 on a 90.00 sale); see :meth:`receipt_total`.
    ``tax_rate`` is the VAT percentage (``Decimal("15")``).
    """

    meter: MeterInfo
    token: CreditToken
    credit: Money
    credit_tax: Money
    tax_rate: Decimal
    tender: Money
    less_round: Money
    change: Money
    tariff_name: str | None = None
    amount: Money | None = None  # None only from older callers: then tender - change
    charges: tuple[Charge, ...] = ()
    key_change: KeyChange | None = None
    fbe_token: CreditToken | None = None
    # The utility's own receipt number (upstream); ours is the sale's receipt number.
    utility_receipt_no: str | None = None

    @property
    def price(self) -> Money:
        """What the purchase cost (``amount``; ``tender - change`` from older callers)."""
        return self.amount if self.amount is not None else self.tender - self.change

    @property
    def receipt_total(self) -> Money:
        """The sum of the receipt lines: XMLVend's ``lessRound``."""
        return self.price - self.less_round


@dataclass(frozen=True)
class TokenInfo:
    """What an issued token carries (verifyReq)."""

    token: str
    token_class: int
    subclass: int
    tid: int
    transfer_amount: Decimal
    issued_at: datetime | None = None


@dataclass(frozen=True)
class EngineeringToken:
    """A management (class 2) or test/display (class 1) token."""

    kind: str
    tokens: tuple[str, ...]
    description: str
    meter: MeterInfo | None = None
    key_change: KeyChange | None = None
    # The value the token sets: watts (power_limit, phase_unbalance), register
    # (clear_credit, 0xFFFF = all), factor (water_factor), 0.1 kWh units (default_credit),
    # the class 1 control field (test/display kinds).
    value: int | None = None
    # Manufacturer code (class 1), at/tt for nonMeterSpecificEng responses.
    manufacturer_code: str | None = None
    at: str | None = None
    tt: str | None = None
    # default_credit: the credit token as a CreditToken (units, resource).
    credit_token: CreditToken | None = None


#: Meter-specific engineering kinds (m:meterSpecificEngReq xsi:types, in that order):
#: PwrLmtReq, PhUnbalReq, ClearCreditReq, ClearTamperReq, DefCreditReq, EngKCTReq,
#: SetWaterFactorReq.
MeterEngineeringKind = Literal[
    "power_limit",
    "phase_unbalance",
    "clear_credit",
    "clear_tamper",
    "default_credit",
    "key_change",
    "water_factor",
]

#: Class 1 test/display kinds (m:nonMeterSpecificEngReq xsi:types): TestAllReq,
#: TestBreakerReq, TestDisplayReq, DispPwrLmtReq, DispTIReq, DispKRNReq, DispTamperReq,
#: DispInstPwrReq, DispConsTotReq, DispPhUnbalanceReq, DispVerReq.
TestTokenKind = Literal[
    "test_all",
    "test_breaker",
    "test_display",
    "disp_pwr_lmt",
    "disp_ti",
    "disp_krn",
    "disp_tamper",
    "disp_inst_pwr",
    "disp_cons_tot",
    "disp_ph_unbalance",
    "disp_ver",
]


@dataclass(frozen=True)
class EngineeringRequest:
    """A meter-specific engineering token request.

    ``value``: watts for power_limit / phase_unbalance (the server converts the request's
    kW), the register for clear_credit (None = all, 0xFFFF), the factor for water_factor,
    0.1 kWh units for default_credit (None = the configured default). key_change needs
    ``to_krn`` (and may move ``to_ti``; ``to_sgc`` must be the meter's SGC or None); the
    request's kctData "from" values go in ``meter`` (MeterQuery sgc/krn/ti).
    """

    kind: MeterEngineeringKind
    meter: MeterQuery
    value: int | None = None
    to_sgc: str | None = None
    to_krn: int | None = None
    to_ti: str | None = None


@dataclass(frozen=True)
class VerifyResult:
    """verifyReq: the token's facts and the credit transaction it came from."""

    meter: MeterInfo
    token_info: TokenInfo
    kind: str  # sale, fbe, free, mct, default_credit, key_change, engineering
    units: Decimal | None
    credit: Money | None
    credit_tax: Money | None
    tax_rate: Decimal | None
    tariff_name: str | None
    receipt_no: str | None


@dataclass(frozen=True)
class AccountPayment:
    """payAccReq: pay off a meter customer's debt or this month's service charge."""

    meter: MeterQuery
    kind: Literal["debt", "service"]
    amount: Money
    tender: Money | None = None
    product_code: str = "ELEC-DEMO"


@dataclass(frozen=True)
class PaymentResult:
    """The receipt of an account payment (one PayAccTx: DebtRecoveryTx or ServiceChrgTx)."""

    meter: MeterInfo
    charge: Charge
    amount: Money
    tender: Money
    change: Money


# --- requests ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Purchase:
    """A purchase for a meter: by currency amount (the usual case) or by units."""

    meter: MeterQuery
    amount: Money | None = None
    units: Decimal | None = None
    product_code: str = "ELEC-DEMO"
    # The customer's cash tender when the request carried one (payType); change = tender -
    # amount.
    tender: Money | None = None


@dataclass(frozen=True)
class CreditTransfer:
    """meterCreditTransferReq: units left in a replaced meter, moved to ``meter``."""

    meter: MeterQuery
    units: Decimal  # kWh
    old_msno: str
    ref_no: str | None = None


@dataclass(frozen=True)
class RequestContext:
    """Who asks, under which request key, and what to keep for recovery."""

    key: RequestKey
    principal: Principal
    terminal_id: str
    # The protocol layer's own parsed request; opaque here, handed back to the renderer.
    request: Any
    # The request without credentials, kept (encrypted) while a sale is pending upstream so
    # the response can be rendered again after a restart (ResponseRenderer.load).
    request_body: bytes
    received_at: datetime
    # Extra facts the protocol layer wants stored with the sale (never secrets).
    details: dict[str, Any] = field(default_factory=dict)

    def sale_order(
        self, product: Product, pricing: Pricing, target: str, **details: Any
    ) -> SaleOrder:
        """The sale this request makes for ``target`` (a meter number), by its principal at
        its terminal; ``details`` join the context's own in the sale's details."""
        return SaleOrder(
            vendor_id=self.principal.vendor_id,
            vendor_account_id=self.principal.account_id,
            product=product,
            pricing=pricing,
            target=target,
            terminal_id=self.terminal_id,
            operator_id=self.principal.operator_id,
            details={**self.details, **details},
        )


class ResponseRenderer(Protocol):
    """Implemented by the protocol layer: results in, exact response bytes out."""

    def vend(
        self, request: Any, result: CreditVendResult, sale: Sale | None, balance: Money | None
    ) -> StoredResponse:
        """A credit-vend-like response (creditVend, fbe, freeIssue, meterCreditTransfer)."""
        ...

    def engineering(self, request: Any, token: EngineeringToken) -> StoredResponse:
        """updateMeterKey, meterSpecificEng (every kind) responses."""
        ...

    def payment(
        self, request: Any, result: PaymentResult, sale: Sale, balance: Money
    ) -> StoredResponse:
        """A payAcc response."""
        ...

    def failure(self, request: Any, error: Exception) -> StoredResponse:
        """The fault answering a request that definitively failed (stored for replay)."""
        ...

    def load(self, request_body: bytes) -> Any:
        """Parse a stored ``request_body`` again (recovery after a restart)."""
        ...


class UtilityService(Protocol):
    """What the protocol layer may ask of the utility side (see utilities.service for the
    errors each raises). Read-only operations return plain results; state-changing ones
    return :class:`vending.requests.Processed` (the stored response, replayed or fresh)."""

    def confirm_meter(self, meter: MeterQuery) -> Deferred:  # -> MeterInfo
        ...

    def trial_vend(self, principal: Principal, purchase: Purchase) -> Deferred:
        # -> CreditVendResult with token "0" * 20; nothing stored, no money moves
        ...

    def credit_vend(
        self, ctx: RequestContext, purchase: Purchase, renderer: ResponseRenderer
    ) -> Deferred:  # -> Processed
        ...

    def fbe(
        self, ctx: RequestContext, meter: MeterQuery, renderer: ResponseRenderer
    ) -> Deferred: ...

    def free_issue(
        self, ctx: RequestContext, meter: MeterQuery, renderer: ResponseRenderer
    ) -> Deferred: ...

    def meter_credit_transfer(
        self, ctx: RequestContext, transfer: CreditTransfer, renderer: ResponseRenderer
    ) -> Deferred: ...

    def verify_token(self, principal: Principal, meter: MeterQuery, token: str) -> Deferred:
        # -> VerifyResult
        ...

    def update_meter_key(
        self, ctx: RequestContext, meter: MeterQuery, renderer: ResponseRenderer
    ) -> Deferred: ...

    def meter_specific_engineering(
        self, ctx: RequestContext, request: EngineeringRequest, renderer: ResponseRenderer
    ) -> Deferred: ...

    def non_meter_specific_engineering(
        self, principal: Principal, kind: TestTokenKind, at: str, tt: str
    ) -> Deferred:  # -> EngineeringToken (class 1, no state)
        ...

    def pay_account(
        self, ctx: RequestContext, payment: AccountPayment, renderer: ResponseRenderer
    ) -> Deferred: ...


__all__ = [
    "AccountPayment",
    "Charge",
    "CreditToken",
    "CreditTransfer",
    "CreditVendResult",
    "Customer",
    "EngineeringRequest",
    "EngineeringToken",
    "KeyChange",
    "MeterEngineeringKind",
    "MeterInfo",
    "MeterQuery",
    "PaymentResult",
    "Processed",
    "Purchase",
    "RequestContext",
    "ResponseRenderer",
    "TestTokenKind",
    "TokenInfo",
    "Txn",
    "TxnRunner",
    "UtilityInfo",
    "UtilityService",
    "VerifyResult",
]
