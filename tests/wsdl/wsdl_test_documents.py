"""Hand-written XMLVend 2.1 documents that must be schema-valid.

Each entry is one global element as it appears in a SOAP Body (or fault detail), written
out by hand from the message catalogue so the tests check the schema against an
independent picture of the protocol, not against what the schema happens to accept.
Fragments below are plain strings on purpose: the element qualification (b:/r:/m:) is the
thing under test and must stay visible.
"""

from __future__ import annotations

from xmlvend.codec.namespaces import BASE, EXT, METER, REVENUE, XSI

NSDECL = (
    f'xmlns:b="{BASE}" xmlns:r="{REVENUE}" xmlns:m="{METER}" xmlns:ext="{EXT}" xmlns:xsi="{XSI}"'
)


def doc(root: str, body: str, xsi_type: str | None = None, attrs: str = "") -> str:
    """One standalone document: ``root`` carries every namespace declaration."""
    type_attr = f' xsi:type="{xsi_type}"' if xsi_type else ""
    return f"<{root} {NSDECL}{type_attr}{attrs}>{body}</{root}>"


# --- Message context -----------------------------------------------------------------

REQ = (
    '<b:clientID xsi:type="b:EANDeviceID" ean="6004708000090"/>'
    '<b:terminalID xsi:type="b:GenericDeviceID" id="1"/>'
    '<b:msgID dateTime="20250101120000" uniqueNumber="100001"/>'
    "<b:authCred><b:opName>OP1</b:opName><b:password>secret1</b:password></b:authCred>"
)

RESP = (
    '<b:clientID xsi:type="b:EANDeviceID" ean="6004708000090"/>'
    '<b:serverID xsi:type="b:EANDeviceID" ean="6004708000007"/>'
    '<b:terminalID xsi:type="b:GenericDeviceID" id="1"/>'
    '<b:reqMsgID dateTime="20250101120000" uniqueNumber="100001"/>'
    "<b:respDateTime>2025-01-01T12:00:01+02:00</b:respDateTime>"
    "<b:dispHeader>CREDIT VEND - TAX INVOICE</b:dispHeader>"
    "<b:operatorMsg>OK</b:operatorMsg>"
    "<b:custMsg>Thank you</b:custMsg>"
)

VEND_RESP = (
    RESP + "<b:clientStatus>"
    '<b:availCredit value="9910.00" symbol="ZAR"/>'
    '<b:batchStatus banking="open" sales="open" shift="closed"/>'
    "</b:clientStatus>"
    '<b:utility name="Demo Utility" address="1 Main Road, Pretoria" taxRef="4012345678"/>'
    '<b:vendor name="Corner Shop" address="2 Side Street"/>'
    '<b:custVendDetail name="J Smith" address="3 Erf Road" contactNo="0821234567"'
    ' accNo="ACC1001" locRef="ERF123" daysLastPurchase="12"/>'
)

VEND_REQ_TARGET = (
    '<b:resource xsi:type="b:Electricity"/>'
    '<b:idMethod xsi:type="b:VendIDMethod">'
    '<b:meterIdentifier xsi:type="b:MeterNumber" msno="01234567890"/>'
    "</b:idMethod>"
)


def meter_detail(tag: str, extra: str = "") -> str:
    return (
        f'<{tag} msno="01234567890" sgc="600816" krn="1" ti="01"{extra}>'
        f'<b:meterType at="07" tt="02"/></{tag}>'
    )


def sts_token(tag: str = "b:token", cipher: str = "24001114602373050768") -> str:
    return f'<{tag} xsi:type="b:STS1Token"><b:stsCipher>{cipher}</b:stsCipher></{tag}>'


KC_TOKEN = (
    '<b:token xsi:type="b:KCToken">'
    "<b:set1stMeterKey><b:stsCipher>13519572313577129238</b:stsCipher></b:set1stMeterKey>"
    "<b:set2ndMeterKey><b:stsCipher>33733830540189422636</b:stsCipher></b:set2ndMeterKey>"
    "</b:token>"
)

KCT_DATA = (
    '<b:kctData fromSGC="600816" fromKRN="1" fromTI="01" toSGC="600817" toKRN="2" toTI="01"/>'
)


def credit_token_issue(tag: str, xsi_type: str | None, cipher: str = "24001114602373050768") -> str:
    type_attr = f' xsi:type="{xsi_type}"' if xsi_type else ""
    return (
        f"<{tag}{type_attr}><b:desc>Prepayment Sale</b:desc>"
        + meter_detail("b:meterDetail")
        + sts_token(cipher=cipher)
        + '<b:units value="52.3" siUnit="kWh"/><b:resource xsi:type="b:Electricity"/>'
        + f"</{tag}>"
    )


