"""Typed sample messages for the codec tests: one (or more) of every request and response
type we bind, built with schema-valid values, plus helpers shared by the test modules."""

from __future__ import annotations

import dataclasses
import os
import re
from decimal import Decimal
from functools import cache
from pathlib import Path

from lxml import etree

from xmlvend.codec import types_base as b
from xmlvend.codec import types_ext as ext
from xmlvend.codec import types_meter as m
from xmlvend.codec import types_revenue as r
from xmlvend.codec.envelope import is_fault, open_envelope, read_fault
from xmlvend.codec.namespaces import BASE
from xmlvend.codec.schema import strict_schema

# The repository copy of the reference samples (split on its "=== DOC n ===" banners);
# XMLVEND_SAMPLES overrides the location. Missing file = failing tests, on purpose.
DEFAULT_SAMPLES_FILE = Path(__file__).resolve().parents[2] / "data" / "xmlvend-samples.xml"
SAMPLES_FILE = Path(os.environ.get("XMLVEND_SAMPLES", DEFAULT_SAMPLES_FILE))


@cache
def sample_docs() -> dict[int, bytes]:
    """The documents of xmlvend-samples.xml, split on their '=== DOC n ===' banners."""
    text = SAMPLES_FILE.read_text(encoding="utf-8")
    parts = re.split(r"=== DOC (\d+) ===", text)
    docs: dict[int, bytes] = {}
    for i in range(1, len(parts), 2):
        body = parts[i + 1]
        start = body.index("-->") + 3
        end = body.find("<!--", start)
        docs[int(parts[i])] = body[start : end if end != -1 else None].strip().encode()
    return docs


def payload_of(document: bytes) -> etree._Element:
    """The XMLVend element of a rendered envelope (the xmlvendFaultResp for a fault)."""
    _, payload = open_envelope(etree.fromstring(document))
    if is_fault(payload):
        detail = read_fault(payload)[3]
        assert detail is not None
        found = detail.find(f"{{{BASE}}}xmlvendFaultResp")
        assert found is not None
        return found
    return payload


def assert_strictly_valid(document: bytes) -> None:
    schema = strict_schema()
    payload = payload_of(document)
    if not schema.validate(payload):
        raise AssertionError(f"not schema-valid: {schema.error_log}\n{document.decode()}")


# --------------------------------------------------------------------------------------------
# Building blocks

CLIENT = b.EANDeviceID(ean="6004708000090")
SERVER = b.EANDeviceID(ean="6004708000007")
TERMINAL = b.GenericDeviceID(id="1")
MSG_ID = b.MsgID(date_time="20250101120000", unique_number="100001")
AUTH = b.AuthCred(op_name="OPNAME", password="secret1")


def req_header(**overrides: object) -> b.RequestHeader:
    values: dict[str, object] = {
        "client_id": CLIENT,
        "terminal_id": TERMINAL,
        "msg_id": MSG_ID,
        "auth_cred": AUTH,
    }
    values.update(overrides)
    return b.RequestHeader(**values)  # type: ignore[arg-type]


def resp_header(**overrides: object) -> b.ResponseHeader:
    values: dict[str, object] = {
        "client_id": CLIENT,
        "server_id": SERVER,
        "terminal_id": TERMINAL,
        "req_msg_id": MSG_ID,
        "resp_date_time": "2025-01-01T12:00:01.000+02:00",
        "disp_header": "CREDIT VEND - TAX INVOICE",
        "operator_msg": "Vend successful",
        "cust_msg": None,
    }
    values.update(overrides)
    return b.ResponseHeader(**values)  # type: ignore[arg-type]


def zar(value: str) -> b.Currency:
    return b.Currency(value=Decimal(value), symbol="ZAR")


METER_TYPE = b.MeterType(at="07", tt="02")
METER_DETAIL = b.MeterDetail(
    meter_type=METER_TYPE, msno="01234567890", sgc="123456", krn="1", ti="01"
)
TRACK2 = "600727123456789012=2512=0702123456011"
VEND_ID = b.VendIDMethod(meter_identifier=b.MeterNumber(msno="01234567890"))
STS_TOKEN = b.STS1Token(sts_cipher="12345678901234567890")
KCT_DATA = b.KCTData(
    from_sgc="123456", from_krn="1", from_ti="01", to_sgc="654321", to_krn="2", to_ti="02"
)
PWR_LMT = b.PwrLmt(value="10.0", si_unit="kW")
CLIENT_STATUS = b.ClientStatus(
    avail_credit=zar("1000.00"),
    batch_status=b.BatchStatus(banking="open", sales="open", shift="closed"),
)
UTILITY = b.UtilityDetail(name="Test Utility", address="1 Main Road", tax_ref="4123456789")
VENDOR = b.VendorDetail(name="Test Vendor", address="2 Side Street")
CUST = b.CustVendDetail(
    name="J Smith",
    address="3 Erf Road",
    contact_no="0821234567",
    acc_no="ACC1",
    loc_ref="ERF12",
    days_last_purchase=3,
)
VEND_RESP_BASE = {
    "client_status": CLIENT_STATUS,
    "utility": UTILITY,
    "vendor": VENDOR,
    "cust_vend_detail": CUST,
}


