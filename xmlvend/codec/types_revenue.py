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


# --------------------------------------------------------------------------------------------
# Deposit slips (carried by a banking batch)


@xml_type(R, "Beneficiary")
class Beneficiary:
    acc_name: str = attribute("accName")
    acc_no: str = attribute("accNo")
    branch_code: str = attribute("branchCode")
    bank_name: str = attribute("bankName")
    bank_reg_no: str = attribute("bankRegNo")


@xml_type(R, "DepositSlip")
class DepositSlip:
    header: str | None = element(R, "header", optional=True)
    amt: Currency = element(R, "amt", Currency)
    beneficiary: Beneficiary | None = element(R, "beneficiary", Beneficiary, optional=True)
    banking_ref_no: str = attribute("bankingRefNo")


@xml_type(R, "DepositReq")
class DepositReq(BaseReq):
    """Ask for a deposit slip: how much to pay in, under which reference, into which
    account (reference §2.6)."""


@xml_type(R, "DepositResp")
class DepositResp(BaseResp):
    dep_slip: DepositSlip = element(R, "depSlip", DepositSlip)


@xml_type(R, "ReprintDepositReq")
class ReprintDepositReq(BaseReq):
    pass


@xml_type(R, "ReprintDepositResp")
class ReprintDepositResp(BaseResp):
    """Each ``reprint`` is an original ``depositResp``. To *send* one, use
    :func:`xmlvend.codec.api.render_reprint_deposit_response` with the stored originals."""

    reprint: tuple[DepositResp, ...] = element(R, "reprint", DepositResp, many=True, min_occurs=1)


# --------------------------------------------------------------------------------------------
# Batches: a vendor terminal's banking, sales and shift batches (reference §2.6)


@xml_type(R, "StartBatchReq", abstract=True)
class StartBatchReq(BaseReq):
    """Open a banking, sales, shift or all batches (abstract; the xsi:type says which)."""


@xml_type(R, "StartBankBatchReq")
class StartBankBatchReq(StartBatchReq):
    pass


@xml_type(R, "StartSalesBatchReq")
class StartSalesBatchReq(StartBatchReq):
    pass


@xml_type(R, "StartShiftBatchReq")
class StartShiftBatchReq(StartBatchReq):
    pass


@xml_type(R, "StartAllBatchesReq")
class StartAllBatchesReq(StartBatchReq):
    pass


@xml_type(R, "StartBatch", abstract=True)
class StartBatch:
    started: str = element(R, "started")


@xml_type(R, "ShiftStartBatch")
class ShiftStartBatch(StartBatch):
    seq_no: str = attribute("seqNo")


@xml_type(R, "SalesStartBatch")
class SalesStartBatch(StartBatch):
    shift_start_batch: tuple[ShiftStartBatch, ...] = element(
        R, "shiftStartBatch", ShiftStartBatch, many=True
    )
    seq_no: str = attribute("seqNo")


@xml_type(R, "BankStartBatch")
class BankStartBatch(StartBatch):
    sales_start_batch: tuple[SalesStartBatch, ...] = element(
        R, "salesStartBatch", SalesStartBatch, many=True
    )
    seq_no: str = attribute("seqNo")


@xml_type(R, "StartBatchResp")
class StartBatchResp(BaseResp):
    started_batch: StartBatch = element(R, "startedBatch", StartBatch)


@xml_type(R, "EndBatchReq", abstract=True)
class EndBatchReq(BaseReq):
    """Close a batch and return its totals (abstract; the xsi:type says which)."""


@xml_type(R, "EndBankBatchReq")
class EndBankBatchReq(EndBatchReq):
    pass


@xml_type(R, "EndSalesBatchReq")
class EndSalesBatchReq(EndBatchReq):
    pass


@xml_type(R, "EndShiftBatchReq")
class EndShiftBatchReq(EndBatchReq):
    pass


@xml_type(R, "EndAllBatchesReq")
class EndAllBatchesReq(EndBatchReq):
    pass


@xml_type(R, "TotalBatchReq", abstract=True)
class TotalBatchReq(BaseReq):
    """Running totals of open batches, which stay open (abstract; the xsi:type says which)."""


@xml_type(R, "TotalBankBatchReq")
class TotalBankBatchReq(TotalBatchReq):
    pass


@xml_type(R, "TotalSalesBatchReq")
class TotalSalesBatchReq(TotalBatchReq):
    pass


@xml_type(R, "TotalShiftBatchReq")
class TotalShiftBatchReq(TotalBatchReq):
    pass


@xml_type(R, "TotalAllBatchesReq")
class TotalAllBatchesReq(TotalBatchReq):
    pass


@xml_type(R, "ReprintEndBatchReq", abstract=True)
class ReprintEndBatchReq(BaseReq):
    """Reprint a closed batch's slip; without seqNo the last closed one (abstract)."""


@xml_type(R, "ReprintEndBankingBatchReq")
class ReprintEndBankingBatchReq(ReprintEndBatchReq):
    seq_no: str | None = element(R, "seqNo", optional=True)
    all: bool | None = element(R, "all", bool, optional=True)


@xml_type(R, "ReprintEndSalesBatchReq")
class ReprintEndSalesBatchReq(ReprintEndBatchReq):
    seq_no: str | None = element(R, "seqNo", optional=True)
    all: bool | None = element(R, "all", bool, optional=True)


