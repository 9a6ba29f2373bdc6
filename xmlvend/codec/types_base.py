"""complexTypes of the XMLVend 2.1 *base* schema (namespace ``b``), one frozen dataclass each.

Element children declared here are base-qualified (``b:``), whatever message they end up in
(reference §1.1). Money is ``Currency(value: Decimal, symbol: str)``, symbols kept raw.
Date-times (``respDateTime``) and msgID parts are kept as the raw strings on the wire.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from xmlvend.codec.binding import attribute, element, group, xml_group, xml_type
from xmlvend.codec.envelope import SoapVersion
from xmlvend.codec.namespaces import BASE

B = BASE

# --------------------------------------------------------------------------------------------
# Identity of devices and messages


@xml_type(B, "DeviceID", abstract=True)
class DeviceID:
    """A vending client, terminal or server (abstract; EANDeviceID or GenericDeviceID)."""


@xml_type(B, "EANDeviceID")
class EANDeviceID(DeviceID):
    ean: str = attribute("ean")


@xml_type(B, "GenericDeviceID")
class GenericDeviceID(DeviceID):
    id: str = attribute("id")


@xml_type(B, "MsgID")
class MsgID:
    """Message identity. Both parts stay the raw wire strings: with clientID they form the
    idempotency key, so ``"000123"`` and ``"123"`` are different IDs."""

    date_time: str = attribute("dateTime")
    unique_number: str = attribute("uniqueNumber")


@xml_type(B, "AuthCred")
class AuthCred:
    op_name: str = element(B, "opName")
    password: str | None = element(B, "password", optional=True)
    new_password: str | None = element(B, "newPassword", optional=True)


# --------------------------------------------------------------------------------------------
# Money, units, tax


@xml_type(B, "Currency")
class Currency:
    value: Decimal = attribute("value", Decimal)
    symbol: str = attribute("symbol")


@xml_type(B, "Units")
class Units:
    value: Decimal = attribute("value", Decimal)
    si_unit: str = attribute("siUnit")


@xml_type(B, "Tax", abstract=True)
class Tax:
    amt: Currency = element(B, "amt", Currency)


@xml_type(B, "VAT")
class VAT(Tax):
    """``rate`` is a Percentage (0..100) by the schema; deployed servers also send a fraction
    (``0.1500``). The codec keeps the number as sent; interpreting it is the caller's job."""

    rate: Decimal = attribute("rate", Decimal)


# --------------------------------------------------------------------------------------------
# Resources


@xml_type(B, "Resource", abstract=True)
class Resource:
    """The prepaid resource being requested (abstract)."""


@xml_type(B, "Electricity")
class Electricity(Resource):
    pass


@xml_type(B, "Water")
class Water(Resource):
    pass


@xml_type(B, "Gas")
class Gas(Resource):
    pass


@xml_type(B, "ConnectionTime")
class ConnectionTime(Resource):
    pass


@xml_type(B, "CurrencyResource")
class CurrencyResource(Resource):
    pass


# --------------------------------------------------------------------------------------------
# Meters and customers


@xml_type(B, "MeterType")
class MeterType:
    at: str = attribute("at")
    tt: str = attribute("tt")


@xml_type(B, "MeterIdentifier", abstract=True)
class MeterIdentifier:
    """How the meter is identified (abstract)."""


@xml_type(B, "MeterNumber")
class MeterNumber(MeterIdentifier):
    msno: str = attribute("msno")


@xml_type(B, "MeterConfig", abstract=True)
class MeterConfig(MeterIdentifier):
    """Identifiers that carry the meter's key data (abstract)."""


@xml_type(B, "MeterCard")
class MeterCard(MeterConfig):
    track2_data: str = element(B, "track2Data")


@xml_type(B, "MeterDetail")
class MeterDetail(MeterConfig):
    meter_type: MeterType = element(B, "meterType", MeterType)
    msno: str = attribute("msno")
    sgc: str = attribute("sgc")
    krn: str = attribute("krn")
    ti: str = attribute("ti")


@xml_type(B, "ExtMeterDetail")
class ExtMeterDetail(MeterDetail):
    use_stt: bool | None = attribute("useSTT", bool, optional=True)
    track2_data: str = attribute("track2Data")


@xml_type(B, "CustIdentifier", abstract=True)
class CustIdentifier:
    """How the customer is identified (abstract)."""


@xml_type(B, "CustName")
class CustName(CustIdentifier):
    name: str = element(B, "name")


