"""complexTypes of the XMLVend 2.1 *revenue* schema (namespace ``r``).

Children declared in these types are revenue-qualified even when their type is a base type
(``r:creditVendReceipt/r:transactions/r:tx/r:amt``), while the content of those base types
stays base-qualified (``r:tx/r:tax/b:amt``) - reference §1.1.
"""

from __future__ import annotations

from xmlvend.codec.binding import attribute, element, xml_type
from xmlvend.codec.namespaces import REVENUE
from xmlvend.codec.types_base import (
    BaseReq,
    BaseResp,
    BaseVendReq,
    BaseVendResp,
    CreditTokenIssue,
    Currency,
    CustVendDetail,
    IDMethod,
    KCTokenIssue,
    MeterDetail,
    PayType,
    Tariff,
    Tax,
    Token,
    TokenInfo,
    Units,
    VendIDMethod,
)

R = REVENUE

# --------------------------------------------------------------------------------------------
# Purchase values


@xml_type(R, "PurchaseValue", abstract=True)
class PurchaseValue:
    """What the customer buys (abstract; currency amount or units)."""


@xml_type(R, "PurchaseValueCurrency")
class PurchaseValueCurrency(PurchaseValue):
    amt: Currency = element(R, "amt", Currency)


@xml_type(R, "PurchaseValueUnits")
class PurchaseValueUnits(PurchaseValue):
    units: Units = element(R, "units", Units)


# --------------------------------------------------------------------------------------------
# Transactions and receipts


@xml_type(R, "Tx", abstract=True)
class Tx:
    amt: Currency = element(R, "amt", Currency)
    tax: tuple[Tax, ...] = element(R, "tax", Tax, many=True)
    receipt_no: str | None = attribute("receiptNo", optional=True)


@xml_type(R, "CreditVendTx")
class CreditVendTx(Tx):
    credit_token_issue: CreditTokenIssue = element(R, "creditTokenIssue", CreditTokenIssue)
    kc_token_issue: KCTokenIssue | None = element(R, "kcTokenIssue", KCTokenIssue, optional=True)
    tariff: Tariff | None = element(R, "tariff", Tariff, optional=True)


@xml_type(R, "PayAccTx")
class PayAccTx(Tx):
    acc_desc: str = element(R, "accDesc")
    acc_no: str | None = element(R, "accNo", optional=True)
    tariff: Tariff | None = element(R, "tariff", Tariff, optional=True)


@xml_type(R, "ServiceChrgTx")
class ServiceChrgTx(PayAccTx):
    pass


@xml_type(R, "DebtRecoveryTx")
class DebtRecoveryTx(PayAccTx):
    balance: Currency | None = element(R, "balance", Currency, optional=True)


@xml_type(R, "Transactions")
class Transactions:
    tx: tuple[Tx, ...] = element(R, "tx", Tx, many=True, min_occurs=1)
    less_round: Currency | None = element(R, "lessRound", Currency, optional=True)
    tender_amt: Currency | None = element(R, "tenderAmt", Currency, optional=True)
    change: Currency | None = element(R, "change", Currency, optional=True)


@xml_type(R, "Receipt", abstract=True)
class Receipt:
    transactions: Transactions = element(R, "transactions", Transactions)
    receipt_no: str = attribute("receiptNo")


@xml_type(R, "CreditVendReceipt")
class CreditVendReceipt(Receipt):
    pass


@xml_type(R, "PayAccReceipt")
class PayAccReceipt(Receipt):
    meter_detail: MeterDetail | None = element(R, "meterDetail", MeterDetail, optional=True)


# --------------------------------------------------------------------------------------------
# Customer confirmation


@xml_type(R, "CustVendConfig")
class CustVendConfig:
    can_vend: bool = element(R, "canVend", bool)
    fbe_due: bool | None = element(R, "fbeDue", bool, optional=True)
    max_vend_amt: Currency | None = element(R, "maxVendAmt", Currency, optional=True)
    min_vend_amt: Currency | None = element(R, "minVendAmt", Currency, optional=True)


@xml_type(R, "ConfirmCustResult")
class ConfirmCustResult:
    cust_vend_detail: CustVendDetail = element(R, "custVendDetail", CustVendDetail)
    cust_vend_config: CustVendConfig = element(R, "custVendConfig", CustVendConfig)
    meter_detail: MeterDetail | None = element(R, "meterDetail", MeterDetail, optional=True)


@xml_type(R, "ConfirmCustomerReq")
class ConfirmCustomerReq(BaseReq):
    id_method: IDMethod = element(R, "idMethod", IDMethod)


@xml_type(R, "ConfirmCustomerResp")
class ConfirmCustomerResp(BaseResp):
    confirm_cust_result: tuple[ConfirmCustResult, ...] = element(
        R, "confirmCustResult", ConfirmCustResult, many=True, min_occurs=1
    )


# --------------------------------------------------------------------------------------------
# Credit vends (normal, trial, FBE, free issue)


