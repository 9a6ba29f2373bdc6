"""complexTypes of the XMLVend 2.1 *meter* schema (namespace ``m``): meter confirmation, key
change, customer fault reports and STS engineering tokens (reference §2.2, §2.7)."""

from __future__ import annotations

from xmlvend.codec.binding import attribute, element, xml_type
from xmlvend.codec.namespaces import METER
from xmlvend.codec.types_base import (
    BaseReq,
    BaseResp,
    BaseVendReq,
    BaseVendResp,
    ClearCreditTokenIssue,
    ClearTamperTokenIssue,
    CreditTokenIssue,
    CustDetail,
    KCTData,
    KCTokenIssue,
    MeterConfig,
    MeterDetail,
    MeterType,
    PhUnbalTokenIssue,
    PwrLmt,
    PwrLmtTokenIssue,
    Token,
    VendIDMethod,
    WaterFactorTokenIssue,
)

M = METER

# --------------------------------------------------------------------------------------------
# Meter confirmation and key update


@xml_type(M, "ConfirmMeterReq")
class ConfirmMeterReq(BaseReq):
    id_method: VendIDMethod = element(M, "idMethod", VendIDMethod)


@xml_type(M, "ConfirmMeterResult")
class ConfirmMeterResult:
    meter_detail: MeterDetail = element(M, "meterDetail", MeterDetail)


@xml_type(M, "ConfirmMeterResp")
class ConfirmMeterResp(BaseResp):
    confirm_meter_result: ConfirmMeterResult = element(M, "confirmMeterResult", ConfirmMeterResult)


@xml_type(M, "UpdateMeterKeyReq")
class UpdateMeterKeyReq(BaseReq):
    id_method: MeterConfig = element(M, "idMethod", MeterConfig)


@xml_type(M, "UpdateMeterKeyResp")
class UpdateMeterKeyResp(BaseVendResp):
    update_meter_key: KCTokenIssue = element(M, "updateMeterKey", KCTokenIssue)


# --------------------------------------------------------------------------------------------
# Customer fault reports (xsi:type on m:custFaultReport / m:faultReport)


@xml_type(M, "CustFaultReport")
class CustFaultReport:
    desc: str | None = element(M, "desc", optional=True)


@xml_type(M, "MeterFaultReport")
class MeterFaultReport(CustFaultReport):
    meter_info: VendIDMethod = element(M, "meterInfo", VendIDMethod)


@xml_type(M, "NetworkFaultReport")
class NetworkFaultReport(CustFaultReport):
    pass


@xml_type(M, "CustReportFaultReq")
class CustReportFaultReq(BaseReq):
    cust_detail: CustDetail = element(M, "custDetail", CustDetail)
    cust_fault_report: CustFaultReport = element(M, "custFaultReport", CustFaultReport)


@xml_type(M, "CustFaultLog")
class CustFaultLog:
    cust_detail: CustDetail = element(M, "custDetail", CustDetail)
    fault_report: CustFaultReport = element(M, "faultReport", CustFaultReport)
    ref_no: str = attribute("refNo")


@xml_type(M, "CustReportFaultResp")
class CustReportFaultResp(BaseResp):
    cust_fault_log: CustFaultLog = element(M, "custFaultLog", CustFaultLog)


# --------------------------------------------------------------------------------------------
# Meter-specific engineering tokens (xsi:type on m:meterSpecificEngReq / Resp)


@xml_type(M, "MeterSpecificEngReq", abstract=True)
class MeterSpecificEngReq(BaseVendReq):
    pass


@xml_type(M, "PwrLmtReq")
class PwrLmtReq(MeterSpecificEngReq):
    pwr_lmt: PwrLmt = element(M, "pwrLmt", PwrLmt)


@xml_type(M, "PhUnbalReq")
class PhUnbalReq(MeterSpecificEngReq):
    pwr_lmt: PwrLmt = element(M, "pwrLmt", PwrLmt)


@xml_type(M, "ClearCreditReq")
class ClearCreditReq(MeterSpecificEngReq):
    pass


@xml_type(M, "ClearTamperReq")
class ClearTamperReq(MeterSpecificEngReq):
    pass


@xml_type(M, "DefCreditReq")
class DefCreditReq(MeterSpecificEngReq):
    pass