@xml_type(B, "CustAddress")
class CustAddress(CustIdentifier):
    address: str = element(B, "address")


@xml_type(B, "CustAccountNo")
class CustAccountNo(CustIdentifier):
    organisation: str | None = element(B, "organisation", optional=True)
    acc_no: str = attribute("accNo")


@xml_type(B, "CustIDNumber")
class CustIDNumber(CustIdentifier):
    id_no: str = attribute("idNo")


@xml_type(B, "IDMethod", abstract=True)
class IDMethod:
    """Identification method (abstract; VendIDMethod or CustIDMethod)."""


@xml_type(B, "VendIDMethod")
class VendIDMethod(IDMethod):
    meter_identifier: MeterIdentifier = element(B, "meterIdentifier", MeterIdentifier)


@xml_type(B, "CustIDMethod")
class CustIDMethod(IDMethod):
    cust_identifier: CustIdentifier = element(B, "custIdentifier", CustIdentifier)


@xml_type(B, "CustDetail")
class CustDetail:
    name: str = attribute("name")
    address: str = attribute("address")
    contact_no: str | None = attribute("contactNo", optional=True)
    acc_no: str | None = attribute("accNo", optional=True)
    loc_ref: str | None = attribute("locRef", optional=True)


@xml_type(B, "CustVendDetail")
class CustVendDetail(CustDetail):
    days_last_purchase: int | None = attribute("daysLastPurchase", int, optional=True)


@xml_type(B, "UtilityDetail")
class UtilityDetail:
    name: str = attribute("name")
    address: str = attribute("address")
    tax_ref: str = attribute("taxRef")


@xml_type(B, "VendorDetail")
class VendorDetail:
    name: str = attribute("name")
    address: str = attribute("address")


@xml_type(B, "BatchStatus")
class BatchStatus:
    banking: str = attribute("banking")
    sales: str = attribute("sales")
    shift: str = attribute("shift")


@xml_type(B, "ClientStatus")
class ClientStatus:
    avail_credit: Currency = element(B, "availCredit", Currency)
    batch_status: BatchStatus | None = element(B, "batchStatus", BatchStatus, optional=True)


@xml_type(B, "Tariff")
class Tariff:
    name: str = element(B, "name")
    desc: str | None = element(B, "desc", optional=True)


# --------------------------------------------------------------------------------------------
# Payment types


@xml_type(B, "PayType", abstract=True)
class PayType:
    """How the customer paid (abstract)."""


@xml_type(B, "Cash")
class Cash(PayType):
    tender_amt: Currency = element(B, "tenderAmt", Currency)


@xml_type(B, "Cheque")
class Cheque(PayType):
    cheq_amt: Currency = element(B, "cheqAmt", Currency)
    acc_holder_name: str = element(B, "accHolderName")
    acc_holder_id_no: str = element(B, "accHolderIDNo")
    acc_no: str = element(B, "accNo")
    bank_name: str = element(B, "bankName")
    branch_code: str = element(B, "branchCode")
    cheq_no: str = element(B, "cheqNo")
    cheq_type: str = element(B, "cheqType")
    micr: str | None = element(B, "micr", optional=True)


@xml_type(B, "Card", abstract=True)
class Card(PayType):
    card_amt: Currency = element(B, "cardAmt", Currency)
    acc_holder_name: str = element(B, "accHolderName")
    pan: str = element(B, "pan")
    exp_date: str = element(B, "expDate")
    cv_num: str = element(B, "cvNum")
    clearing_house: str = element(B, "clearingHouse")


@xml_type(B, "CreditCard")
class CreditCard(Card):
    pass


@xml_type(B, "DebitCard")
class DebitCard(Card):
    pass


@xml_type(B, "Unknown")
class Unknown(PayType):
    pass


# --------------------------------------------------------------------------------------------
# Tokens and token issues


@xml_type(B, "Token", abstract=True)
class Token:
    """A token cipher (abstract; STS1Token or KCToken)."""


@xml_type(B, "STS1Token")
class STS1Token(Token):
    sts_cipher: str = element(B, "stsCipher")


@xml_type(B, "KCToken")
class KCToken(Token):
    set1st_meter_key: STS1Token = element(B, "set1stMeterKey", STS1Token)
    set2nd_meter_key: STS1Token = element(B, "set2ndMeterKey", STS1Token)


@xml_type(B, "KCTData")
class KCTData:
    from_sgc: str = attribute("fromSGC")
    from_krn: str = attribute("fromKRN")
    from_ti: str = attribute("fromTI")
    to_sgc: str = attribute("toSGC")
    to_krn: str = attribute("toKRN")
    to_ti: str = attribute("toTI")