def kc_token_issue() -> b.KCTokenIssue:
    return b.KCTokenIssue(
        desc="Key Change",
        meter_detail=METER_DETAIL,
        token=b.KCToken(
            set1st_meter_key=b.STS1Token(sts_cipher="11111111111111111111"),
            set2nd_meter_key=b.STS1Token(sts_cipher="22222222222222222222"),
        ),
        kct_data=KCT_DATA,
        pwr_lmt_token=b.PwrLmtTokenIssue(
            desc="Power Limit", meter_detail=METER_DETAIL, token=STS_TOKEN, pwr_lmt=PWR_LMT
        ),
    )


def credit_tx(issue_cls: type[b.CreditTokenIssue] = b.SaleCredTokenIssue) -> r.CreditVendTx:
    return r.CreditVendTx(
        amt=zar("86.96"),
        tax=(b.VAT(amt=zar("13.04"), rate=Decimal("15")),),
        receipt_no="000000000000090",
        credit_token_issue=issue_cls(
            desc="Prepayment Sale",
            meter_detail=METER_DETAIL,
            token=STS_TOKEN,
            units=b.Units(value=Decimal("45.6"), si_unit="kWh"),
            resource=b.Electricity(),
        ),
        kc_token_issue=kc_token_issue(),
        tariff=b.Tariff(name="Home Light 1", desc="Domestic"),
    )


def credit_receipt(
    issue_cls: type[b.CreditTokenIssue] = b.SaleCredTokenIssue,
) -> r.CreditVendReceipt:
    return r.CreditVendReceipt(
        receipt_no="000000000000090",
        transactions=r.Transactions(
            tx=(
                credit_tx(issue_cls),
                r.DebtRecoveryTx(
                    amt=zar("5.00"),
                    acc_desc="Arrears",
                    acc_no="ACC1",
                    tariff=b.Tariff(name="Debt"),
                    balance=zar("495.00"),
                ),
                r.ServiceChrgTx(amt=zar("3.00"), acc_desc="Monthly charge"),
            ),
            less_round=zar("108.00"),
            tender_amt=zar("110.00"),
            change=zar("2.00"),
        ),
    )


def voucher_receipt() -> r.CreditVendReceipt:
    return r.CreditVendReceipt(
        receipt_no="V000123",
        transactions=r.Transactions(
            tx=(
                ext.VoucherVendTx(
                    amt=zar("8.70"),
                    tax=(b.VAT(amt=zar("1.30"), rate=Decimal("15")),),
                    receipt_no="V000123",
                    voucher=ext.VoucherDetail(
                        desc="Airtime R10",
                        instructions="Dial *136*PIN#",
                        product_code="AIR10",
                        serial_no="SN0001",
                        pin="1234567890123456",
                        expiry="2026-12-31",
                        batch_no="B1",
                        network="Vodacom",
                    ),
                ),
            ),
            tender_amt=zar("10.00"),
        ),
    )


def nms_issue(cls: type[m.NonMeterSpecificTokenIssue]) -> m.NonMeterSpecificTokenIssue:
    return cls(desc="Engineering token", meter_type=METER_TYPE, token=STS_TOKEN)


# --------------------------------------------------------------------------------------------
# Every request


