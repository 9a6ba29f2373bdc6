"""XMLVend messages of the upstream route: our requests to a utility's server, and its
answers mapped to the utility side's results (codec objects in, dataclasses out; no SQL)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal

from utilities.errors import UpstreamFault
from utilities.interface import (
    Charge,
    CreditToken,
    CreditVendResult,
    Customer,
    KeyChange,
    MeterInfo,
    MeterQuery,
    Purchase,
    TokenInfo,
    UtilityInfo,
    VerifyResult,
)
from vending.config import UpstreamRoute
from vending.errors import VendingError
from vending.money import Money
from xmlvend.codec import types_base as b
from xmlvend.codec import types_ext as ext
from xmlvend.codec import types_revenue as r
from xmlvend.codec.faults import SoapFault
from xmlvend.codec.token_classes import token_class_of

# Fault classes after which the utility may still have vended (or may yet): recover with a
# last-response advice instead of failing the sale.
UNCERTAIN_FAULTS = frozenset(
    {"SystemEx", "TransactionDelayedEx", "ServeryBusyEx", "IndeterminantLastResponseEx", None}
)


class UnusableResponse(Exception):
    """The utility answered, but not with something we can deliver (no token, bad money)."""


def device(identifier: str) -> b.DeviceID:
    if len(identifier) == 13 and identifier.isdigit():
        return b.EANDeviceID(ean=identifier)
    return b.GenericDeviceID(id=identifier)


def msg_id(moment: datetime, unique: int) -> b.MsgID:
    """A msgID: ``yyyymmddHHMMSS`` (UTC) and a 1..999999 unique number."""
    stamp = moment.astimezone(UTC).strftime("%Y%m%d%H%M%S")
    return b.MsgID(date_time=stamp, unique_number=str(unique % 999_999 + 1))


def header(route: UpstreamRoute, message_id: b.MsgID) -> b.RequestHeader:
    auth = None
    if route.op_name:
        auth = b.AuthCred(op_name=route.op_name, password=route.password or None)
    return b.RequestHeader(
        client_id=device(route.client_id),
        terminal_id=device(route.terminal_id or "1"),
        msg_id=message_id,
        auth_cred=auth,
    )


def meter_identifier(query: MeterQuery) -> b.MeterIdentifier:
    if query.sgc and query.krn is not None and query.ti:
        return b.MeterDetail(
            meter_type=b.MeterType(at=query.at or "07", tt=query.tt or "02"),
            msno=query.msno,
            sgc=query.sgc,
            krn=str(query.krn),
            ti=query.ti,
        )
    return b.MeterNumber(msno=query.msno)


def currency(money: Money) -> b.Currency:
    return b.Currency(value=money.to_decimal(), symbol=money.currency)


def credit_vend_request(
    route: UpstreamRoute, message_id: b.MsgID, purchase: Purchase, *, trial: bool = False
) -> r.AbstractCreditVendReq:
    if purchase.amount is not None:
        value: r.PurchaseValue = r.PurchaseValueCurrency(amt=currency(purchase.amount))
    else:
        assert purchase.units is not None
        value = r.PurchaseValueUnits(units=b.Units(value=purchase.units, si_unit="kWh"))
    pay_type = None
    if purchase.tender is not None:
        pay_type = b.Cash(tender_amt=currency(purchase.tender))
    cls = r.TrialCreditVendReq if trial else r.CreditVendReq
    return cls(
        header=header(route, message_id),
        resource=b.Electricity(),
        id_method=b.VendIDMethod(meter_identifier=meter_identifier(purchase.meter)),
        purchase_value=value,
        pay_type=pay_type,
    )


def confirm_customer_request(
    route: UpstreamRoute, message_id: b.MsgID, query: MeterQuery
) -> r.ConfirmCustomerReq:
    return r.ConfirmCustomerReq(
        header=header(route, message_id),
        id_method=b.VendIDMethod(meter_identifier=meter_identifier(query)),
    )


def verify_request(
    route: UpstreamRoute, message_id: b.MsgID, query: MeterQuery, token: str
) -> r.VerifyReq:
    return r.VerifyReq(
        header=header(route, message_id),
        token=b.STS1Token(sts_cipher=token),
        id_method=b.VendIDMethod(meter_identifier=meter_identifier(query)),
    )


def last_response_advice(
    route: UpstreamRoute, message_id: b.MsgID, original: b.MsgID
) -> b.LastRespAdviceReq:
    return b.LastRespAdviceReq(header=header(route, message_id), advice_req_msg_id=original)


def reversal_advice(
    route: UpstreamRoute, message_id: b.MsgID, original: b.MsgID
) -> b.ReversalAdviceReq:
    return b.ReversalAdviceReq(header=header(route, message_id), advice_req_msg_id=original)


# --- answers ---------------------------------------------------------------------------------


class MoneyReader:
    """Currency elements to Money, with the deployment's symbol aliases ("R" -> ZAR)."""

    def __init__(self, default: str, aliases: Mapping[str, str]) -> None:
        self._default = default
        self._aliases = dict(aliases)

    def __call__(self, value: b.Currency | None) -> Money | None:
        if value is None or value.value is None:
            return None
        symbol = (value.symbol or "").strip()
        code = self._aliases.get(symbol, symbol) or self._default
        try:
            return Money.parse(value.value, code)
        except VendingError as exc:
            raise UnusableResponse(f"amount {value.value} {symbol}: {exc.message}") from None