@xml_type(B, "PwrLmt")
class PwrLmt:
    """Power limit in kW (``value`` kept as the wire string, e.g. ``"10.0"``)."""

    value: str = attribute("value")
    si_unit: str = attribute("siUnit")


@xml_type(B, "MeterSpecificTokenIssue", abstract=True)
class MeterSpecificTokenIssue:
    desc: str = element(B, "desc")
    meter_detail: MeterDetail = element(B, "meterDetail", MeterDetail)
    token: Token = element(B, "token", Token)


@xml_type(B, "CreditTokenIssue")
class CreditTokenIssue(MeterSpecificTokenIssue):
    units: Units = element(B, "units", Units)
    resource: Resource = element(B, "resource", Resource)


@xml_type(B, "SaleCredTokenIssue")
class SaleCredTokenIssue(CreditTokenIssue):
    """NRS009-3 transaction type 000 (normal sale)."""


@xml_type(B, "FBECredTokenIssue")
class FBECredTokenIssue(CreditTokenIssue):
    """NRS009-3 transaction type 010 (free basic electricity)."""


@xml_type(B, "FreeCredTokenIssue")
class FreeCredTokenIssue(CreditTokenIssue):
    """NRS009-3 transaction type 005 (free issue)."""


@xml_type(B, "MCTCredTokenIssue")
class MCTCredTokenIssue(CreditTokenIssue):
    """NRS009-3 transaction type 003 (replacement / meter credit transfer)."""


@xml_type(B, "MeterSpecificEngTokenIssue", abstract=True)
class MeterSpecificEngTokenIssue(MeterSpecificTokenIssue):
    pass


@xml_type(B, "PwrLmtTokenIssue")
class PwrLmtTokenIssue(MeterSpecificEngTokenIssue):
    pwr_lmt: PwrLmt = element(B, "pwrLmt", PwrLmt)


@xml_type(B, "KCTokenIssue")
class KCTokenIssue(MeterSpecificEngTokenIssue):
    kct_data: KCTData = element(B, "kctData", KCTData)
    pwr_lmt_token: PwrLmtTokenIssue | None = element(
        B, "pwrLmtToken", PwrLmtTokenIssue, optional=True
    )


@xml_type(B, "PhUnbalTokenIssue")
class PhUnbalTokenIssue(MeterSpecificEngTokenIssue):
    pwr_lmt: PwrLmt = element(B, "pwrLmt", PwrLmt)


@xml_type(B, "WaterFactorTokenIssue")
class WaterFactorTokenIssue(MeterSpecificEngTokenIssue):
    water_factor: str = element(B, "waterFactor")


@xml_type(B, "ClearCreditTokenIssue")
class ClearCreditTokenIssue(MeterSpecificEngTokenIssue):
    pass


@xml_type(B, "ClearTamperTokenIssue")
class ClearTamperTokenIssue(MeterSpecificEngTokenIssue):
    pass


@xml_type(B, "TokenInfo", abstract=True)
class TokenInfo:
    """Information decoded from a token (abstract)."""


@xml_type(B, "TokenSubClassType")
class TokenSubClassType:
    """An xs:choice: exactly one of the three is set (e.g. ``credit="Electricity Token"``)."""

    credit: str | None = element(B, "credit", optional=True)
    non_meter_management: str | None = element(B, "nonMeterManagement", optional=True)
    meter_management: str | None = element(B, "meterManagement", optional=True)


@xml_type(B, "STS1TokenInfo")
class STS1TokenInfo(TokenInfo):
    token_id: Decimal = element(B, "tokenID", Decimal)
    transfer_amt: Decimal = element(B, "transferAmt", Decimal)
    token_class: TokenSubClassType = element(B, "tokenClass", TokenSubClassType)


# --------------------------------------------------------------------------------------------
# Message headers (BaseReq / BaseResp content) and the base message types


@xml_group
class RequestHeader:
    """Content of b:BaseReq: who sent the request and its identity."""

    client_id: DeviceID = element(B, "clientID", DeviceID)
    terminal_id: DeviceID = element(B, "terminalID", DeviceID)
    msg_id: MsgID = element(B, "msgID", MsgID)
    auth_cred: AuthCred | None = element(B, "authCred", AuthCred, optional=True)


