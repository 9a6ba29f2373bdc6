"""Fault classes provoked with the test meters (reference §4), and vendor-side faults."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from tools.conformance import builders, steps
from tools.conformance.checks import check, expect_fault, expect_response
from tools.conformance.session import Session, Skip
from xmlvend.codec.types_base import AuthCred, EANDeviceID
from xmlvend.codec.types_meter import ConfirmMeterResp
from xmlvend.codec.types_revenue import (
    ConfirmCustomerResp,
    CreditVendResp,
    ServiceChrgTx,
    TrialCreditVendResp,
)


def ean13(first12: str) -> str:
    """Complete 12 digits with the EAN-13 check digit."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return first12 + str((10 - total % 10) % 10)


# A valid EAN-13 no vendor of ours has.
UNKNOWN_CLIENT_EAN = ean13("600470899999")


def _vend_fault(s: Session, role: str, classes: set[str]) -> str:
    s.needs("CreditVendRequest")
    msno = s.meter(role)
    request = builders.credit_vend(s.header(), msno, s.profile.amount, s.profile.currency)
    reply = s.exchange(request, label=f"creditVendReq ({role} meter)")
    name = expect_fault(reply, classes, what=f"{role} meter")
    return f"{name}: {reply.fault.desc}"  # type: ignore[union-attr]


def blocked_meter(s: Session) -> str:
    return _vend_fault(s, "blocked", {"BlockedMeterEx"})


def unknown_meter(s: Session) -> str:
    return _vend_fault(s, "unknown", {"UnknownMeterEx"})


def check_digit(s: Session) -> str:
    return _vend_fault(s, "check_digit", {"MSNOCheckDigitEx"})


def sgc_not_authorised(s: Session) -> str:
    return _vend_fault(s, "sgc_restricted", {"SGCAuthorisationEx"})


def upstream_failure(s: Session) -> str:
    return _vend_fault(s, "upstream_failure", {"SystemEx"})


def unknown_meter_confirm(s: Session) -> str:
    reply = s.exchange(
        builders.confirm_customer(s.header(), s.meter("unknown")), label="confirmCustomerReq"
    )
    return expect_fault(reply, {"UnknownMeterEx", "ConfirmCustomerEx"}, what="unknown meter")


def wrong_password(s: Session) -> str:
    header = s.header()
    op_name = header.auth_cred.op_name if header.auth_cred else "operator"
    header = dataclasses.replace(header, auth_cred=AuthCred(op_name=op_name, password="Wr0ngPass"))
    reply = s.exchange(
        builders.confirm_customer(header, s.meter("normal")), label="confirmCustomerReq"
    )
    return expect_fault(
        reply, {"RequestAuthorisationEx", "ClientIDAuthorisationEx"}, what="wrong password"
    )


def unknown_client(s: Session) -> str:
    header = dataclasses.replace(s.header(), client_id=EANDeviceID(ean=UNKNOWN_CLIENT_EAN))
    reply = s.exchange(
        builders.confirm_customer(header, s.meter("normal")), label="confirmCustomerReq"
    )
    return expect_fault(
        reply, {"ClientIDAuthorisationEx", "RequestAuthorisationEx"}, what="unknown clientID"
    )


def vendor_credit(s: Session) -> str:
    """A sale the vendor's available credit cannot cover. The cost of a sale to the vendor
    (after commission) is measured with one small sale first. When the primary client has
    too much credit for one sale to exceed, the low-credit client is used."""
    s.needs("CreditVendRequest", "ConfirmCustomerRequest")
    amount, reason = _amount_beyond_credit(s)
    low = s.profile.low_credit_client
    if amount is None and low is not None:
        if s.profile.tls.has_client_cert:
            raise Skip(f"{reason}; the low-credit client has no certificate under mutual TLS")
        s = s.as_client(low)
        amount, reason = _amount_beyond_credit(s)
    if amount is None:
        raise Skip(f"{reason}; use a client with less credit (--low-credit-client-id)")
    request = builders.credit_vend(s.header(), s.meter("normal"), amount, s.profile.currency)
    reply = s.exchange(request, label=f"creditVendReq ({amount}, {s.profile.client.client_id})")
    return expect_fault(reply, {"VendorCreditEx"}, what=f"sale of {amount} beyond the credit")


def _amount_beyond_credit(s: Session) -> tuple[Decimal | None, str]:
    """A sale amount the client's available credit cannot cover, or None and why not."""
    credit = steps.balance_probe(s)
    if credit is None:
        return None, "cannot observe the available credit (no statement or trial vend)"
    msno = s.meter("normal")
    confirm = s.exchange(builders.confirm_customer(s.header(), msno), label="confirmCustomerReq")
    config = expect_response(confirm, ConfirmCustomerResp).confirm_cust_result[0].cust_vend_config
    # The vendor pays at least half of a sale's price (commission below 50 %): twice the
    # available credit cannot be covered whatever the commission.
    amount = (credit * 2 + Decimal("1.00")).quantize(Decimal("0.01"))
    if config.max_vend_amt is not None and amount > config.max_vend_amt.value:
        return None, (
            f"available credit {credit} of {s.profile.client.client_id} is too high to exceed "
            f"with one sale of at most {config.max_vend_amt.value}"
        )
    return amount, ""


def fbe_not_eligible(s: Session) -> str:
    reply = s.exchange(builders.fbe(s.header(), s.meter("normal")), label="fbeReq (normal meter)")
    return expect_fault(reply, {"FBEEx"}, what="FBE for a meter not registered for FBE")