def credit_vend_tx(
    tag: str = "r:tx",
    issue_type: str = "b:SaleCredTokenIssue",
    cipher: str = "24001114602373050768",
    key_change: bool = False,
    xsi_type: str | None = "r:CreditVendTx",
) -> str:
    type_attr = f' xsi:type="{xsi_type}"' if xsi_type else ""
    kc = (
        "<r:kcTokenIssue><b:desc>Key Change</b:desc>"
        + meter_detail("b:meterDetail")
        + KC_TOKEN
        + KCT_DATA
        + "</r:kcTokenIssue>"
        if key_change
        else ""
    )
    return (
        f'<{tag}{type_attr} receiptNo="2410151723070003">'
        '<r:amt value="86.96" symbol="ZAR"/>'
        '<r:tax xsi:type="b:VAT" rate="15"><b:amt value="13.04" symbol="ZAR"/></r:tax>'
        + credit_token_issue("r:creditTokenIssue", issue_type, cipher)
        + kc
        + "<r:tariff><b:name>Home Light 1</b:name><b:desc>Residential</b:desc></r:tariff>"
        + f"</{tag}>"
    )


def credit_vend_receipt(
    issue_type: str = "b:SaleCredTokenIssue",
    cipher: str = "24001114602373050768",
    key_change: bool = False,
    receipt_no: str = "2410151723070003",
) -> str:
    return (
        f'<r:creditVendReceipt receiptNo="{receipt_no}"><r:transactions>'
        + credit_vend_tx(issue_type=issue_type, cipher=cipher, key_change=key_change)
        + '<r:lessRound value="100.00" symbol="ZAR"/>'
        '<r:tenderAmt value="100.00" symbol="ZAR"/>'
        '<r:change value="0.00" symbol="ZAR"/>'
        "</r:transactions></r:creditVendReceipt>"
    )


CREDIT_VEND_RESP_BODY = VEND_RESP + (
    '<r:creditVendReceipt receiptNo="2410151723070003"><r:transactions>'
    + credit_vend_tx(key_change=True)
    + '<r:tx xsi:type="r:DebtRecoveryTx">'
    '<r:amt value="5.00" symbol="ZAR"/>'
    "<r:accDesc>Arrears</r:accDesc><r:accNo>ACC1001</r:accNo>"
    "<r:tariff><b:name>Home Light 1</b:name></r:tariff>"
    '<r:balance value="495.00" symbol="ZAR"/>'
    "</r:tx>"
    '<r:tx xsi:type="r:ServiceChrgTx">'
    '<r:amt value="3.00" symbol="ZAR"/>'
    '<r:tax xsi:type="b:VAT" rate="15"><b:amt value="0.39" symbol="ZAR"/></r:tax>'
    "<r:accDesc>Monthly service charge</r:accDesc>"
    "</r:tx>"
    '<r:lessRound value="108.00" symbol="ZAR"/>'
    '<r:tenderAmt value="110.00" symbol="ZAR"/>'
    '<r:change value="2.00" symbol="ZAR"/>'
    "</r:transactions></r:creditVendReceipt>"
)

PURCHASE_100 = (
    '<r:purchaseValue xsi:type="r:PurchaseValueCurrency">'
    '<r:amt value="100.00" symbol="ZAR"/></r:purchaseValue>'
)
CASH_100 = '<r:payType xsi:type="b:Cash"><b:tenderAmt value="100.00" symbol="ZAR"/></r:payType>'

VOUCHER_REQ_BODY = (
    REQ + '<b:resource xsi:type="ext:Voucher" productCode="VOD-R10" network="Vodacom"/>'
    '<b:idMethod><b:meterIdentifier xsi:type="ext:ProductIdentifier" productCode="VOD-R10"'
    ' recipient="27821234567"/></b:idMethod>'
    '<r:purchaseValue xsi:type="r:PurchaseValueCurrency"><r:amt value="10.00" symbol="ZAR"/>'
    "</r:purchaseValue>"
)

VOUCHER_RESP_BODY = VEND_RESP + (
    '<r:creditVendReceipt receiptNo="V000000042"><r:transactions>'
    '<r:tx xsi:type="ext:VoucherVendTx" receiptNo="V000000042">'
    '<r:amt value="8.70" symbol="ZAR"/>'
    '<r:tax xsi:type="b:VAT" rate="15"><b:amt value="1.30" symbol="ZAR"/></r:tax>'
    '<ext:voucher productCode="VOD-R10" serialNo="SN0001234" pin="1234567890123456"'
    ' expiry="2026-12-31" batchNo="B42" network="Vodacom">'
    "<ext:desc>Vodacom R10 airtime</ext:desc>"
    "<ext:instructions>Dial *100*01*PIN#</ext:instructions>"
    "</ext:voucher></r:tx>"
    '<r:tenderAmt value="10.00" symbol="ZAR"/>'
    "</r:transactions></r:creditVendReceipt>"
)