@xml_group
class ResponseHeader:
    """Content of b:BaseResp. ``resp_date_time`` is the xs:dateTime string to send; see
    :func:`xmlvend.codec.api.format_datetime` and :func:`xmlvend.codec.api.response_header`."""

    client_id: DeviceID = element(B, "clientID", DeviceID)
    server_id: DeviceID = element(B, "serverID", DeviceID)
    terminal_id: DeviceID = element(B, "terminalID", DeviceID)
    req_msg_id: MsgID = element(B, "reqMsgID", MsgID)
    resp_date_time: str = element(B, "respDateTime")
    disp_header: str | None = element(B, "dispHeader", optional=True)
    operator_msg: str | None = element(B, "operatorMsg", optional=True)
    cust_msg: str | None = element(B, "custMsg", optional=True)


@xml_type(B, "BaseResp")
class BaseResp:
    header: ResponseHeader = group(ResponseHeader)


@xml_type(B, "BaseVendResp")
class BaseVendResp(BaseResp):
    client_status: ClientStatus = element(B, "clientStatus", ClientStatus)
    utility: UtilityDetail = element(B, "utility", UtilityDetail)
    vendor: VendorDetail | None = element(B, "vendor", VendorDetail, optional=True)
    cust_vend_detail: CustVendDetail | None = element(
        B, "custVendDetail", CustVendDetail, optional=True
    )


# --------------------------------------------------------------------------------------------
# Faults (reference §4.1). Abstract: Fault, XMLVendFaultEx.


@xml_type(B, "Fault", abstract=True)
class Fault:
    desc: str = element(B, "desc")


@xml_type(B, "SystemEx")
class SystemEx(Fault):
    pass


@xml_type(B, "BusinessRuleEx")
class BusinessRuleEx(Fault):
    pass


@xml_type(B, "RequestAuthorisationEx")
class RequestAuthorisationEx(BusinessRuleEx):
    pass


@xml_type(B, "ClientIDAuthorisationEx")
class ClientIDAuthorisationEx(BusinessRuleEx):
    pass


@xml_type(B, "MSNOCheckDigitEx")
class MSNOCheckDigitEx(BusinessRuleEx):
    pass


@xml_type(B, "SGCAuthorisationEx")
class SGCAuthorisationEx(BusinessRuleEx):
    pass


@xml_type(B, "LatestKRNEx")
class LatestKRNEx(BusinessRuleEx):
    pass


@xml_type(B, "FBEEx")
class FBEEx(BusinessRuleEx):
    pass


@xml_type(B, "BlockedMeterEx")
class BlockedMeterEx(BusinessRuleEx):
    pass


@xml_type(B, "STSDataEx")
class STSDataEx(BusinessRuleEx):
    pass


@xml_type(B, "VendorCreditEx")
class VendorCreditEx(BusinessRuleEx):
    pass


@xml_type(B, "UnknownMeterEx")
class UnknownMeterEx(BusinessRuleEx):
    pass


@xml_type(B, "InsufficientMeterDataEx")
class InsufficientMeterDataEx(BusinessRuleEx):
    pass


@xml_type(B, "RequireMeterCardEx")
class RequireMeterCardEx(BusinessRuleEx):
    pass


@xml_type(B, "ConfirmCustomerEx")
class ConfirmCustomerEx(BusinessRuleEx):
    pass


@xml_type(B, "CancelEx")
class CancelEx(BusinessRuleEx):
    pass


@xml_type(B, "DebtEx")
class DebtEx(BusinessRuleEx):
    pass


@xml_type(B, "ServiceChrgEx")
class ServiceChrgEx(BusinessRuleEx):
    pass


@xml_type(B, "ReprintEx")
class ReprintEx(BusinessRuleEx):
    pass


@xml_type(B, "ReprintDepositSlipEx")
class ReprintDepositSlipEx(BusinessRuleEx):
    pass


@xml_type(B, "ReprintEndBatchEx")
class ReprintEndBatchEx(BusinessRuleEx):
    pass


@xml_type(B, "StartBatchEx")
class StartBatchEx(BusinessRuleEx):
    pass


@xml_type(B, "EndBatchEx")
class EndBatchEx(BusinessRuleEx):
    pass


@xml_type(B, "CheckBatchTotalEx")
class CheckBatchTotalEx(BusinessRuleEx):
    pass


@xml_type(B, "VerifyTokenEx")
class VerifyTokenEx(BusinessRuleEx):
    pass


@xml_type(B, "UnknownMeterUpdateMtrKeyEx")
class UnknownMeterUpdateMtrKeyEx(BusinessRuleEx):
    pass