def all_requests() -> list[b.BaseReq]:
    h = req_header()
    vend = {"header": h, "resource": b.Electricity(), "id_method": VEND_ID}
    requests: list[b.BaseReq] = [
        r.ConfirmCustomerReq(header=h, id_method=VEND_ID),
        r.ConfirmCustomerReq(
            header=req_header(auth_cred=None),
            id_method=b.CustIDMethod(
                cust_identifier=b.CustAccountNo(acc_no="ACC1", organisation="Utility")
            ),
        ),
        r.ConfirmCustomerReq(
            header=h, id_method=b.CustIDMethod(cust_identifier=b.CustName(name="Smith"))
        ),
        r.ConfirmCustomerReq(
            header=h, id_method=b.CustIDMethod(cust_identifier=b.CustAddress(address="3 Erf"))
        ),
        r.ConfirmCustomerReq(
            header=h,
            id_method=b.CustIDMethod(cust_identifier=b.CustIDNumber(id_no="8001015009087")),
        ),
        m.ConfirmMeterReq(header=h, id_method=VEND_ID),
        r.CreditVendReq(
            **vend,
            purchase_value=r.PurchaseValueCurrency(amt=zar("110.00")),
            pay_type=b.Cash(tender_amt=zar("110.00")),
        ),
        r.CreditVendReq(
            header=req_header(
                client_id=b.GenericDeviceID(id="VENDOR-7"),
                auth_cred=b.AuthCred(op_name="op1", password="secret1", new_password="secret2"),
            ),
            resource=b.Water(),
            id_method=b.VendIDMethod(meter_identifier=b.MeterCard(track2_data=TRACK2)),
            purchase_value=r.PurchaseValueUnits(
                units=b.Units(value=Decimal("12.5"), si_unit="kWh")
            ),
            pay_type=b.CreditCard(
                card_amt=zar("50.00"),
                acc_holder_name="J Smith",
                pan="4111111111111111",
                exp_date="202712",
                cv_num="123",
                clearing_house="Bank",
            ),
        ),
        r.CreditVendReq(  # voucher sale (docs/EXTENSION-NAMESPACE.md)
            header=h,
            resource=ext.Voucher(product_code="AIR10", network="Vodacom"),
            id_method=b.VendIDMethod(
                meter_identifier=ext.ProductIdentifier(
                    product_code="AIR10", recipient="27821234567"
                )
            ),
            purchase_value=r.PurchaseValueCurrency(amt=zar("10.00")),
        ),
        r.TrialCreditVendReq(
            **vend,
            purchase_value=r.PurchaseValueCurrency(amt=zar("50")),
            pay_type=b.Cheque(
                cheq_amt=zar("50"),
                acc_holder_name="J Smith",
                acc_holder_id_no="8001015009087",
                acc_no="12345",
                bank_name="Bank",
                branch_code="250655",
                cheq_no="000123",
                cheq_type="Personal",
                micr="123456",
            ),
        ),
        r.ReprintReq(header=h, id_method=VEND_ID),
        b.ConfirmationAdviceReq(
            header=h,
            advice_req_msg_id=MSG_ID,
            pay_type=b.DebitCard(
                card_amt=zar("1"),
                acc_holder_name="A B",
                pan="1",
                exp_date="202501",
                cv_num="1",
                clearing_house="C",
            ),
        ),
        b.ConfirmationAdviceReq(header=h, advice_req_msg_id=MSG_ID),
        b.ReversalAdviceReq(header=h, advice_req_msg_id=MSG_ID),
        b.LastRespAdviceReq(header=h, advice_req_msg_id=MSG_ID),
        r.PayAccReq(
            header=h,
            req_amt=zar("100.00"),
            pay_type=b.Unknown(),
            pay_account=r.DebtRecovery(desc="Arrears", id_method=VEND_ID),
        ),
        r.PayAccReq(
            header=h,
            req_amt=zar("20.00"),
            pay_account=r.ServiceChrg(
                id_method=b.CustIDMethod(cust_identifier=b.CustAccountNo(acc_no="A1"))
            ),
        ),
        r.PayAccReq(header=h, req_amt=zar("20.00"), pay_account=r.PayAccount(id_method=VEND_ID)),
        r.VendorStatementReq(header=h),
        r.DepositReq(header=h),
        r.ReprintDepositReq(header=h),
        r.FBEReq(**vend),
        r.FreeIssueReq(**vend),
        r.MeterCreditTransferReq(
            **vend,
            chg_out_units=r.PurchaseValueUnits(units=b.Units(value=Decimal("3.2"), si_unit="kWh")),
            credit_transfer_detail=r.CreditTransferDetail(old_msno="98765432101", ref_no="REF1"),
        ),
        r.VerifyReq(header=h, token=STS_TOKEN, id_method=VEND_ID),
        m.UpdateMeterKeyReq(header=h, id_method=METER_DETAIL),
        m.UpdateMeterKeyReq(header=h, id_method=b.MeterCard(track2_data=TRACK2)),
        m.ConfirmMeterReq(header=h, id_method=b.VendIDMethod(meter_identifier=METER_DETAIL)),
        m.UpdateMeterKeyReq(
            header=h,
            id_method=b.ExtMeterDetail(
                meter_type=METER_TYPE,
                msno="01234567890",
                sgc="123456",
                krn="1",
                ti="01",
                use_stt=True,
                track2_data=TRACK2,
            ),
        ),
        m.PwrLmtReq(**vend, pwr_lmt=PWR_LMT),
        m.PhUnbalReq(**vend, pwr_lmt=PWR_LMT),
        m.ClearCreditReq(**vend),
        m.ClearTamperReq(**vend),
        m.DefCreditReq(**vend),
        m.EngKCTReq(**vend, kct_data=KCT_DATA),
        m.SetWaterFactorReq(**vend, water_factor="1000"),
    ]
    for cls in (
        m.TestAllReq,
        m.TestBreakerReq,
        m.TestDisplayReq,
        m.DispPwrLmtReq,
        m.DispTIReq,
        m.DispKRNReq,
        m.DispTamperReq,
        m.DispInstPwrReq,
        m.DispConsTotReq,
        m.DispPhUnbalanceReq,
        m.DispVerReq,
    ):
        requests.append(cls(header=h, meter_type=METER_TYPE))
    requests += [
        m.CustReportFaultReq(
            header=h,
            cust_detail=b.CustDetail(name="J Smith", address="3 Erf Road", contact_no="0821234567"),
            cust_fault_report=m.MeterFaultReport(desc="Display blank", meter_info=VEND_ID),
        ),
        m.CustReportFaultReq(
            header=h,
            cust_detail=b.CustDetail(name="J Smith", address=""),
            cust_fault_report=m.NetworkFaultReport(),
        ),
        m.CustReportFaultReq(
            header=h, cust_detail=CUST, cust_fault_report=m.CustFaultReport(desc="Lights flicker")
        ),
    ]
    requests.extend(batch_requests(h))
    requests.extend(provider_requests(h))
    requests.extend(travel_requests(h))
    return requests