# --- Bills, money transfer, insurance (docs/EXTENSION-NAMESPACE.md) -----------------

INR_1040 = (
    '<r:purchaseValue xsi:type="r:PurchaseValueCurrency">'
    '<r:amt value="1040.00" symbol="INR"/></r:purchaseValue>'
)
BILL_ID = (
    '<b:meterIdentifier xsi:type="ext:BillIdentifier" billerId="BESCOM000KAR01"'
    ' refId="A1B2C3D4E5F6G7H8I9J0K1L2M3N4O5P6Q7R" mobile="9810000010">'
    '<ext:param name="Customer ID" value="1234567894"/></b:meterIdentifier>'
)
PROVIDER_RESOURCE = '<b:resource xsi:type="ext:Voucher"/>'


def provider_receipt(tx_type: str, amount: str, detail: str) -> str:
    """A creditVendResp's receipt with one line of our provider-sale types."""
    return VEND_RESP.replace("ZAR", "INR") + (
        '<r:creditVendReceipt receiptNo="000000000042"><r:transactions>'
        f'<r:tx xsi:type="{tx_type}" receiptNo="000000000042">'
        f'<r:amt value="{amount}" symbol="INR"/>{detail}</r:tx>'
        f'<r:tenderAmt value="{amount}" symbol="INR"/><r:change value="0.00" symbol="INR"/>'
        "</r:transactions></r:creditVendReceipt>"
    )


ADVICE_ID = '<b:adviceReqMsgID dateTime="20241231235959" uniqueNumber="99"/>'

# --- Engineering tokens --------------------------------------------------------------

METER_SPECIFIC_REQS: dict[str, str] = {
    "m:PwrLmtReq": '<m:pwrLmt value="5.0" siUnit="kW"/>',
    "m:PhUnbalReq": '<m:pwrLmt value="12.5" siUnit="kW"/>',
    "m:ClearCreditReq": "",
    "m:ClearTamperReq": "",
    "m:DefCreditReq": "",
    "m:EngKCTReq": KCT_DATA.replace("b:kctData", "m:kctData"),
    "m:SetWaterFactorReq": "<m:waterFactor>1000</m:waterFactor>",
}


def _eng_issue(tag: str, token: str, tail: str = "") -> str:
    return (
        f"<{tag}><b:desc>Engineering token</b:desc>"
        + meter_detail("b:meterDetail")
        + token
        + tail
        + f"</{tag}>"
    )


METER_SPECIFIC_RESPS: dict[str, str] = {
    "m:PwrLmtResp": _eng_issue("m:pwrLmtToken", sts_token(), '<b:pwrLmt value="5.0" siUnit="kW"/>'),
    "m:PhUnbalResp": _eng_issue(
        "m:phUnbalance", sts_token(), '<b:pwrLmt value="12.5" siUnit="kW"/>'
    ),
    "m:ClearCreditResp": _eng_issue("m:clearCredit", sts_token()),
    "m:ClearTamperResp": _eng_issue("m:clearTamper", sts_token()),
    "m:DefCreditResp": credit_token_issue("m:defCredit", None),
    "m:EngKCTResp": _eng_issue("m:engKCToken", KC_TOKEN, KCT_DATA),
    "m:SetWaterFactorResp": _eng_issue(
        "m:waterFactor", sts_token(), "<b:waterFactor>1000</b:waterFactor>"
    ),
}

# xsi:type of the request -> (xsi:type of the response, element holding the token issue)
NON_METER_SPECIFIC: dict[str, tuple[str, str]] = {
    "m:TestAllReq": ("m:TestAllResp", "m:testAll"),
    "m:TestBreakerReq": ("m:TestBreakerResp", "m:testBreaker"),
    "m:TestDisplayReq": ("m:TestDisplayResp", "m:testDisp"),
    "m:DispPwrLmtReq": ("m:DispPwrLmtResp", "m:dispPwrLmt"),
    "m:DispTIReq": ("m:DispTIResp", "m:dispTI"),
    "m:DispKRNReq": ("m:DispKRNResp", "m:dispKRN"),
    "m:DispTamperReq": ("m:DispTamperResp", "m:dispTamper"),
    "m:DispInstPwrReq": ("m:DispInstPwrResp", "m:dispInstPwr"),
    "m:DispConsTotReq": ("m:DispConsTotResp", "m:dispConsTot"),
    "m:DispPhUnbalanceReq": ("m:DispPhUnbalanceResp", "m:dispPhUnbalance"),
    "m:DispVerReq": ("m:DispVerResp", "m:dispVer"),
}

