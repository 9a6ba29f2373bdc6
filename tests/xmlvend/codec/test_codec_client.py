"""Client side: render_request is strict; parse_response tolerates what real servers send."""

from __future__ import annotations

from decimal import Decimal

import pytest
from codec_samples import all_responses, resp_header

from xmlvend.codec import MalformedResponse, SoapFault, parse_response, render_response
from xmlvend.codec import types_base as b
from xmlvend.codec import types_revenue as r

BASE = "http://www.nrs.eskom.co.za/xmlvend/base/2.1/schema"
VEND = next(x for x in all_responses() if type(x) is r.CreditVendResp)


def test_soap12_response() -> None:
    document = render_response(VEND).replace(
        b"http://schemas.xmlsoap.org/soap/envelope/", b"http://www.w3.org/2003/05/soap-envelope"
    )
    assert parse_response(document) == VEND


def test_missing_required_attributes_become_none() -> None:
    document = render_response(VEND).replace(b' taxRef="4123456789"', b"")
    resp = parse_response(document)
    assert isinstance(resp, r.CreditVendResp) and resp.utility.tax_ref is None


def test_vendor_elements_and_attributes_are_skipped() -> None:
    document = (
        render_response(VEND)
        .replace(
            b"</b:meterDetail>",
            b"<b:maxVendAmt>300.00</b:maxVendAmt><c:extra xmlns:c='urn:conlog'/></b:meterDetail>",
        )
        .replace(b"<b:utility ", b'<b:utility utilityType="Electricity" ')
    )
    assert parse_response(document) == VEND


def test_conlog_unqualified_capitalised_fault_detail() -> None:
    document = f"""<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"
        xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soap:Body><soap:Fault>
        <faultcode>soap:Server</faultcode><faultstring>Soap Exception From Server</faultstring>
        <faultactor>url</faultactor><detail><XMLVendFaultResp>
        <clientID xmlns="{BASE}" xsi:type="EANDeviceID" ean="VUPSB"/>
        <serverID xmlns="{BASE}" xsi:type="GenericDeviceID" id="1"/>
        <terminalID xmlns="{BASE}" xsi:type="GenericDeviceID" id="2"/>
        <reqMsgID xmlns="{BASE}" dateTime="20240403120000" uniqueNumber="379970"/>
        <respDateTime xmlns="{BASE}">2024-04-03T12:00:01-04:00</respDateTime>
        <dispHeader xmlns="{BASE}">Vending Server Cluster Error</dispHeader>
        <operatorMsg xmlns="{BASE}">There was a fault at the server</operatorMsg>
        <fault xmlns="{BASE}" xsi:type="SystemEx">
        <desc>Transaction has been terminated due to duplicate unique value.</desc></fault>
        </XMLVendFaultResp></detail></soap:Fault></soap:Body></soap:Envelope>""".encode()
    fault = parse_response(document)
    assert isinstance(fault, SoapFault)
    assert fault.faultstring == "Soap Exception From Server" and fault.faultactor == "url"
    assert fault.fault_class == "SystemEx"
    assert fault.desc == "Transaction has been terminated due to duplicate unique value."
    assert fault.detail is not None and fault.detail.header is not None
    assert fault.detail.header.client_id == b.EANDeviceID(ean="VUPSB")


def test_fully_unqualified_fault_detail() -> None:
    document = b"""<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"
        xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soap:Body><soap:Fault>
        <faultcode>soap:Server</faultcode><faultstring>Meter Not Found</faultstring>
        <detail><XMLVendFaultResp><fault xsi:type="SystemEx"><desc>Meter Not Found</desc></fault>
        </XMLVendFaultResp></detail></soap:Fault></soap:Body></soap:Envelope>"""
    fault = parse_response(document)
    assert isinstance(fault, SoapFault) and fault.desc == "Meter Not Found"


def test_fault_without_detail_and_asp_net_client_fault() -> None:
    document = b"""<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>
        <soap:Fault><faultcode>soap:Client</faultcode>
        <faultstring>Server was unable to read request. There is an error in XML document
        (20, 30).</faultstring>
        <detail/></soap:Fault></soap:Body></soap:Envelope>"""
    fault = parse_response(document)
    assert isinstance(fault, SoapFault)
    assert fault.code == "Client" and fault.detail is None and fault.fault_class is None


def test_missing_xsi_type_on_device_ids_in_responses() -> None:
    document = render_response(VEND).replace(b' xsi:type="b:EANDeviceID"', b"")
    assert parse_response(document) == VEND


def test_wrong_order_is_tolerated_on_input_from_servers() -> None:
    # Conlog writes utility before clientStatus (DOC 7).
    doc = render_response(VEND)
    status = doc[
        doc.index(b"<b:clientStatus>") : doc.index(b"</b:clientStatus>") + len(b"</b:clientStatus>")
    ]
    utility_start = doc.index(b"<b:utility ")
    utility = doc[utility_start : doc.index(b"/>", utility_start) + 2]
    swapped = doc.replace(status + utility, utility + status)
    assert swapped != doc
    assert parse_response(swapped) == VEND


@pytest.mark.parametrize(
    "document",
    [
        b"not xml",
        b"<html><body>502 Bad Gateway</body></html>",
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        b'<x:whatever xmlns:x="urn:x"/></soap:Body></soap:Envelope>',
    ],
)
def test_unusable_answers(document: bytes) -> None:
    with pytest.raises(MalformedResponse):
        parse_response(document)


def test_decimal_values_survive_exactly() -> None:
    resp = parse_response(render_response(VEND))
    assert isinstance(resp, r.CreditVendResp)
    assert resp.client_status.avail_credit == b.Currency(value=Decimal("1000.00"), symbol="ZAR")
    assert str(resp.client_status.avail_credit.value) == "1000.00"
    assert resp.header == resp_header()