# --------------------------------------------------------------------------------------------
# Every response


def _deposit_resp(h: b.ResponseHeader) -> r.DepositResp:
    return r.DepositResp(
        header=h,
        dep_slip=r.DepositSlip(
            header="Pay at any branch",
            amt=zar("120.00"),
            beneficiary=r.Beneficiary(
                acc_name="EVD Vending Operator",
                acc_no="62000000017",
                branch_code="250655",
                bank_name="First National Bank",
                bank_reg_no="1929/001225/06",
            ),
            banking_ref_no="EVD6004708000090",
        ),
    )


def all_responses() -> list[b.BaseResp]:
    h = resp_header()
    responses: list[b.BaseResp] = [
        r.ConfirmCustomerResp(
            header=h,
            confirm_cust_result=(
                r.ConfirmCustResult(
                    cust_vend_detail=CUST,
                    cust_vend_config=r.CustVendConfig(
                        can_vend=True,
                        fbe_due=False,
                        max_vend_amt=zar("1500.00"),
                        min_vend_amt=zar("10.00"),
                    ),
                    meter_detail=METER_DETAIL,
                ),
                r.ConfirmCustResult(
                    cust_vend_detail=b.CustVendDetail(name="A N Other", address="4 Road"),
                    cust_vend_config=r.CustVendConfig(can_vend=False),
                ),
            ),
        ),
        m.ConfirmMeterResp(
            header=h, confirm_meter_result=m.ConfirmMeterResult(meter_detail=METER_DETAIL)
        ),
        r.CreditVendResp(header=h, **VEND_RESP_BASE, credit_vend_receipt=credit_receipt()),
        r.CreditVendResp(
            header=resp_header(disp_header=None, operator_msg=None),
            client_status=b.ClientStatus(avail_credit=zar("0")),
            utility=UTILITY,
            credit_vend_receipt=voucher_receipt(),
        ),
        r.TrialCreditVendResp(header=h, **VEND_RESP_BASE, credit_vend_receipt=credit_receipt()),
        r.FBEResp(
            header=h, **VEND_RESP_BASE, credit_vend_receipt=credit_receipt(b.FBECredTokenIssue)
        ),
        r.FreeIssueResp(
            header=h, **VEND_RESP_BASE, credit_vend_receipt=credit_receipt(b.FreeCredTokenIssue)
        ),
        r.MeterCreditTransferResp(
            header=h,
            **VEND_RESP_BASE,
            credit_transfer_detail=r.CreditTransferDetail(old_msno="98765432101"),
            credit_transfer_tx=credit_tx(b.MCTCredTokenIssue),
        ),
        r.VerifyResp(
            header=h,
            **VEND_RESP_BASE,
            credit_vend_tx=credit_tx(),
            token_info=b.STS1TokenInfo(
                token_id=Decimal("1234567"),
                transfer_amt=Decimal("456"),
                token_class=b.TokenSubClassType(credit="Electricity Token"),
            ),
        ),
        r.PayAccResp(
            header=h,
            **VEND_RESP_BASE,
            pay_acc_receipt=r.PayAccReceipt(
                receipt_no="P1",
                transactions=r.Transactions(
                    tx=(r.DebtRecoveryTx(amt=zar("100.00"), acc_desc="Arrears", balance=zar("0")),)
                ),
                meter_detail=METER_DETAIL,
            ),
        ),
        _deposit_resp(h),
        r.ReprintDepositResp(
            header=h,
            reprint=(
                _deposit_resp(
                    resp_header(req_msg_id=b.MsgID(date_time="20241231120000", unique_number="98"))
                ),
                _deposit_resp(h),
            ),
        ),
        r.VendorStatementResp(
            header=h,
            statement=r.VendorStatement(
                acc_no="V1",
                acc_bal=zar("-10.00"),
                avail_credit=zar("990.00"),
                line_item=(
                    r.VendorStatementLineItem(
                        desc="Sale", amt=zar("-10.00"), applied_date="2025-01-01T12:00:00Z"
                    ),
                    r.VendorStatementLineItem(
                        desc="Deposit", amt=zar("1000.00"), applied_date="2025-01-01T08:00:00+02:00"
                    ),
                ),
            ),
        ),
        r.ReprintResp(
            header=h,
            reprint=(
                r.CreditVendResp(
                    header=resp_header(
                        req_msg_id=b.MsgID(date_time="20241231120000", unique_number="99")
                    ),
                    **VEND_RESP_BASE,
                    credit_vend_receipt=credit_receipt(),
                ),
                r.FBEResp(
                    header=h,
                    **VEND_RESP_BASE,
                    credit_vend_receipt=credit_receipt(b.FBECredTokenIssue),
                ),
            ),
        ),
        b.ConfirmationAdviceResp(header=h, advice_req_msg_id=MSG_ID, tx_confirmed=True),
        b.ReversalAdviceResp(header=h, advice_req_msg_id=MSG_ID, tx_reversed=False),
        b.LastRespAdviceResp(
            header=h,
            advice_req_msg_id=MSG_ID,
            last_response=r.CreditVendResp(
                header=h, **VEND_RESP_BASE, credit_vend_receipt=credit_receipt()
            ),
        ),
        m.UpdateMeterKeyResp(header=h, **VEND_RESP_BASE, update_meter_key=kc_token_issue()),
        # A 4-token (MISTY1) key change in our extension type.
        m.EngKCTResp(
            header=h,
            **VEND_RESP_BASE,
            eng_kc_token=dataclasses.replace(
                kc_token_issue(),
                token=ext.MISTY1KCToken(
                    set1st_meter_key=b.STS1Token(sts_cipher="11111111111111111111"),
                    set2nd_meter_key=b.STS1Token(sts_cipher="22222222222222222222"),
                    set3rd_meter_key=b.STS1Token(sts_cipher="33333333333333333333"),
                    set4th_meter_key=b.STS1Token(sts_cipher="44444444444444444444"),
                ),
            ),
        ),
        m.PwrLmtResp(
            header=h,
            **VEND_RESP_BASE,
            pwr_lmt_token=b.PwrLmtTokenIssue(
                desc="PL", meter_detail=METER_DETAIL, token=STS_TOKEN, pwr_lmt=PWR_LMT
            ),
        ),
        m.PhUnbalResp(
            header=h,
            **VEND_RESP_BASE,
            ph_unbalance=b.PhUnbalTokenIssue(
                desc="PU", meter_detail=METER_DETAIL, token=STS_TOKEN, pwr_lmt=PWR_LMT
            ),
        ),
        m.ClearCreditResp(
            header=h,
            **VEND_RESP_BASE,
            clear_credit=b.ClearCreditTokenIssue(
                desc="CC", meter_detail=METER_DETAIL, token=STS_TOKEN
            ),
        ),
        m.ClearTamperResp(
            header=h,
            **VEND_RESP_BASE,
            clear_tamper=b.ClearTamperTokenIssue(
                desc="CT", meter_detail=METER_DETAIL, token=STS_TOKEN
            ),
        ),
        m.DefCreditResp(
            header=h,
            **VEND_RESP_BASE,
            def_credit=b.CreditTokenIssue(
                desc="DC",
                meter_detail=METER_DETAIL,
                token=STS_TOKEN,
                units=b.Units(value=Decimal("5"), si_unit="kWh"),
                resource=b.Electricity(),
            ),
        ),
        m.EngKCTResp(header=h, **VEND_RESP_BASE, eng_kc_token=kc_token_issue()),
        m.SetWaterFactorResp(
            header=h,
            **VEND_RESP_BASE,
            water_factor=b.WaterFactorTokenIssue(
                desc="WF", meter_detail=METER_DETAIL, token=STS_TOKEN, water_factor="1000"
            ),
        ),
        m.TestAllResp(header=h, test_all=nms_issue(m.TestAllTokenIssue)),
        m.TestBreakerResp(header=h, test_breaker=nms_issue(m.TestBreakerTokenIssue)),
        m.TestDisplayResp(header=h, test_disp=nms_issue(m.TestDisplayTokenIssue)),
        m.DispPwrLmtResp(header=h, disp_pwr_lmt=nms_issue(m.DispPwrLmtTokenIssue)),
        m.DispTIResp(header=h, disp_ti=nms_issue(m.DispTITokenIssue)),
        m.DispKRNResp(header=h, disp_krn=nms_issue(m.DispKRNTokenIssue)),
        m.DispTamperResp(header=h, disp_tamper=nms_issue(m.DispTamperTokenIssue)),
        m.DispInstPwrResp(header=h, disp_inst_pwr=nms_issue(m.DispInstPwrTokenIssue)),
        m.DispConsTotResp(header=h, disp_cons_tot=nms_issue(m.DispConsTotTokenIssue)),
        m.DispPhUnbalanceResp(header=h, disp_ph_unbalance=nms_issue(m.DispPhUnbalanceTokenIssue)),
        m.DispVerResp(header=h, disp_ver=nms_issue(m.DispVerTokenIssue)),
    ]
    responses += [
        m.CustReportFaultResp(
            header=h,
            cust_fault_log=m.CustFaultLog(
                cust_detail=b.CustDetail(name="J Smith", address="3 Erf Road", loc_ref="ERF12"),
                fault_report=m.MeterFaultReport(
                    desc="Display blank",
                    meter_info=b.VendIDMethod(meter_identifier=METER_DETAIL),
                ),
                ref_no="FR00000018",
            ),
        ),
        m.CustReportFaultResp(
            header=h,
            cust_fault_log=m.CustFaultLog(
                cust_detail=b.CustDetail(name="J Smith", address="3 Erf Road"),
                fault_report=m.NetworkFaultReport(desc="No supply in the street"),
                ref_no="FR00000026",
            ),
        ),
    ]
    responses.extend(batch_responses(h))
    responses.extend(provider_responses(h))
    responses.extend(travel_responses(h))
    return responses


