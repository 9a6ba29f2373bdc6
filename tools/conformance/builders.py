"""The requests the kit sends, built with the codec's typed messages so that each one is
strict and schema-valid (the malformed cases start from these bytes and break them on
purpose, see :mod:`tools.conformance.malformed`). ``evd client`` uses the same builders.
"""

from __future__ import annotations

from decimal import Decimal

from lxml import etree

from tools.conformance.profile import Credentials
from xmlvend.codec import render_request
from xmlvend.codec.namespaces import REVENUE
from xmlvend.codec.types_base import (
    AuthCred,
    Cash,
    ConfirmationAdviceReq,
    Currency,
    CustDetail,
    EANDeviceID,
    Electricity,
    GenericDeviceID,
    LastRespAdviceReq,
    MeterDetail,
    MeterNumber,
    MeterType,
    MsgID,
    PwrLmt,
    RequestHeader,
    ReversalAdviceReq,
    STS1Token,
    Units,
    VendIDMethod,
)
from xmlvend.codec.types_ext import (
    BillFetchReq,
    BillIdentifier,
    BillParam,
    ProductIdentifier,
    Voucher,
)
from xmlvend.codec.types_meter import (
    ConfirmMeterReq,
    CustReportFaultReq,
    MeterFaultReport,
    NetworkFaultReport,
    PwrLmtReq,
    TestAllReq,
    UpdateMeterKeyReq,
)
from xmlvend.codec.types_revenue import (
    ConfirmCustomerReq,
    CreditTransferDetail,
    CreditVendReq,
    DebtRecovery,
    FBEReq,
    FreeIssueReq,
    MeterCreditTransferReq,
    PayAccReq,
    PurchaseValueCurrency,
    PurchaseValueUnits,
    ReprintReq,
    ServiceChrg,
    TrialCreditVendReq,
    VendorStatementReq,
    VerifyReq,
)

STS_AT = "07"  # STS algorithm technology of STS1 meters
STS_TT = "02"  # numeric (keypad) token technology


def device_id(value: str) -> EANDeviceID | GenericDeviceID:
    """An EANDeviceID for 13 digits (how clients are identified), else a GenericDeviceID."""
    if len(value) == 13 and value.isdigit():
        return EANDeviceID(ean=value)
    return GenericDeviceID(id=value)


def request_header(client: Credentials, msg_id: MsgID) -> RequestHeader:
    """The BaseReq header of ``client``: clientID, terminalID, msgID, authCred."""
    auth = None
    if client.op_name:
        auth = AuthCred(op_name=client.op_name, password=client.password)
    return RequestHeader(
        client_id=device_id(client.client_id),
        terminal_id=GenericDeviceID(id=client.terminal_id),
        msg_id=msg_id,
        auth_cred=auth,
    )


def by_meter(msno: str) -> VendIDMethod:
    return VendIDMethod(meter_identifier=MeterNumber(msno=msno))


def money(value: Decimal, currency: str) -> Currency:
    return Currency(value=value, symbol=currency)


def credit_vend(
    header: RequestHeader,
    msno: str,
    amount: Decimal,
    currency: str,
    *,
    tender: Decimal | None = None,
    trial: bool = False,
) -> CreditVendReq:
    """A (trial) credit vend by currency amount, paid in cash when ``tender`` is given."""
    cls = TrialCreditVendReq if trial else CreditVendReq
    return cls(
        header=header,
        resource=Electricity(),
        id_method=by_meter(msno),
        purchase_value=PurchaseValueCurrency(amt=money(amount, currency)),
        pay_type=None if tender is None else Cash(tender_amt=money(tender, currency)),
    )


def voucher_vend(
    header: RequestHeader, product: str, amount: Decimal, currency: str, *, trial: bool = False
) -> CreditVendReq:
    """A voucher sale in our extension namespace (docs/EXTENSION-NAMESPACE.md):
    ``b:resource xsi:type="ext:Voucher"``, the product as ``ext:ProductIdentifier``."""
    cls = TrialCreditVendReq if trial else CreditVendReq
    return cls(
        header=header,
        resource=Voucher(product_code=product),
        id_method=VendIDMethod(meter_identifier=ProductIdentifier(product_code=product)),
        purchase_value=PurchaseValueCurrency(amt=money(amount, currency)),
    )


def bill_identifier(
    bill: tuple[str, str, str], mobile: str, ref_id: str | None = None
) -> BillIdentifier:
    """``ext:BillIdentifier`` of (biller id, customer parameter name, its value)."""
    biller, name, value = bill
    return BillIdentifier(
        params=(BillParam(name=name, value=value),), biller_id=biller, ref_id=ref_id, mobile=mobile
    )


def bill_fetch(header: RequestHeader, bill: tuple[str, str, str], mobile: str) -> BillFetchReq:
    """``ext:billFetchReq`` (docs/EXTENSION-NAMESPACE.md)."""
    return BillFetchReq(header=header, bill_identifier=bill_identifier(bill, mobile))


def bill_payment(
    header: RequestHeader,
    identifier: BillIdentifier,
    amount: Decimal,
    currency: str,
    *,
    trial: bool = False,
) -> CreditVendReq:
    """A bill payment: creditVendReq whose meterIdentifier is ``ext:BillIdentifier``."""
    cls = TrialCreditVendReq if trial else CreditVendReq
    return cls(
        header=header,
        resource=Voucher(),
        id_method=VendIDMethod(meter_identifier=identifier),
        purchase_value=PurchaseValueCurrency(amt=money(amount, currency)),
    )