def fault_error(fault: SoapFault) -> UpstreamFault:
    cls = fault.fault_class or "SystemEx"
    desc = fault.desc or fault.faultstring or cls
    return UpstreamFault(cls, f"utility: {desc}")


def is_uncertain(fault: SoapFault) -> bool:
    return fault.fault_class in UNCERTAIN_FAULTS


def _tax(tx: r.Tx, read: MoneyReader, zero: Money) -> tuple[Money, Decimal | None]:
    total = zero
    rate = None
    for tax in tx.tax or ():
        amount = read(tax.amt)
        if amount is not None:
            total = total + amount
        if isinstance(tax, b.VAT) and tax.rate is not None:
            # Deployed servers send fractions (0.1500) as well as percentages (15).
            rate = tax.rate * 100 if 0 < tax.rate < 1 else tax.rate
    return total, rate


def _token_digits(issue: b.MeterSpecificTokenIssue | None) -> str:
    token = None if issue is None else issue.token
    digits = getattr(token, "sts_cipher", None)
    if not isinstance(digits, str) or len(digits) != 20 or not digits.isdigit():
        raise UnusableResponse("the utility's receipt has no 20-digit token")
    return digits


def _meter_info(
    detail: b.MeterDetail | None,
    fallback_msno: str,
    utility: b.UtilityDetail | None,
    customer: b.CustVendDetail | None,
) -> MeterInfo:
    util = UtilityInfo(
        name=(utility.name if utility else None) or "Utility",
        address=(utility.address if utility else None) or "-",
        tax_ref=(utility.tax_ref if utility else None) or "0000000000",
    )
    cust = None
    if customer is not None:
        cust = Customer(
            name=customer.name or "Customer",
            address=customer.address or "-",
            account_no=customer.acc_no,
            contact_no=customer.contact_no,
            loc_ref=customer.loc_ref,
            days_since_last_purchase=customer.days_last_purchase,
        )
    meter_type = None if detail is None else detail.meter_type
    krn = None if detail is None else detail.krn
    return MeterInfo(
        msno=(detail.msno if detail else None) or fallback_msno,
        sgc=(detail.sgc if detail else None) or "000000",
        krn=int(krn) if krn and str(krn).isdigit() else 1,
        ti=(detail.ti if detail else None) or "01",
        at=(meter_type.at if meter_type else None) or "07",
        tt=(meter_type.tt if meter_type else None) or "02",
        utility=util,
        customer=cust,
    )