# --------------------------------------------------------------------------------------------
# Vendor batches


def batch_requests(h: b.RequestHeader) -> list[b.BaseReq]:
    return [
        r.StartBankBatchReq(header=h),
        r.StartSalesBatchReq(header=h),
        r.StartShiftBatchReq(header=h),
        r.StartAllBatchesReq(header=h),
        r.EndBankBatchReq(header=h),
        r.EndSalesBatchReq(header=h),
        r.EndShiftBatchReq(header=h),
        r.EndAllBatchesReq(header=h),
        r.TotalBankBatchReq(header=h),
        r.TotalSalesBatchReq(header=h),
        r.TotalShiftBatchReq(header=h),
        r.TotalAllBatchesReq(header=h),
        r.ReprintEndBankingBatchReq(header=h, seq_no="7", all=False),
        r.ReprintEndBankingBatchReq(header=h),
        r.ReprintEndSalesBatchReq(header=h, seq_no="12", all=True),
        r.ReprintEndShiftBatchReq(header=h, seq_no="30"),
        r.ReprintEndShiftBatchReq(header=h),
    ]


def _batch_report() -> r.BatchReport:
    return r.BatchReport(
        tx_total=(
            r.NormalSaleTotal(desc="Sales (3)", amt=zar("2400.00")),
            r.FreeIssueTotal(desc="Free issue", amt=zar("0.00")),
            r.MeterCreditTransferTotal(desc="Transfers", amt=zar("0.00")),
            r.CancellationTotal(desc="Reversals (1)", amt=zar("10.00")),
            r.AccPaymentTotal(desc="Accounts", amt=zar("0.00")),
            r.DebtRecoveryTotal(desc="Debt", amt=zar("100.00")),
            r.ServiceChrgTotal(desc="Service charges", amt=zar("10.00")),
        ),
        operator_total=(r.OperatorTotal(op_name="cashier1", amt=zar("2490.00")),),
        pay_type_total=(
            r.CashTotal(desc="Cash", amt=zar("2000.00")),
            r.ChequeTotal(desc="Cheque", amt=zar("100.00")),
            r.CreditCardTotal(desc="Credit card", amt=zar("100.00")),
            r.DebitCardTotal(desc="Debit card", amt=zar("200.00")),
            r.OtherTotal(desc="Other", amt=zar("90.00")),
        ),
        res_tot=(
            r.ElectricityTotal(
                desc="Electricity", units=b.Units(value=Decimal("1234.5"), si_unit="kWh")
            ),
            r.WaterTotal(desc="Water", units=b.Units(value=Decimal("12"), si_unit="kl")),
            r.GasTotal(desc="Gas", units=b.Units(value=Decimal("3"), si_unit="kg")),
            r.ConnectionTimeTotal(desc="Time", units=b.Units(value=Decimal("60"), si_unit="min")),
        ),
    )