@xml_type(R, "ReprintEndShiftBatchReq")
class ReprintEndShiftBatchReq(ReprintEndBatchReq):
    seq_no: str | None = element(R, "seqNo", optional=True)


# Batch reports: totals by transaction type, operator, payment type and resource.


@xml_type(R, "TxTotal", abstract=True)
class TxTotal:
    desc: str = element(R, "desc")
    amt: Currency = element(R, "amt", Currency)


@xml_type(R, "NormalSaleTotal")
class NormalSaleTotal(TxTotal):
    pass


@xml_type(R, "FreeIssueTotal")
class FreeIssueTotal(TxTotal):
    pass


@xml_type(R, "MeterCreditTransferTotal")
class MeterCreditTransferTotal(TxTotal):
    pass


@xml_type(R, "CancellationTotal")
class CancellationTotal(TxTotal):
    pass


@xml_type(R, "AccPaymentTotal")
class AccPaymentTotal(TxTotal):
    pass


@xml_type(R, "DebtRecoveryTotal")
class DebtRecoveryTotal(AccPaymentTotal):
    pass


@xml_type(R, "ServiceChrgTotal")
class ServiceChrgTotal(AccPaymentTotal):
    pass


@xml_type(R, "OperatorTotal")
class OperatorTotal:
    op_name: str = element(R, "opName")
    amt: Currency = element(R, "amt", Currency)


@xml_type(R, "PayTypeTotal", abstract=True)
class PayTypeTotal:
    desc: str = element(R, "desc")
    amt: Currency = element(R, "amt", Currency)


@xml_type(R, "CashTotal")
class CashTotal(PayTypeTotal):
    pass


@xml_type(R, "ChequeTotal")
class ChequeTotal(PayTypeTotal):
    pass


@xml_type(R, "CreditCardTotal")
class CreditCardTotal(PayTypeTotal):
    pass


@xml_type(R, "DebitCardTotal")
class DebitCardTotal(PayTypeTotal):
    pass


@xml_type(R, "OtherTotal")
class OtherTotal(PayTypeTotal):
    pass


@xml_type(R, "ResourceTotal")
class ResourceTotal:
    desc: str = element(R, "desc")
    units: Units = element(R, "units", Units)


@xml_type(R, "ElectricityTotal")
class ElectricityTotal(ResourceTotal):
    pass


@xml_type(R, "WaterTotal")
class WaterTotal(ResourceTotal):
    pass


@xml_type(R, "GasTotal")
class GasTotal(ResourceTotal):
    pass


@xml_type(R, "ConnectionTimeTotal")
class ConnectionTimeTotal(ResourceTotal):
    pass


@xml_type(R, "BatchReport")
class BatchReport:
    tx_total: tuple[TxTotal, ...] = element(R, "txTotal", TxTotal, many=True)
    operator_total: tuple[OperatorTotal, ...] = element(
        R, "operatorTotal", OperatorTotal, many=True
    )
    pay_type_total: tuple[PayTypeTotal, ...] = element(R, "payTypeTotal", PayTypeTotal, many=True)
    res_tot: tuple[ResourceTotal, ...] = element(R, "resTot", ResourceTotal, many=True)


@xml_type(R, "Batch", abstract=True)
class Batch:
    started: str = element(R, "started")
    ended: str = element(R, "ended")
    batch_tot: Currency = element(R, "batchTot", Currency)
    tot_tax: Tax | None = element(R, "totTax", Tax, optional=True)
    batch_report: BatchReport | None = element(R, "batchReport", BatchReport, optional=True)


@xml_type(R, "ShiftBatch")
class ShiftBatch(Batch):
    seq_no: str = attribute("seqNo")


@xml_type(R, "SalesBatch")
class SalesBatch(Batch):
    first_tx_seq_no: str | None = element(R, "firstTxSeqNo", optional=True)
    last_tx_seq_no: str | None = element(R, "lastTxSeqNo", optional=True)
    shift_batch: tuple[ShiftBatch, ...] = element(R, "shiftBatch", ShiftBatch, many=True)
    seq_no: str = attribute("seqNo")


@xml_type(R, "BankBatch")
class BankBatch(Batch):
    first_sales_seq_no: str | None = element(R, "firstSalesSeqNo", optional=True)
    last_sales_seq_no: str | None = element(R, "lastSalesSeqNo", optional=True)
    dep_slip: DepositSlip | None = element(R, "depSlip", DepositSlip, optional=True)
    sales_batch: tuple[SalesBatch, ...] = element(R, "salesBatch", SalesBatch, many=True)
    seq_no: str = attribute("seqNo")


@xml_type(R, "EndBatchResp")
class EndBatchResp(BaseResp):
    end_batch: Batch = element(R, "endBatch", Batch)


@xml_type(R, "TotalBatchResp")
class TotalBatchResp(BaseResp):
    total_batch: tuple[Batch, ...] = element(R, "totalBatch", Batch, many=True, min_occurs=1)


@xml_type(R, "ReprintEndBatchResp")
class ReprintEndBatchResp(BaseResp):
    end_batch_reprint: EndBatchResp = element(R, "endBatchReprint", EndBatchResp)