def vend_result(resp: r.CreditVendResp, purchase: Purchase, read: MoneyReader) -> CreditVendResult:
    """The utility's creditVendResp as our result (raises UnusableResponse)."""
    receipt = resp.credit_vend_receipt
    if receipt is None or receipt.transactions is None:
        raise UnusableResponse("the utility's response has no receipt")
    txs = receipt.transactions.tx or ()
    currency_code = purchase.amount.currency if purchase.amount else None
    sale_tx = fbe_tx = None
    charges: list[Charge] = []
    for tx in txs:
        if isinstance(tx, r.CreditVendTx):
            if isinstance(tx.credit_token_issue, b.FBECredTokenIssue):
                fbe_tx = tx
            elif sale_tx is None:
                sale_tx = tx
    if sale_tx is None:
        raise UnusableResponse("the utility's receipt has no credit transaction")
    credit = read(sale_tx.amt)
    if credit is None:
        raise UnusableResponse("the utility's credit transaction has no amount")
    currency_code = credit.currency
    zero = Money.zero(currency_code)
    credit_tax, rate = _tax(sale_tx, read, zero)
    for tx in txs:
        if isinstance(tx, r.PayAccTx):
            amount = read(tx.amt) or zero
            tax, _ = _tax(tx, read, zero)
            debt = isinstance(tx, r.DebtRecoveryTx)
            charges.append(
                Charge(
                    kind="debt" if debt else "service",
                    description=tx.acc_desc or ("Debt recovery" if debt else "Service charge"),
                    amount=amount,
                    tax=tax,
                    account_no=tx.acc_no,
                    balance=read(tx.balance) if isinstance(tx, r.DebtRecoveryTx) else None,
                )
            )
    issue = sale_tx.credit_token_issue
    units = issue.units.value if issue.units is not None else None
    token = CreditToken(
        kind="sale",
        token=_token_digits(issue),
        units=Decimal(units or 0),
        si_unit=(issue.units.si_unit if issue.units else None) or "kWh",
        description=issue.desc or "Prepayment Sale",
    )
    fbe = None
    if fbe_tx is not None:
        fbe_issue = fbe_tx.credit_token_issue
        fbe = CreditToken(
            kind="fbe",
            token=_token_digits(fbe_issue),
            units=Decimal(fbe_issue.units.value if fbe_issue.units else 0),
            description=fbe_issue.desc or "Free Basic Electricity",
        )
    key_change = None
    kc = sale_tx.kc_token_issue
    if kc is not None and isinstance(kc.token, b.KCToken) and kc.kct_data is not None:
        data = kc.kct_data
        tokens = [kc.token.set1st_meter_key, kc.token.set2nd_meter_key]
        if isinstance(kc.token, ext.MISTY1KCToken):  # a server of ours: 4-token key change
            tokens += [kc.token.set3rd_meter_key, kc.token.set4th_meter_key]
        key_change = KeyChange(
            tokens=tuple(token.sts_cipher for token in tokens),
            from_sgc=data.from_sgc,
            from_krn=int(data.from_krn),
            from_ti=data.from_ti,
            to_sgc=data.to_sgc,
            to_krn=int(data.to_krn),
            to_ti=data.to_ti,
        )
    transactions = receipt.transactions
    lines = credit + credit_tax
    for charge in charges:
        lines = lines + charge.amount + charge.tax
    # lessRound is the receipt total after rounding (deployed servers send lessRound =
    # tenderAmt on an exact sale); what was paid beyond the lines is the rounding.
    change = read(transactions.change) or zero
    rounded_total = read(transactions.less_round) or lines
    tender = read(transactions.tender_amt) or purchase.tender or rounded_total + change
    less_round = tender - change - lines
    return CreditVendResult(
        meter=_meter_info(
            issue.meter_detail, purchase.meter.msno, resp.utility, resp.cust_vend_detail
        ),
        token=token,
        credit=credit,
        credit_tax=credit_tax,
        tax_rate=rate if rate is not None else Decimal(0),
        tender=tender,
        less_round=less_round,
        change=change,
        tariff_name=None if sale_tx.tariff is None else sale_tx.tariff.name,
        charges=tuple(charges),
        key_change=key_change,
        fbe_token=fbe,
        utility_receipt_no=receipt.receipt_no,
        amount=tender - change,
    )


def meter_info(resp: r.ConfirmCustomerResp, query: MeterQuery, read: MoneyReader) -> MeterInfo:
    results = resp.confirm_cust_result or ()
    if not results:
        raise UnusableResponse("the utility confirmed no customer")
    first = results[0]
    info = _meter_info(first.meter_detail, query.msno, None, first.cust_vend_detail)
    config = first.cust_vend_config
    from dataclasses import replace

    return replace(
        info,
        can_vend=bool(config.can_vend) if config is not None else True,
        fbe_due=bool(config.fbe_due) if config is not None else False,
        min_vend=read(config.min_vend_amt) if config is not None else None,
        max_vend=read(config.max_vend_amt) if config is not None else None,
    )


# What the token was, in our VerifyResult's words, by STS class.
_KIND_OF_CLASS = {0: "sale", 1: "engineering", 2: "engineering"}


def verify_result(
    resp: r.VerifyResp, query: MeterQuery, token: str, read: MoneyReader
) -> VerifyResult:
    """The utility's verifyResp as our result (raises UnusableResponse)."""
    tx = resp.credit_vend_tx
    if tx is None:
        raise UnusableResponse("the utility's answer has no credit transaction")
    issue = tx.credit_token_issue
    meter = _meter_info(
        getattr(issue, "meter_detail", None), query.msno, resp.utility, resp.cust_vend_detail
    )
    info = resp.token_info
    if not isinstance(info, b.STS1TokenInfo):
        raise UnusableResponse("the utility's answer has no STS token information")
    token_class, subclass = token_class_of(info.token_class)
    credit = read(tx.amt)
    zero = Money.zero(credit.currency) if credit is not None else None
    credit_tax, rate = _tax(tx, read, zero) if zero is not None else (None, None)
    units_element = getattr(issue, "units", None)
    units = None
    if token_class == 0:
        units = units_element.value if units_element is not None else info.transfer_amt
    return VerifyResult(
        meter=meter,
        token_info=TokenInfo(
            token=token,
            token_class=token_class,
            subclass=subclass,
            tid=int(info.token_id),
            transfer_amount=info.transfer_amt,
        ),
        kind=_KIND_OF_CLASS[token_class],
        units=units,
        credit=credit,
        credit_tax=credit_tax,
        tax_rate=rate,
        tariff_name=None if tx.tariff is None else tx.tariff.name,
        receipt_no=tx.receipt_no,
    )