def batch_responses(h: b.ResponseHeader) -> list[b.BaseResp]:
    times = {"started": "2025-01-01T06:00:00+02:00", "ended": "2025-01-01T14:00:00+02:00"}
    shift = r.ShiftBatch(
        **times, batch_tot=zar("2490.00"), batch_report=_batch_report(), seq_no="30"
    )
    sales = r.SalesBatch(
        **times,
        batch_tot=zar("2490.00"),
        tot_tax=b.VAT(amt=zar("324.78"), rate=Decimal("15")),
        first_tx_seq_no="100",
        last_tx_seq_no="104",
        shift_batch=(shift,),
        seq_no="12",
    )
    bank = r.BankBatch(
        **times,
        batch_tot=zar("2490.00"),
        first_sales_seq_no="12",
        last_sales_seq_no="12",
        dep_slip=r.DepositSlip(
            header="Deposit slip",
            amt=zar("2490.00"),
            beneficiary=r.Beneficiary(
                acc_name="Demo Utility",
                acc_no="123456789",
                branch_code="250655",
                bank_name="First Bank",
                bank_reg_no="1929/001225/06",
            ),
            banking_ref_no="DEP0001",
        ),
        sales_batch=(sales,),
        seq_no="7",
    )
    started = "2025-01-01T06:00:00+02:00"
    return [
        r.StartBatchResp(header=h, started_batch=r.ShiftStartBatch(started=started, seq_no="30")),
        r.StartBatchResp(
            header=h,
            started_batch=r.BankStartBatch(
                started=started,
                seq_no="7",
                sales_start_batch=(
                    r.SalesStartBatch(
                        started=started,
                        seq_no="12",
                        shift_start_batch=(r.ShiftStartBatch(started=started, seq_no="30"),),
                    ),
                ),
            ),
        ),
        r.StartBatchResp(header=h, started_batch=r.SalesStartBatch(started=started, seq_no="12")),
        r.EndBatchResp(header=h, end_batch=bank),
        r.EndBatchResp(header=h, end_batch=shift),
        r.TotalBatchResp(header=h, total_batch=(bank, sales, shift)),
        r.ReprintEndBatchResp(
            header=h, end_batch_reprint=r.EndBatchResp(header=h, end_batch=sales)
        ),
    ]


