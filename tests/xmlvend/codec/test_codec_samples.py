"""The real (and reconstructed) documents of xmlvend-samples.xml."""

from __future__ import annotations

from decimal import Decimal

from codec_samples import sample_docs

from xmlvend.codec import SoapFault, parse_request, parse_response, render_request
from xmlvend.codec import types_base as b
from xmlvend.codec import types_revenue as r


def test_doc1_centlec_confirm_customer_default_namespace_xsi_types() -> None:
    """Default xmlns = base, root in revenue, xsi:type values unprefixed (resolve to base)."""
    req = parse_request(sample_docs()[1])
    assert isinstance(req, r.ConfirmCustomerReq)
    assert req.operation == "confirmCustomer"
    assert req.header.client_id == b.EANDeviceID(ean="0000000000026")
    assert req.header.terminal_id == b.GenericDeviceID(id="000098")
    assert req.header.msg_id == b.MsgID(date_time="20191126090312", unique_number="972238")
    assert req.header.auth_cred == b.AuthCred(op_name="OPNAME", password="PASSWORD")
    assert req.id_method == b.VendIDMethod(meter_identifier=b.MeterNumber(msno="14339800360"))
    assert req.soap_version == "1.1"
    # Re-rendered with our prefixes it is the same request.
    assert parse_request(render_request(req)).fingerprint == req.fingerprint


def test_doc2_hexing_confirm_customer_resp_with_vendor_additions() -> None:
    resp = parse_response(sample_docs()[2])
    assert isinstance(resp, r.ConfirmCustomerResp)
    assert resp.header.disp_header == ""
    (result,) = resp.confirm_cust_result
    assert result.cust_vend_detail.days_last_purchase == 10
    assert result.cust_vend_config.can_vend is True
    assert result.cust_vend_config.max_vend_amt == b.Currency(value=Decimal("1500.00"), symbol="R")
    # Hexing's maxVendAmt/minVendAmt/... inside meterDetail are skipped, the rest is kept.
    assert result.meter_detail == b.MeterDetail(
        meter_type=b.MeterType(at="07", tt="02"), msno="14339800360", sgc="008000", krn="1", ti="01"
    )


def test_doc4_gecol_credit_vend_resp_with_key_change_and_debt() -> None:
    resp = parse_response(sample_docs()[4])
    assert isinstance(resp, r.CreditVendResp)
    assert resp.utility.tax_ref is None  # omitted by the server although required
    txs = resp.credit_vend_receipt.transactions.tx
    assert [type(t).__name__ for t in txs] == [
        "CreditVendTx",
        "DebtRecoveryTx",
        "ServiceChrgTx",
        "ServiceChrgTx",
        "ServiceChrgTx",
    ]
    sale = txs[0]
    assert isinstance(sale, r.CreditVendTx)
    assert isinstance(sale.credit_token_issue, b.SaleCredTokenIssue)
    assert sale.credit_token_issue.token == b.STS1Token(sts_cipher="24001114602373050768")
    assert sale.kc_token_issue is not None
    assert sale.kc_token_issue.kct_data.to_sgc == "990458"
    assert isinstance(sale.kc_token_issue.token, b.KCToken)
    assert isinstance(txs[1], r.DebtRecoveryTx) and txs[1].balance == b.Currency(
        value=Decimal("495.00"), symbol="LYD"
    )
    assert resp.credit_vend_receipt.transactions.tender_amt == b.Currency(
        value=Decimal("50"), symbol="LYD"
    )


def test_doc7_conlog_last_response_advice_soap12_with_extension_namespace() -> None:
    resp = parse_response(sample_docs()[7])
    assert isinstance(resp, b.LastRespAdviceResp)
    assert resp.header.client_id == b.EANDeviceID(ean="VUPSB")
    assert resp.advice_req_msg_id == b.MsgID(date_time="20210723113526", unique_number="968167")
    original = resp.last_response
    assert isinstance(original, r.CreditVendResp)
    assert original.header.req_msg_id == resp.advice_req_msg_id
    assert original.header.resp_date_time == "2021-07-23T05:35:30.6819918-04:00"
    assert original.client_status.batch_status == b.BatchStatus(
        banking="open", sales="open", shift="open"
    )
    tx = original.credit_vend_receipt.transactions.tx[0]
    assert isinstance(tx, r.CreditVendTx)  # Conlog's tariffBreakdown extension skipped
    assert tx.credit_token_issue.units == b.Units(value=Decimal("15.4"), si_unit="kWh")
    assert tx.tariff == b.Tariff(name="DOMESTIC ELECTRICITY", desc="DOMESTIC ELECTRICITY")


def test_doc8_reversal_advice_request() -> None:
    req = parse_request(sample_docs()[8])
    assert isinstance(req, b.ReversalAdviceReq)
    assert req.operation == "reversalAdvice"
    assert req.advice_req_msg_id == b.MsgID(date_time="20250101120000", unique_number="100001")


def test_doc9_reversal_advice_response() -> None:
    resp = parse_response(sample_docs()[9])
    assert isinstance(resp, b.ReversalAdviceResp) and resp.tx_reversed is True