def confirm_customer(header: RequestHeader, msno: str) -> ConfirmCustomerReq:
    return ConfirmCustomerReq(header=header, id_method=by_meter(msno))


def confirm_meter(header: RequestHeader, msno: str) -> ConfirmMeterReq:
    return ConfirmMeterReq(header=header, id_method=by_meter(msno))


def fbe(header: RequestHeader, msno: str) -> FBEReq:
    return FBEReq(header=header, resource=Electricity(), id_method=by_meter(msno))


def free_issue(header: RequestHeader, msno: str) -> FreeIssueReq:
    return FreeIssueReq(header=header, resource=Electricity(), id_method=by_meter(msno))


def reprint(header: RequestHeader, msno: str) -> ReprintReq:
    return ReprintReq(header=header, id_method=by_meter(msno))


def vendor_statement(header: RequestHeader) -> VendorStatementReq:
    return VendorStatementReq(header=header)


def last_response(header: RequestHeader, original: MsgID) -> LastRespAdviceReq:
    return LastRespAdviceReq(header=header, advice_req_msg_id=original)


def reversal(header: RequestHeader, original: MsgID) -> ReversalAdviceReq:
    return ReversalAdviceReq(header=header, advice_req_msg_id=original)


def confirmation(header: RequestHeader, original: MsgID) -> ConfirmationAdviceReq:
    return ConfirmationAdviceReq(header=header, advice_req_msg_id=original)


def pay_debt(header: RequestHeader, msno: str, amount: Decimal, currency: str) -> PayAccReq:
    return PayAccReq(
        header=header,
        req_amt=money(amount, currency),
        pay_type=Cash(tender_amt=money(amount, currency)),
        pay_account=DebtRecovery(desc="Debt payment", id_method=by_meter(msno)),
    )


def pay_service_charge(
    header: RequestHeader, msno: str, amount: Decimal, currency: str
) -> PayAccReq:
    return PayAccReq(
        header=header,
        req_amt=money(amount, currency),
        pay_type=Cash(tender_amt=money(amount, currency)),
        pay_account=ServiceChrg(desc="Service charge", id_method=by_meter(msno)),
    )


def verify(header: RequestHeader, msno: str, token: str) -> VerifyReq:
    return VerifyReq(header=header, token=STS1Token(sts_cipher=token), id_method=by_meter(msno))


def update_meter_key(
    header: RequestHeader, msno: str, sgc: str, krn: str, ti: str
) -> UpdateMeterKeyReq:
    """Key update from the key data the meter holds (a MeterDetail)."""
    detail = MeterDetail(
        meter_type=MeterType(at=STS_AT, tt=STS_TT), msno=msno, sgc=sgc, krn=krn, ti=ti
    )
    return UpdateMeterKeyReq(header=header, id_method=detail)


def vend_with_key_data(
    header: RequestHeader, msno: str, sgc: str, krn: str, ti: str, amount: Decimal, currency: str
) -> CreditVendReq:
    """A credit vend that identifies the meter with its key data (b:MeterDetail)."""
    detail = MeterDetail(
        meter_type=MeterType(at=STS_AT, tt=STS_TT), msno=msno, sgc=sgc, krn=krn, ti=ti
    )
    return CreditVendReq(
        header=header,
        resource=Electricity(),
        id_method=VendIDMethod(meter_identifier=detail),
        purchase_value=PurchaseValueCurrency(amt=money(amount, currency)),
    )


def power_limit(header: RequestHeader, msno: str, kw: str = "10.0") -> PwrLmtReq:
    return PwrLmtReq(
        header=header,
        resource=Electricity(),
        id_method=by_meter(msno),
        pwr_lmt=PwrLmt(value=kw, si_unit="kW"),
    )


def test_all(header: RequestHeader) -> TestAllReq:
    return TestAllReq(header=header, meter_type=MeterType(at=STS_AT, tt=STS_TT))


def meter_credit_transfer(
    header: RequestHeader, msno: str, old_msno: str, kwh: Decimal
) -> MeterCreditTransferReq:
    return MeterCreditTransferReq(
        header=header,
        resource=Electricity(),
        id_method=by_meter(msno),
        chg_out_units=PurchaseValueUnits(units=Units(value=kwh, si_unit="kWh")),
        credit_transfer_detail=CreditTransferDetail(old_msno=old_msno, ref_no="CONF1"),
    )


# The customer of the kit's fault reports (b:CustDetail: PersonName has no digits).
FAULT_CUSTOMER = CustDetail(
    name="Conformance Customer", address="1 Test Street", contact_no="0821234567"
)


def meter_fault(header: RequestHeader, msno: str, desc: str) -> CustReportFaultReq:
    return CustReportFaultReq(
        header=header,
        cust_detail=FAULT_CUSTOMER,
        cust_fault_report=MeterFaultReport(desc=desc, meter_info=by_meter(msno)),
    )


def network_fault(header: RequestHeader, desc: str) -> CustReportFaultReq:
    return CustReportFaultReq(
        header=header, cust_detail=FAULT_CUSTOMER, cust_fault_report=NetworkFaultReport(desc=desc)
    )


def base_request_as(header: RequestHeader, local_name: str) -> bytes:
    """A schema-valid request of a catalogue element whose content is only BaseReq (such
    as ``r:depositReq``): a vendorStatementReq renamed. The codec has no typed class for
    the operations it does not implement."""
    root = etree.fromstring(render_request(vendor_statement(header)))
    body = root[0]
    body[0].tag = f"{{{REVENUE}}}{local_name}"
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(root)