# --------------------------------------------------------------------------------------------
# Bills, money transfer, insurance (docs/EXTENSION-NAMESPACE.md)


def inr(value: str) -> b.Currency:
    return b.Currency(value=Decimal(value), symbol="INR")


BILL_IDENTIFIER = ext.BillIdentifier(
    params=(ext.BillParam(name="Customer ID", value="1234567894"),),
    biller_id="BESCOM000KAR01",
    mobile="9810000010",
)
REF_ID = "A1B2C3D4E5F6G7H8I9J0K1L2M3N4O5P6Q7R"


def provider_requests(h: b.RequestHeader) -> list[b.BaseReq]:
    def vend(identifier: b.MeterIdentifier) -> r.CreditVendReq:
        return r.CreditVendReq(
            header=h,
            resource=ext.Voucher(),
            id_method=b.VendIDMethod(meter_identifier=identifier),
            purchase_value=r.PurchaseValueCurrency(amt=inr("1040.00")),
        )

    return [
        ext.BillFetchReq(header=h, bill_identifier=BILL_IDENTIFIER),
        vend(dataclasses.replace(BILL_IDENTIFIER, ref_id=REF_ID)),
        vend(ext.BeneficiaryIdentifier(sender="9810000010", beneficiary_id=7)),
        ext.InsuranceQuoteReq(
            header=h,
            sum_insured=inr("500000.00"),
            plan="INS-TERM",
            dob="1990-05-17",
            term_years=10,
        ),
        vend(
            ext.PolicyIdentifier(
                plan="INS-TERM",
                quote_id="Q-000042",
                holder="Asha Verma",
                dob="1990-05-17",
                mobile="9810000010",
            )
        ),
    ]