def slow_upstream(s: Session) -> str:
    """The answer comes within the client's timeout however slow the utility; a delayed
    sale is delivered later by a last-response advice."""
    s.needs("CreditVendRequest")
    msno = s.meter("slow")
    amount = s.profile.amount
    request = builders.credit_vend(s.header(), msno, amount, s.profile.currency)
    reply = s.exchange(request, label="creditVendReq (slow meter)")
    check(reply.http.elapsed < 10, f"answered after {reply.http.elapsed:.1f} s (over 10 s)")
    if not reply.is_fault:
        steps.check_vend_response(s, reply, msno, amount, None, "creditVendReq")
        return f"sold within {reply.http.elapsed:.1f} s"
    name = expect_fault(reply, {"SystemEx"}, what="slow upstream, no sale in time")
    advice = steps.last_response(s, request.header.msg_id)
    resp = steps.expect_last_response(advice, request.header.msg_id, "lastRespAdviceReq")
    inner = resp.last_response
    check(isinstance(inner, CreditVendResp), f"lastResponse is {type(inner).__name__}")
    return f"{name} after {reply.http.elapsed:.1f} s, then the sale by last-response advice"


SERVICE_SALE = Decimal("120.00")  # covers our demo's monthly charge (R100 + VAT)


def service_charge_not_due(s: Session) -> str:
    """The month's service charge is paid with the first sale of the month; after that a
    service charge payment finds nothing due."""
    s.needs("CreditVendRequest")
    msno = s.meter("service_charge")
    due = True
    if s.advertised is None or "TrialCreditVendRequest" in s.advertised:
        request = builders.credit_vend(
            s.header(), msno, SERVICE_SALE, s.profile.currency, trial=True
        )
        trial = expect_response(
            s.exchange(request, label="trialCreditVendReq"), TrialCreditVendResp
        )
        due = any(isinstance(tx, ServiceChrgTx) for tx in trial.credit_vend_receipt.transactions.tx)
    note = "no charge due this month"
    if due:
        sale = steps.vend(s, msno, amount=SERVICE_SALE)
        txs = sale.resp.credit_vend_receipt.transactions.tx
        check(
            any(isinstance(tx, ServiceChrgTx) for tx in txs), "the charge was due, no ServiceChrgTx"
        )
        note = "the first sale of the month paid the charge (ServiceChrgTx)"
    payment = builders.pay_service_charge(s.header(), msno, Decimal("115.00"), s.profile.currency)
    reply = s.exchange(payment, label="payAccReq ServiceChrg")
    name = expect_fault(reply, {"ServiceChrgEx"}, what="service charge already paid")
    return f"{note}; then {name}"


def no_debt(s: Session) -> str:
    request = builders.pay_debt(s.header(), s.meter("normal"), Decimal("10.00"), s.profile.currency)
    reply = s.exchange(request, label="payAccReq (no debt)")
    return expect_fault(reply, {"DebtEx"}, what="debt payment without debt")


def verify_unknown_token(s: Session) -> str:
    request = builders.verify(s.header(), s.meter("normal"), "12345678901234567890")
    reply = s.exchange(request, label="verifyReq")
    return expect_fault(reply, {"VerifyTokenEx"}, what="a token never issued")


def key_update_unknown_meter(s: Session) -> str:
    key = s.profile.key_change_from or ("123456", "1", "01")
    request = builders.update_meter_key(s.header(), s.meter("unknown"), *key)
    reply = s.exchange(request, label="updateMeterKeyReq (unknown meter)")
    return expect_fault(
        reply, {"UnknownMeterUpdateMtrKeyEx", "UnknownMeterEx"}, what="unknown meter"
    )


def key_update_same(s: Session) -> str:
    s.needs("ConfirmMeterRequest")
    msno = s.meter("normal")
    confirm = s.exchange(builders.confirm_meter(s.header(), msno), label="confirmMeterReq")
    detail = expect_response(confirm, ConfirmMeterResp).confirm_meter_result.meter_detail
    request = builders.update_meter_key(s.header(), msno, detail.sgc, detail.krn, detail.ti)
    reply = s.exchange(request, label="updateMeterKeyReq (current key)")
    return expect_fault(reply, {"UpdateMtrKeySameEx"}, what="the key is current")


def wrong_supply_group(s: Session) -> str:
    s.needs("CreditVendRequest")
    msno = s.meter("normal")
    request = builders.vend_with_key_data(
        s.header(), msno, "999999", "1", "01", s.profile.amount, s.profile.currency
    )
    reply = s.exchange(request, label="creditVendReq (SGC 999999)")
    return expect_fault(reply, {"STSDataEx"}, what="key data of another supply group")


def reprint_nothing(s: Session) -> str:
    reply = s.exchange(builders.reprint(s.header(), s.meter("unknown")), label="reprintReq")
    return expect_fault(reply, {"ReprintEx", "UnknownMeterEx"}, what="nothing to reprint")


# Operations whose request is only a BaseReq, so the kit can send them without a typed
# class: the unadvertised one is the use case the server does not support.
_BARE_OPERATIONS = (
    ("DepositRequest", "depositReq"),
    ("ReprintDepRequest", "reprintDepReq"),
    ("VendorStatementRequest", "vendorStatementReq"),
)


def unsupported_use_case(s: Session) -> str:
    advertised = s.advertised
    if advertised is None:
        raise Skip("the WSDL could not be read, so no operation is known to be unsupported")
    for operation, element in _BARE_OPERATIONS:
        if operation not in advertised:
            header = s.header()
            body = builders.base_request_as(header, element)
            reply = s.exchange_raw(body, header, label=element)
            expect_fault(reply, {"UseCaseSupportEx"}, what=f"{operation} is not advertised")
            return f"{element}: UseCaseSupportEx"
    raise Skip("the server advertises every operation the kit can send bare")