@xml_type(B, "UpdateMtrKeySameEx")
class UpdateMtrKeySameEx(BusinessRuleEx):
    pass


@xml_type(B, "XMLVendFaultEx", abstract=True)
class XMLVendFaultEx(Fault):
    pass


@xml_type(B, "UseCaseSupportEx")
class UseCaseSupportEx(XMLVendFaultEx):
    pass


@xml_type(B, "ClientIDSSLEx")
class ClientIDSSLEx(XMLVendFaultEx):
    pass


@xml_type(B, "XMLVendSchemaEx")
class XMLVendSchemaEx(XMLVendFaultEx):
    pass


@xml_type(B, "LastResponseEx")
class LastResponseEx(XMLVendFaultEx):
    pass


@xml_type(B, "ConfirmationEx")
class ConfirmationEx(XMLVendFaultEx):
    pass


@xml_type(B, "ReversalEx")
class ReversalEx(XMLVendFaultEx):
    pass


@xml_type(B, "XMLVendFaultResp")
class XMLVendFaultResp(BaseResp):
    fault: Fault = element(B, "fault", Fault)


# --------------------------------------------------------------------------------------------
# Requests of the base schema


# Request class -> its operation name, filled by :func:`xmlvend.codec.messages.operation_of`
# (which imports this module, so it cannot be imported here at load time).
OPERATION_OF_CLASS: dict[type, str] = {}


@xml_type(B, "BaseReq")
class BaseReq:
    """Every request: ``header`` (BaseReq content) plus the fields of the concrete type.

    ``soap_version`` is not XML content: it records the envelope the request came in (or is
    to be sent in), so that the answer goes out in the same SOAP version.
    """

    header: RequestHeader = group(RequestHeader)
    soap_version: SoapVersion = dataclasses.field(default="1.1", compare=False, repr=False)

    @property
    def operation(self) -> str:
        """The operation name, e.g. ``"creditVend"`` or ``"lastRespAdvice"``."""
        # Asked several times per request: a dict read once the class has been seen (a
        # function-level import on every call cost more than 1 % of a vend's server CPU).
        found = OPERATION_OF_CLASS.get(type(self))
        if found is not None:
            return found
        from xmlvend.codec.messages import operation_of

        return operation_of(type(self))

    @property
    def fingerprint(self) -> bytes:
        """SHA-256 over the canonical request content without ``authCred``: equal for
        equivalent re-sends (prefixes, whitespace, attribute order, ``10.0``/``10.00``),
        different when any field differs. See :func:`xmlvend.codec.messages.fingerprint_of`.
        """
        from xmlvend.codec.messages import fingerprint_of

        return fingerprint_of(self)


@xml_type(B, "BaseVendReq")
class BaseVendReq(BaseReq):
    resource: Resource = element(B, "resource", Resource)
    id_method: VendIDMethod = element(B, "idMethod", VendIDMethod)


@xml_type(B, "AdviceReq", abstract=True)
class AdviceReq(BaseReq):
    advice_req_msg_id: MsgID = element(B, "adviceReqMsgID", MsgID)


@xml_type(B, "ConfirmationAdviceReq")
class ConfirmationAdviceReq(AdviceReq):
    pay_type: PayType | None = element(B, "payType", PayType, optional=True)


@xml_type(B, "ReversalAdviceReq")
class ReversalAdviceReq(AdviceReq):
    pass


@xml_type(B, "LastRespAdviceReq")
class LastRespAdviceReq(AdviceReq):
    pass


@xml_type(B, "AdviceResp", abstract=True)
class AdviceResp(BaseResp):
    advice_req_msg_id: MsgID = element(B, "adviceReqMsgID", MsgID)


@xml_type(B, "ConfirmationAdviceResp")
class ConfirmationAdviceResp(AdviceResp):
    tx_confirmed: bool = attribute("txConfirmed", bool)


@xml_type(B, "ReversalAdviceResp")
class ReversalAdviceResp(AdviceResp):
    tx_reversed: bool = attribute("txReversed", bool)


@xml_type(B, "LastRespAdviceResp")
class LastRespAdviceResp(AdviceResp):
    """``last_response`` is the original response, typed by its xsi:type (e.g. a
    CreditVendResp). To *send* one, use :func:`xmlvend.codec.api.render_last_response_advice`,
    which embeds the stored original bytes unchanged."""

    last_response: BaseResp = element(B, "lastResponse", BaseResp)