def travel_requests(h: b.RequestHeader) -> list[b.BaseReq]:
    return [
        ext.TripSearchReq(header=h, origin="Bengaluru", destination="Mysuru", date="2026-12-20"),
        ext.SeatHoldReq(
            header=h,
            passengers=(
                ext.Passenger(name="Asha Verma", age=34, seat="1"),
                ext.Passenger(name="Ravi Verma", age=36, seat="2"),
            ),
            trip_id="BUS1",
            contact="9810000010",
            origin="Bengaluru",
            destination="Mysuru",
            date="2026-12-20",
        ),
        ext.BookingReq(header=h, booking_ref="TB000000000000000042"),
        ext.CancellationReq(header=h, booking_ref="TB000000000000000042"),
    ]


def travel_responses(h: b.ResponseHeader) -> list[b.BaseResp]:
    detail = ext.BookingDetail(
        fare=inr("1300.00"),
        booking_ref="TB000000000000000042",
        state="held",
        trip_id="BUS1",
        seats="1 2",
        expires_at="2026-12-06T09:10:00+00:00",
        avail_credit=inr("8700.00"),
    )
    booked = dataclasses.replace(
        detail, state="booked", expires_at=None, pnr="PNR1", ticket_no="TK1"
    )
    return [
        ext.TripSearchResp(
            header=h,
            trips=(
                ext.Trip(
                    fare=inr("650.00"),
                    trip_id="BUS1",
                    operator="Demo Travels",
                    bus_type="AC Sleeper",
                    departs="2026-12-20T06:00:00+05:30",
                    arrives="2026-12-20T09:30:00+05:30",
                    seats="1 2 L3",
                ),
            ),
        ),
        ext.TripSearchResp(header=h),
        ext.SeatHoldResp(header=h, booking=detail),
        ext.BookingResp(header=h, booking=booked),
        ext.BookingResp(
            header=h,
            booking=dataclasses.replace(booked, state="cancelled", refund=inr("1170.00")),
        ),
    ]


def provider_responses(h: b.ResponseHeader) -> list[b.BaseResp]:
    def receipt(tx: r.Tx) -> r.CreditVendResp:
        return r.CreditVendResp(
            header=h,
            **VEND_RESP_BASE,
            credit_vend_receipt=r.CreditVendReceipt(
                receipt_no="000000000042",
                transactions=r.Transactions(tx=(tx,), tender_amt=tx.amt, change=inr("0.00")),
            ),
        )

    return [
        ext.BillFetchResp(
            header=h,
            amt=inr("1040.00"),
            biller_id="BESCOM000KAR01",
            ref_id=REF_ID,
            customer_name="R K Gupta",
            bill_number="BN-2026-11",
            bill_date="2026-11-20",
            due_date="2026-12-15",
        ),
        receipt(
            ext.BillPaymentTx(
                amt=inr("1040.00"),
                bill=ext.BillDetail(
                    desc="BESCOM Bangalore bill",
                    biller_id="BESCOM000KAR01",
                    order_id="EV000000000000000042",
                    ref_id=REF_ID,
                    approval_ref="AB123456",
                    customer_name="R K Gupta",
                    bill_number="BN-2026-11",
                ),
            )
        ),
        receipt(
            ext.TransferTx(
                amt=inr("1050.40"),
                transfer=ext.TransferDetail(
                    desc="Transfer to 50100012345678",
                    sent=inr("1040.00"),
                    fee=inr("10.40"),
                    order_id="EV000000000000000043",
                    utr="612345678901",
                    beneficiary_name="ASHA VERMA",
                ),
            )
        ),
        ext.InsuranceQuoteResp(
            header=h,
            premium=inr("1040.00"),
            sum_insured=inr("500000.00"),
            quote_id="Q-000042",
            plan="INS-TERM",
            valid_minutes=30,
        ),
        receipt(
            ext.PolicyTx(
                amt=inr("1040.00"),
                policy=ext.PolicyDetail(
                    desc="Policy INS-TERM for Asha Verma",
                    plan="INS-TERM",
                    order_id="EV000000000000000044",
                    policy_no="POL123456",
                    document_ref="DOC-POL123456",
                    holder="Asha Verma",
                ),
            )
        ),
    ]