@xml_type(M, "EngKCTReq")
class EngKCTReq(MeterSpecificEngReq):
    kct_data: KCTData = element(M, "kctData", KCTData)


@xml_type(M, "SetWaterFactorReq")
class SetWaterFactorReq(MeterSpecificEngReq):
    water_factor: str = element(M, "waterFactor")


@xml_type(M, "MeterSpecificEngResp", abstract=True)
class MeterSpecificEngResp(BaseVendResp):
    pass


@xml_type(M, "PwrLmtResp")
class PwrLmtResp(MeterSpecificEngResp):
    pwr_lmt_token: PwrLmtTokenIssue = element(M, "pwrLmtToken", PwrLmtTokenIssue)


@xml_type(M, "PhUnbalResp")
class PhUnbalResp(MeterSpecificEngResp):
    ph_unbalance: PhUnbalTokenIssue = element(M, "phUnbalance", PhUnbalTokenIssue)


@xml_type(M, "ClearCreditResp")
class ClearCreditResp(MeterSpecificEngResp):
    clear_credit: ClearCreditTokenIssue = element(M, "clearCredit", ClearCreditTokenIssue)


@xml_type(M, "ClearTamperResp")
class ClearTamperResp(MeterSpecificEngResp):
    clear_tamper: ClearTamperTokenIssue = element(M, "clearTamper", ClearTamperTokenIssue)


@xml_type(M, "DefCreditResp")
class DefCreditResp(MeterSpecificEngResp):
    def_credit: CreditTokenIssue = element(M, "defCredit", CreditTokenIssue)


@xml_type(M, "EngKCTResp")
class EngKCTResp(MeterSpecificEngResp):
    eng_kc_token: KCTokenIssue = element(M, "engKCToken", KCTokenIssue)


@xml_type(M, "SetWaterFactorResp")
class SetWaterFactorResp(MeterSpecificEngResp):
    water_factor: WaterFactorTokenIssue = element(M, "waterFactor", WaterFactorTokenIssue)


# --------------------------------------------------------------------------------------------
# Non-meter-specific engineering tokens (xsi:type on m:nonMeterSpecificEngReq / Resp)


@xml_type(M, "NonMeterSpecificTokenIssue", abstract=True)
class NonMeterSpecificTokenIssue:
    desc: str = element(M, "desc")
    meter_type: MeterType = element(M, "meterType", MeterType)
    token: Token = element(M, "token", Token)


@xml_type(M, "NonMeterSpecificEngTokenIssue", abstract=True)
class NonMeterSpecificEngTokenIssue(NonMeterSpecificTokenIssue):
    pass


@xml_type(M, "TestAllTokenIssue")
class TestAllTokenIssue(NonMeterSpecificEngTokenIssue):
    pass


@xml_type(M, "TestBreakerTokenIssue")
class TestBreakerTokenIssue(NonMeterSpecificEngTokenIssue):
    pass


@xml_type(M, "TestDisplayTokenIssue")
class TestDisplayTokenIssue(NonMeterSpecificEngTokenIssue):
    pass


@xml_type(M, "DispPwrLmtTokenIssue")
class DispPwrLmtTokenIssue(NonMeterSpecificEngTokenIssue):
    pass


@xml_type(M, "DispTITokenIssue")
class DispTITokenIssue(NonMeterSpecificEngTokenIssue):
    pass


@xml_type(M, "DispKRNTokenIssue")
class DispKRNTokenIssue(NonMeterSpecificEngTokenIssue):
    pass


@xml_type(M, "DispTamperTokenIssue")
class DispTamperTokenIssue(NonMeterSpecificEngTokenIssue):
    pass


@xml_type(M, "DispInstPwrTokenIssue")
class DispInstPwrTokenIssue(NonMeterSpecificEngTokenIssue):
    pass


@xml_type(M, "DispConsTotTokenIssue")
class DispConsTotTokenIssue(NonMeterSpecificEngTokenIssue):
    pass


@xml_type(M, "DispPhUnbalanceTokenIssue")
class DispPhUnbalanceTokenIssue(NonMeterSpecificEngTokenIssue):
    pass


@xml_type(M, "DispVerTokenIssue")
class DispVerTokenIssue(NonMeterSpecificEngTokenIssue):
    pass