def test_doc10_confirmation_advice_request_with_pay_type() -> None:
    req = parse_request(sample_docs()[10])
    assert isinstance(req, b.ConfirmationAdviceReq)
    assert req.pay_type == b.Cash(tender_amt=b.Currency(value=Decimal("100.00"), symbol="ZAR"))
    assert req.header.auth_cred == b.AuthCred(op_name="OPNAME")


def test_doc12_eskom_fault_with_d3p1_type_prefix() -> None:
    fault = parse_response(sample_docs()[12])
    assert isinstance(fault, SoapFault)
    assert fault.code == "Server"
    assert fault.fault_class == "UnknownMeterEx"
    assert fault.desc == "010038 Meter information not found"
    assert fault.faultactor and fault.faultactor.endswith("WSActaris.asmx")
    assert fault.detail is not None and fault.detail.header is not None
    assert fault.detail.header.req_msg_id.date_time == "22222222222222222"  # kept raw
    assert fault.detail.header.disp_header == "ONLINE ERROR"


def test_doc13_hexing_fault_without_header_and_vendor_fault_code() -> None:
    fault = parse_response(sample_docs()[13])
    assert isinstance(fault, SoapFault)
    assert fault.fault_class == "SystemEx"
    assert fault.desc == "Separate free electricity purchase is closed"
    assert fault.vendor_fault_code == "VD.17020012"
    assert fault.detail is not None and fault.detail.header is None
    assert fault.faultstring == "NRSFaultResponseSoapOut"


def test_doc14_vendor_credit_fault() -> None:
    fault = parse_response(sample_docs()[14])
    assert isinstance(fault, SoapFault)
    assert fault.fault_class == "VendorCreditEx"
    assert fault.detail is not None and fault.detail.header is not None
    assert fault.detail.header.server_id == b.EANDeviceID(ean="6004708000007")


def test_conlog_style_soap12_advice_request_with_default_namespace() -> None:
    """Shaped like the Aqualectra client's advice to a Conlog .NET server (reference §1.1,
    [PG]): SOAP 1.2, base as default namespace, unprefixed xsi:type, an unused extension
    namespace declared."""
    document = b"""<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">
  <soap:Body>
    <adviceReq xsi:type="LastRespAdviceReq" xmlns="http://www.nrs.eskom.co.za/xmlvend/base/2.1/schema"
        xmlns:q1="http://www.eskom.co.za/xmlvend/meter-ext/2.1/schema">
      <clientID xsi:type="EANDeviceID" ean="VUPSB" />
      <terminalID xsi:type="EANDeviceID" ean="0000000000002" />
      <msgID dateTime="20210723113535" uniqueNumber="379970" />
      <authCred><opName>OPNAME</opName><password>PASSWORD</password></authCred>
      <adviceReqMsgID dateTime="20210723113526" uniqueNumber="968167" />
    </adviceReq>
  </soap:Body>
</soap:Envelope>"""
    req = parse_request(document)
    assert isinstance(req, b.LastRespAdviceReq)
    assert req.operation == "lastRespAdvice"
    assert req.soap_version == "1.2"
    assert req.header.client_id == b.EANDeviceID(ean="VUPSB")
    assert req.advice_req_msg_id == b.MsgID(date_time="20210723113526", unique_number="968167")


def test_zeep_style_request_with_per_element_declarations() -> None:
    """Each element declares its own prefix (ns0..ns4), as zeep/python clients write them
    (reference §8, the Eskom confirmMeterReq mock), with the mock's dummy 17-digit dateTime
    and 7-digit uniqueNumber."""
    base = "http://www.nrs.eskom.co.za/xmlvend/base/2.1/schema"
    xsi = "http://www.w3.org/2001/XMLSchema-instance"
    document = f"""<?xml version="1.0"?>
<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/"><soap-env:Body>
 <ns0:confirmMeterReq xmlns:ns0="http://www.nrs.eskom.co.za/xmlvend/meter/2.1/schema">
  <ns1:clientID xmlns:ns1="{base}" xmlns:xsi="{xsi}" xsi:type="ns1:GenericDeviceID"
      id="6004708000001"/>
  <ns2:terminalID xmlns:ns2="{base}" xmlns:xsi="{xsi}" xsi:type="ns2:GenericDeviceID" id="0001"/>
  <ns3:msgID xmlns:ns3="{base}" dateTime="33333333333333333" uniqueNumber="3333333"/>
  <ns0:idMethod>
   <ns4:meterIdentifier xmlns:ns4="{base}" xmlns:xsi="{xsi}" xsi:type="ns4:MeterNumber"
       msno="98765432101"/>
  </ns0:idMethod>
 </ns0:confirmMeterReq>
</soap-env:Body></soap-env:Envelope>""".encode()
    from xmlvend.codec import types_meter as m

    req = parse_request(document)
    assert isinstance(req, m.ConfirmMeterReq)
    assert req.header.msg_id == b.MsgID(date_time="33333333333333333", unique_number="3333333")
    assert req.id_method == b.VendIDMethod(meter_identifier=b.MeterNumber(msno="98765432101"))