@xml_type(R, "AbstractCreditVendReq", abstract=True)
class AbstractCreditVendReq(BaseVendReq):
    purchase_value: PurchaseValue = element(R, "purchaseValue", PurchaseValue)
    pay_type: PayType | None = element(R, "payType", PayType, optional=True)


@xml_type(R, "CreditVendReq")
class CreditVendReq(AbstractCreditVendReq):
    pass


@xml_type(R, "TrialCreditVendReq")
class TrialCreditVendReq(AbstractCreditVendReq):
    pass


@xml_type(R, "CreditVendResp")
class CreditVendResp(BaseVendResp):
    credit_vend_receipt: CreditVendReceipt = element(R, "creditVendReceipt", CreditVendReceipt)


@xml_type(R, "TrialCreditVendResp")
class TrialCreditVendResp(CreditVendResp):
    pass


@xml_type(R, "FBEReq")
class FBEReq(BaseVendReq):
    pass


@xml_type(R, "FBEResp")
class FBEResp(CreditVendResp):
    pass


@xml_type(R, "FreeIssueReq")
class FreeIssueReq(BaseVendReq):
    pass


@xml_type(R, "FreeIssueResp")
class FreeIssueResp(CreditVendResp):
    pass


# --------------------------------------------------------------------------------------------
# Meter credit transfer, verify


@xml_type(R, "CreditTransferDetail")
class CreditTransferDetail:
    old_msno: str = element(R, "oldMSNO")
    ref_no: str | None = element(R, "refNo", optional=True)


@xml_type(R, "MeterCreditTransferReq")
class MeterCreditTransferReq(BaseVendReq):
    chg_out_units: PurchaseValueUnits = element(R, "chgOutUnits", PurchaseValueUnits)
    credit_transfer_detail: CreditTransferDetail = element(
        R, "creditTransferDetail", CreditTransferDetail
    )


@xml_type(R, "MeterCreditTransferResp")
class MeterCreditTransferResp(BaseVendResp):
    credit_transfer_detail: CreditTransferDetail = element(
        R, "creditTransferDetail", CreditTransferDetail
    )
    credit_transfer_tx: CreditVendTx = element(R, "creditTransferTx", CreditVendTx)


@xml_type(R, "VerifyReq")
class VerifyReq(BaseReq):
    token: Token = element(R, "token", Token)
    id_method: VendIDMethod = element(R, "idMethod", VendIDMethod)


@xml_type(R, "VerifyResp")
class VerifyResp(BaseVendResp):
    credit_vend_tx: CreditVendTx = element(R, "creditVendTx", CreditVendTx)
    token_info: TokenInfo = element(R, "tokenInfo", TokenInfo)


# --------------------------------------------------------------------------------------------
# Account payments


@xml_type(R, "PayAccount")
class PayAccount:
    desc: str | None = element(R, "desc", optional=True)
    id_method: IDMethod = element(R, "idMethod", IDMethod)


@xml_type(R, "DebtRecovery")
class DebtRecovery(PayAccount):
    pass


@xml_type(R, "ServiceChrg")
class ServiceChrg(PayAccount):
    pass


@xml_type(R, "PayAccReq")
class PayAccReq(BaseReq):
    req_amt: Currency = element(R, "reqAmt", Currency)
    pay_type: PayType | None = element(R, "payType", PayType, optional=True)
    pay_account: PayAccount = element(R, "payAccount", PayAccount)


@xml_type(R, "PayAccResp")
class PayAccResp(BaseVendResp):
    pay_acc_receipt: PayAccReceipt = element(R, "payAccReceipt", PayAccReceipt)


# --------------------------------------------------------------------------------------------
# Reprint, vendor statement


@xml_type(R, "ReprintReq")
class ReprintReq(BaseReq):
    id_method: IDMethod = element(R, "idMethod", IDMethod)


@xml_type(R, "ReprintResp")
class ReprintResp(BaseResp):
    """Each ``reprint`` is an original response typed by its xsi:type. To *send* one, use
    :func:`xmlvend.codec.api.render_reprint_response` with the stored original bytes."""

    reprint: tuple[BaseVendResp, ...] = element(R, "reprint", BaseVendResp, many=True, min_occurs=1)


@xml_type(R, "VendorStatementLineItem")
class VendorStatementLineItem:
    desc: str = element(R, "desc")
    amt: Currency = element(R, "amt", Currency)
    applied_date: str = element(R, "appliedDate")


@xml_type(R, "VendorStatement")
class VendorStatement:
    acc_no: str = element(R, "accNo")
    acc_bal: Currency = element(R, "accBal", Currency)
    avail_credit: Currency = element(R, "availCredit", Currency)
    line_item: tuple[VendorStatementLineItem, ...] = element(
        R, "lineItem", VendorStatementLineItem, many=True
    )


@xml_type(R, "VendorStatementReq")
class VendorStatementReq(BaseReq):
    pass


@xml_type(R, "VendorStatementResp")
class VendorStatementResp(BaseResp):
    statement: VendorStatement = element(R, "statement", VendorStatement)