FAULT_CLASSES = (
    "b:SystemEx",
    "b:BusinessRuleEx",
    "b:UnknownMeterEx",
    "b:VendorCreditEx",
    "b:BlockedMeterEx",
    "b:UpdateMtrKeySameEx",
    "b:XMLVendSchemaEx",
    "b:LastResponseEx",
    "b:ReversalEx",
    "b:ConfirmationEx",
    "b:UseCaseSupportEx",
    "ext:DuplicateMsgIDEx",
    "ext:TransactionDelayedEx",
)


def fault_resp(fault_type: str, desc: str = "010038 Meter information not found") -> str:
    return doc(
        "b:xmlvendFaultResp",
        RESP + f'<b:fault xsi:type="{fault_type}"><b:desc>{desc}</b:desc></b:fault>',
    )


# --- The catalogue of valid documents ------------------------------------------------


def _valid() -> dict[str, str]:
    d: dict[str, str] = {}

    d["confirmCustomerReq/meter"] = doc(
        "r:confirmCustomerReq",
        REQ + '<r:idMethod xsi:type="b:VendIDMethod">'
        '<b:meterIdentifier xsi:type="b:MeterNumber" msno="01234567890"/></r:idMethod>',
    )
    d["confirmCustomerReq/account"] = doc(
        "r:confirmCustomerReq",
        REQ + '<r:idMethod xsi:type="b:CustIDMethod">'
        '<b:custIdentifier xsi:type="b:CustAccountNo" accNo="ACC1001">'
        "<b:organisation>Demo Utility</b:organisation></b:custIdentifier></r:idMethod>",
    )
    d["confirmCustomerResp"] = doc(
        "r:confirmCustomerResp",
        RESP + "<r:confirmCustResult>"
        '<r:custVendDetail name="J Smith" address="3 Erf Road" accNo="ACC1001"'
        ' daysLastPurchase="3"/>'
        "<r:custVendConfig><r:canVend>true</r:canVend><r:fbeDue>false</r:fbeDue>"
        '<r:maxVendAmt value="1500.00" symbol="ZAR"/><r:minVendAmt value="10.00" symbol="ZAR"/>'
        "</r:custVendConfig>" + meter_detail("r:meterDetail") + "</r:confirmCustResult>",
    )
    d["confirmMeterReq"] = doc(
        "m:confirmMeterReq",
        REQ + "<m:idMethod>"
        '<b:meterIdentifier xsi:type="b:MeterNumber" msno="01234567890"/></m:idMethod>',
    )
    d["confirmMeterResp"] = doc(
        "m:confirmMeterResp",
        RESP
        + "<m:confirmMeterResult>"
        + meter_detail(
            "m:meterDetail",
            ' xsi:type="b:ExtMeterDetail" useSTT="true"'
            ' track2Data="600727012345678901===0702600816011"',
        )
        + "</m:confirmMeterResult>",
    )
    d["creditVendReq"] = doc("r:creditVendReq", REQ + VEND_REQ_TARGET + PURCHASE_100 + CASH_100)
    d["creditVendReq/units"] = doc(
        "r:creditVendReq",
        REQ + VEND_REQ_TARGET + '<r:purchaseValue xsi:type="r:PurchaseValueUnits">'
        '<r:units value="100" siUnit="kWh"/></r:purchaseValue>',
    )
    d["creditVendResp"] = doc("r:creditVendResp", CREDIT_VEND_RESP_BODY)
    d["creditVendReq/voucher"] = doc("r:creditVendReq", VOUCHER_REQ_BODY)
    d["creditVendResp/voucher"] = doc("r:creditVendResp", VOUCHER_RESP_BODY)
    d["trialCreditVendReq"] = doc("r:trialCreditVendReq", REQ + VEND_REQ_TARGET + PURCHASE_100)
    d["trialCreditVendResp"] = doc(
        "r:trialCreditVendResp",
        VEND_RESP + credit_vend_receipt(cipher="0" * 20, receipt_no="000000000000000"),
    )
    d["trialCreditVendReq/voucher"] = doc("r:trialCreditVendReq", VOUCHER_REQ_BODY)
    d["reprintReq"] = doc(
        "r:reprintReq",
        REQ + '<r:idMethod xsi:type="b:VendIDMethod">'
        '<b:meterIdentifier xsi:type="b:MeterNumber" msno="01234567890"/></r:idMethod>',
    )
    d["reprintResp"] = doc(
        "r:reprintResp",
        RESP
        + '<r:reprint xsi:type="r:CreditVendResp">'
        + VEND_RESP
        + credit_vend_receipt()
        + "</r:reprint>"
        + '<r:reprint xsi:type="r:FBEResp">'
        + VEND_RESP
        + credit_vend_receipt(issue_type="b:FBECredTokenIssue", receipt_no="2410151723070002")
        + "</r:reprint>",
    )
    d["adviceReq/confirmation"] = doc(
        "b:adviceReq",
        REQ + ADVICE_ID + '<b:payType xsi:type="b:Cash">'
        '<b:tenderAmt value="100.00" symbol="ZAR"/></b:payType>',
        xsi_type="b:ConfirmationAdviceReq",
    )
    d["adviceReq/reversal"] = doc("b:adviceReq", REQ + ADVICE_ID, "b:ReversalAdviceReq")
    d["adviceReq/lastResponse"] = doc("b:adviceReq", REQ + ADVICE_ID, "b:LastRespAdviceReq")
    d["adviceResp/confirmation"] = doc(
        "b:adviceResp", RESP + ADVICE_ID, "b:ConfirmationAdviceResp", ' txConfirmed="true"'
    )
    d["adviceResp/reversal"] = doc(
        "b:adviceResp", RESP + ADVICE_ID, "b:ReversalAdviceResp", ' txReversed="false"'
    )
    d["adviceResp/lastResponse"] = doc(
        "b:adviceResp",
        RESP
        + ADVICE_ID
        + '<b:lastResponse xsi:type="r:CreditVendResp">'
        + CREDIT_VEND_RESP_BODY
        + "</b:lastResponse>",
        "b:LastRespAdviceResp",
    )
    d["payAccReq"] = doc(
        "r:payAccReq",
        REQ
        + '<r:reqAmt value="50.00" symbol="ZAR"/>'
        + CASH_100.replace("100.00", "50.00")
        + '<r:payAccount xsi:type="r:DebtRecovery"><r:desc>Arrears</r:desc>'
        '<r:idMethod xsi:type="b:CustIDMethod">'
        '<b:custIdentifier xsi:type="b:CustAccountNo" accNo="ACC1001"/></r:idMethod>'
        "</r:payAccount>",
    )
    d["payAccResp"] = doc(
        "r:payAccResp",
        VEND_RESP + '<r:payAccReceipt receiptNo="P000123"><r:transactions>'
        '<r:tx xsi:type="r:DebtRecoveryTx" receiptNo="P000123">'
        '<r:amt value="50.00" symbol="ZAR"/><r:accDesc>Arrears</r:accDesc>'
        '<r:accNo>ACC1001</r:accNo><r:balance value="445.00" symbol="ZAR"/></r:tx>'
        '<r:tenderAmt value="50.00" symbol="ZAR"/></r:transactions>'
        + meter_detail("r:meterDetail")
        + "</r:payAccReceipt>",
    )
    d["vendorStatementReq"] = doc("r:vendorStatementReq", REQ)
    d["vendorStatementResp"] = doc(
        "r:vendorStatementResp",
        RESP + "<r:statement><r:accNo>VEND0001</r:accNo>"
        '<r:accBal value="10000.00" symbol="ZAR"/><r:availCredit value="9900.00" symbol="ZAR"/>'
        '<r:lineItem><r:desc>Deposit</r:desc><r:amt value="10000.00" symbol="ZAR"/>'
        "<r:appliedDate>2024-12-31T08:00:00Z</r:appliedDate></r:lineItem>"
        '<r:lineItem><r:desc>Sale 2410151723070003</r:desc><r:amt value="-100.00" symbol="ZAR"/>'
        "<r:appliedDate>2025-01-01T12:00:01+02:00</r:appliedDate></r:lineItem>"
        "</r:statement>",
    )
    d["fbeReq"] = doc("r:fbeReq", REQ + VEND_REQ_TARGET)
    d["fbeResp"] = doc(
        "r:fbeResp", VEND_RESP + credit_vend_receipt(issue_type="b:FBECredTokenIssue")
    )
    d["freeIssueReq"] = doc("r:freeIssueReq", REQ + VEND_REQ_TARGET)
    d["freeIssueResp"] = doc(
        "r:freeIssueResp", VEND_RESP + credit_vend_receipt(issue_type="b:FreeCredTokenIssue")
    )
    d["meterCreditTransferReq"] = doc(
        "r:meterCreditTransferReq",
        REQ + VEND_REQ_TARGET + '<r:chgOutUnits><r:units value="23.4" siUnit="kWh"/>'
        "</r:chgOutUnits><r:creditTransferDetail><r:oldMSNO>04040404040</r:oldMSNO>"
        "<r:refNo>JOB-77</r:refNo></r:creditTransferDetail>",
    )
    d["meterCreditTransferResp"] = doc(
        "r:meterCreditTransferResp",
        VEND_RESP
        + "<r:creditTransferDetail><r:oldMSNO>04040404040</r:oldMSNO></r:creditTransferDetail>"
        + credit_vend_tx(tag="r:creditTransferTx", issue_type="b:MCTCredTokenIssue", xsi_type=None),
    )
    d["cancelVendReq"] = doc("r:cancelVendReq", REQ + VEND_REQ_TARGET + sts_token("r:token"))
    d["cancelVendResp"] = doc(
        "r:cancelVendResp",
        VEND_RESP + credit_vend_tx(tag="r:origTx", xsi_type=None),
        attrs=' cancelRefNo="C000001"',
    )
    d["verifyReq"] = doc(
        "r:verifyReq",
        REQ + sts_token("r:token") + "<r:idMethod>"
        '<b:meterIdentifier xsi:type="b:MeterNumber" msno="01234567890"/></r:idMethod>',
    )
    d["verifyResp"] = doc(
        "r:verifyResp",
        VEND_RESP
        + credit_vend_tx(tag="r:creditVendTx", xsi_type=None)
        + '<r:tokenInfo xsi:type="b:STS1TokenInfo"><b:tokenID>1234567</b:tokenID>'
        "<b:transferAmt>523</b:transferAmt>"
        "<b:tokenClass><b:credit>Electricity Token</b:credit></b:tokenClass></r:tokenInfo>",
    )
    d["updateMeterKeyReq"] = doc(
        "m:updateMeterKeyReq", REQ + meter_detail("m:idMethod", ' xsi:type="b:MeterDetail"')
    )
    d["updateMeterKeyReq/card"] = doc(
        "m:updateMeterKeyReq",
        REQ + '<m:idMethod xsi:type="b:MeterCard">'
        "<b:track2Data>600727012345678901=2912=0702600816011</b:track2Data></m:idMethod>",
    )
    d["updateMeterKeyResp"] = doc(
        "m:updateMeterKeyResp",
        VEND_RESP
        + "<m:updateMeterKey><b:desc>Key Change</b:desc>"
        + meter_detail("b:meterDetail")
        + KC_TOKEN
        + KCT_DATA
        + "<b:pwrLmtToken><b:desc>Power limit</b:desc>"
        + meter_detail("b:meterDetail")
        + sts_token()
        + '<b:pwrLmt value="60.0" siUnit="kW"/></b:pwrLmtToken>'
        + "</m:updateMeterKey>",
    )
    for req_type, body in METER_SPECIFIC_REQS.items():
        d[f"meterSpecificEngReq/{req_type}"] = doc(
            "m:meterSpecificEngReq", REQ + VEND_REQ_TARGET + body, req_type
        )
    for resp_type, body in METER_SPECIFIC_RESPS.items():
        d[f"meterSpecificEngResp/{resp_type}"] = doc(
            "m:meterSpecificEngResp", VEND_RESP + body, resp_type
        )
    for req_type, (resp_type, tag) in NON_METER_SPECIFIC.items():
        d[f"nonMeterSpecificEngReq/{req_type}"] = doc(
            "m:nonMeterSpecificEngReq", REQ + '<m:meterType at="07" tt="02"/>', req_type
        )
        d[f"nonMeterSpecificEngResp/{resp_type}"] = doc(
            "m:nonMeterSpecificEngResp",
            RESP + f"<{tag}><m:desc>Engineering test</m:desc>"
            '<m:meterType at="07" tt="02"/>' + sts_token("m:token") + f"</{tag}>",
            resp_type,
        )
    d["custReportFaultReq"] = doc(
        "m:custReportFaultReq",
        REQ + '<m:custDetail name="J Smith" address="3 Erf Road"/>'
        '<m:custFaultReport xsi:type="m:MeterFaultReport"><m:desc>Display blank</m:desc>'
        '<m:meterInfo><b:meterIdentifier xsi:type="b:MeterNumber" msno="01234567890"/>'
        "</m:meterInfo></m:custFaultReport>",
    )
    d["custReportFaultResp"] = doc(
        "m:custReportFaultResp",
        RESP + '<m:custFaultLog refNo="F0001"><m:custDetail name="J Smith" address="3 Erf Road"/>'
        '<m:faultReport xsi:type="m:NetworkFaultReport"><m:desc>No supply</m:desc>'
        "</m:faultReport></m:custFaultLog>",
    )
    d["depositReq"] = doc("r:depositReq", REQ)
    d["depositResp"] = doc(
        "r:depositResp",
        RESP + '<r:depSlip bankingRefNo="DEP0001"><r:header>Deposit slip</r:header>'
        '<r:amt value="2500.00" symbol="ZAR"/>'
        '<r:beneficiary accName="Demo Utility" accNo="123456789" branchCode="250655"'
        ' bankName="First Bank" bankRegNo="1929/001225/06"/></r:depSlip>',
    )
    d["startBatchReq"] = doc("r:startBatchReq", REQ, "r:StartShiftBatchReq")
    d["startBatchResp"] = doc(
        "r:startBatchResp",
        RESP + '<r:startedBatch xsi:type="r:BankStartBatch" seqNo="B7">'
        "<r:started>2025-01-01T06:00:00+02:00</r:started>"
        '<r:salesStartBatch seqNo="S12"><r:started>2025-01-01T06:00:00+02:00</r:started>'
        '<r:shiftStartBatch seqNo="H30"><r:started>2025-01-01T06:00:00+02:00</r:started>'
        "</r:shiftStartBatch></r:salesStartBatch></r:startedBatch>",
    )
    d["endBatchReq"] = doc("r:endBatchReq", REQ, "r:EndShiftBatchReq")
    d["endBatchResp"] = doc(
        "r:endBatchResp",
        RESP + '<r:endBatch xsi:type="r:ShiftBatch" seqNo="H30">'
        "<r:started>2025-01-01T06:00:00+02:00</r:started>"
        "<r:ended>2025-01-01T14:00:00+02:00</r:ended>"
        '<r:batchTot value="2500.00" symbol="ZAR"/>'
        '<r:totTax xsi:type="b:VAT" rate="15"><b:amt value="326.09" symbol="ZAR"/></r:totTax>'
        "<r:batchReport>"
        '<r:txTotal xsi:type="r:NormalSaleTotal"><r:desc>Sales</r:desc>'
        '<r:amt value="2400.00" symbol="ZAR"/></r:txTotal>'
        '<r:txTotal xsi:type="r:DebtRecoveryTotal"><r:desc>Debt</r:desc>'
        '<r:amt value="100.00" symbol="ZAR"/></r:txTotal>'
        '<r:operatorTotal><r:opName>OP1</r:opName><r:amt value="2500.00" symbol="ZAR"/>'
        "</r:operatorTotal>"
        '<r:payTypeTotal xsi:type="r:CashTotal"><r:desc>Cash</r:desc>'
        '<r:amt value="2500.00" symbol="ZAR"/></r:payTypeTotal>'
        '<r:resTot xsi:type="r:ElectricityTotal"><r:desc>Electricity</r:desc>'
        '<r:units value="1234.5" siUnit="kWh"/></r:resTot>'
        "</r:batchReport></r:endBatch>",
    )
    d["reprintEndBatchReq"] = doc(
        "r:reprintEndBatchReq",
        REQ + "<r:seqNo>S12</r:seqNo><r:all>false</r:all>",
        "r:ReprintEndSalesBatchReq",
    )
    d["billFetchReq"] = doc(
        "ext:billFetchReq",
        REQ + BILL_ID.replace("b:meterIdentifier", "ext:billIdentifier")
        .replace(' xsi:type="ext:BillIdentifier"', "")
        .replace(' refId="A1B2C3D4E5F6G7H8I9J0K1L2M3N4O5P6Q7R"', ""),
    )  # fmt: skip
    d["billFetchResp"] = doc(
        "ext:billFetchResp",
        RESP + '<ext:amt value="1040.00" symbol="INR"/>',
        attrs=' billerId="BESCOM000KAR01" refId="A1B2C3D4E5F6G7H8I9J0K1L2M3N4O5P6Q7R"'
        ' customerName="R K Gupta" billNumber="BN-2026-11" billDate="2026-11-20"'
        ' dueDate="2026-12-15"',
    )
    d["creditVendReq/bill"] = doc(
        "r:creditVendReq",
        REQ + PROVIDER_RESOURCE + "<b:idMethod>" + BILL_ID + "</b:idMethod>" + INR_1040,
    )
    d["creditVendResp/bill"] = doc(
        "r:creditVendResp",
        provider_receipt(
            "ext:BillPaymentTx", "1040.00",
            '<ext:bill billerId="BESCOM000KAR01" orderId="EV000000000000000042"'
            ' refId="A1B2C3D4E5F6G7H8I9J0K1L2M3N4O5P6Q7R" approvalRef="AB123456"'
            ' customerName="R K Gupta" billNumber="BN-2026-11">'
            "<ext:desc>BESCOM Bangalore bill</ext:desc></ext:bill>",
        ),
    )  # fmt: skip
    d["creditVendReq/transfer"] = doc(
        "r:creditVendReq",
        REQ + PROVIDER_RESOURCE + "<b:idMethod><b:meterIdentifier"
        ' xsi:type="ext:BeneficiaryIdentifier" sender="9810000010" beneficiaryId="7"/>'
        "</b:idMethod>" + INR_1040,
    )
    d["creditVendResp/transfer"] = doc(
        "r:creditVendResp",
        provider_receipt(
            "ext:TransferTx", "1050.40",
            '<ext:transfer orderId="EV000000000000000043" utr="612345678901"'
            ' beneficiaryName="ASHA VERMA"><ext:desc>Transfer to 50100012345678</ext:desc>'
            '<ext:sent value="1040.00" symbol="INR"/><ext:fee value="10.40" symbol="INR"/>'
            "</ext:transfer>",
        ),
    )  # fmt: skip
    d["insuranceQuoteReq"] = doc(
        "ext:insuranceQuoteReq",
        REQ + '<ext:sumInsured value="500000.00" symbol="INR"/>',
        attrs=' plan="INS-TERM" dob="1990-05-17" termYears="10"',
    )
    d["insuranceQuoteResp"] = doc(
        "ext:insuranceQuoteResp",
        RESP + '<ext:premium value="1040.00" symbol="INR"/>'
        '<ext:sumInsured value="500000.00" symbol="INR"/>',
        attrs=' quoteId="Q-000042" plan="INS-TERM" validMinutes="30"',
    )
    d["creditVendReq/policy"] = doc(
        "r:creditVendReq",
        REQ + PROVIDER_RESOURCE + '<b:idMethod><b:meterIdentifier xsi:type="ext:PolicyIdentifier"'
        ' plan="INS-TERM" quoteId="Q-000042" holder="Asha Verma" dob="1990-05-17"'
        ' mobile="9810000010"/></b:idMethod>' + INR_1040,
    )
    d["creditVendResp/policy"] = doc(
        "r:creditVendResp",
        provider_receipt(
            "ext:PolicyTx", "1040.00",
            '<ext:policy plan="INS-TERM" orderId="EV000000000000000044" policyNo="POL123456"'
            ' documentRef="DOC-POL123456" holder="Asha Verma">'
            "<ext:desc>Policy INS-TERM for Asha Verma</ext:desc></ext:policy>",
        ),
    )  # fmt: skip
    d["tripSearchReq"] = doc(
        "ext:tripSearchReq", REQ, attrs=' from="Bengaluru" to="Mysuru" date="2026-12-20"'
    )
    d["tripSearchResp"] = doc(
        "ext:tripSearchResp",
        RESP + '<ext:trip tripId="BUS1" operator="Demo Travels" busType="AC Sleeper"'
        ' departs="2026-12-20T06:00:00+05:30" arrives="2026-12-20T09:30:00+05:30"'
        ' seats="1 2 L3"><ext:fare value="650.00" symbol="INR"/></ext:trip>',
    )
    d["seatHoldReq"] = doc(
        "ext:seatHoldReq",
        REQ + '<ext:passenger name="Asha Verma" age="34" seat="1"/>'
        '<ext:passenger name="Ravi Verma" age="36" seat="2"/>',
        attrs=' tripId="BUS1" contact="9810000010" from="Bengaluru" to="Mysuru" date="2026-12-20"',
    )
    booking = (
        '<ext:booking bookingRef="TB000000000000000042" state="{state}" tripId="BUS1"'
        ' seats="1 2"{extra}><ext:fare value="1300.00" symbol="INR"/>{refund}'
        "</ext:booking>"
    )
    d["seatHoldResp"] = doc(
        "ext:seatHoldResp",
        RESP + booking.format(state="held", extra=' expiresAt="2026-12-06T09:10:00Z"', refund=""),
    )
    d["bookingReq"] = doc("ext:bookingReq", REQ, attrs=' bookingRef="TB000000000000000042"')
    d["cancellationReq"] = doc(
        "ext:cancellationReq", REQ, attrs=' bookingRef="TB000000000000000042"'
    )
    d["bookingResp"] = doc(
        "ext:bookingResp",
        RESP + booking.format(state="booked", extra=' pnr="PNR1" ticketNo="TK1"', refund=""),
    )
    d["bookingResp/cancelled"] = doc(
        "ext:bookingResp",
        RESP
        + booking.format(
            state="cancelled",
            extra=' pnr="PNR1" ticketNo="TK1"',
            refund='<ext:refund value="1170.00" symbol="INR"/>',
        ),
    )
    for fault_type in FAULT_CLASSES:
        d[f"xmlvendFaultResp/{fault_type}"] = fault_resp(fault_type)
    return d


VALID: dict[str, str] = _valid()