@xml_type(M, "NonMeterSpecificEngReq", abstract=True)
class NonMeterSpecificEngReq(BaseReq):
    meter_type: MeterType = element(M, "meterType", MeterType)


@xml_type(M, "TestAllReq")
class TestAllReq(NonMeterSpecificEngReq):
    pass


@xml_type(M, "TestBreakerReq")
class TestBreakerReq(NonMeterSpecificEngReq):
    pass


@xml_type(M, "TestDisplayReq")
class TestDisplayReq(NonMeterSpecificEngReq):
    pass


@xml_type(M, "DispPwrLmtReq")
class DispPwrLmtReq(NonMeterSpecificEngReq):
    pass


@xml_type(M, "DispTIReq")
class DispTIReq(NonMeterSpecificEngReq):
    pass


@xml_type(M, "DispKRNReq")
class DispKRNReq(NonMeterSpecificEngReq):
    pass


@xml_type(M, "DispTamperReq")
class DispTamperReq(NonMeterSpecificEngReq):
    pass


@xml_type(M, "DispInstPwrReq")
class DispInstPwrReq(NonMeterSpecificEngReq):
    pass


@xml_type(M, "DispConsTotReq")
class DispConsTotReq(NonMeterSpecificEngReq):
    pass


@xml_type(M, "DispPhUnbalanceReq")
class DispPhUnbalanceReq(NonMeterSpecificEngReq):
    pass


@xml_type(M, "DispVerReq")
class DispVerReq(NonMeterSpecificEngReq):
    pass


@xml_type(M, "NonMeterSpecificEngResp", abstract=True)
class NonMeterSpecificEngResp(BaseResp):
    pass


@xml_type(M, "TestAllResp")
class TestAllResp(NonMeterSpecificEngResp):
    test_all: TestAllTokenIssue = element(M, "testAll", TestAllTokenIssue)


@xml_type(M, "TestBreakerResp")
class TestBreakerResp(NonMeterSpecificEngResp):
    test_breaker: TestBreakerTokenIssue = element(M, "testBreaker", TestBreakerTokenIssue)


@xml_type(M, "TestDisplayResp")
class TestDisplayResp(NonMeterSpecificEngResp):
    test_disp: TestDisplayTokenIssue = element(M, "testDisp", TestDisplayTokenIssue)


@xml_type(M, "DispPwrLmtResp")
class DispPwrLmtResp(NonMeterSpecificEngResp):
    disp_pwr_lmt: DispPwrLmtTokenIssue = element(M, "dispPwrLmt", DispPwrLmtTokenIssue)


@xml_type(M, "DispTIResp")
class DispTIResp(NonMeterSpecificEngResp):
    disp_ti: DispTITokenIssue = element(M, "dispTI", DispTITokenIssue)


@xml_type(M, "DispKRNResp")
class DispKRNResp(NonMeterSpecificEngResp):
    disp_krn: DispKRNTokenIssue = element(M, "dispKRN", DispKRNTokenIssue)


@xml_type(M, "DispTamperResp")
class DispTamperResp(NonMeterSpecificEngResp):
    disp_tamper: DispTamperTokenIssue = element(M, "dispTamper", DispTamperTokenIssue)


@xml_type(M, "DispInstPwrResp")
class DispInstPwrResp(NonMeterSpecificEngResp):
    disp_inst_pwr: DispInstPwrTokenIssue = element(M, "dispInstPwr", DispInstPwrTokenIssue)


@xml_type(M, "DispConsTotResp")
class DispConsTotResp(NonMeterSpecificEngResp):
    disp_cons_tot: DispConsTotTokenIssue = element(M, "dispConsTot", DispConsTotTokenIssue)


@xml_type(M, "DispPhUnbalanceResp")
class DispPhUnbalanceResp(NonMeterSpecificEngResp):
    disp_ph_unbalance: DispPhUnbalanceTokenIssue = element(
        M, "dispPhUnbalance", DispPhUnbalanceTokenIssue
    )


@xml_type(M, "DispVerResp")
class DispVerResp(NonMeterSpecificEngResp):
    disp_ver: DispVerTokenIssue = element(M, "dispVer", DispVerTokenIssue)
