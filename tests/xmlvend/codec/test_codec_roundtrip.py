"""Golden round trips for every message, both directions, each rendered document validated
against the strict schema."""

from __future__ import annotations

import dataclasses

import pytest
from codec_samples import (
    all_requests,
    all_responses,
    assert_strictly_valid,
    payload_of,
    req_header,
    resp_header,
)
from lxml import etree

from xmlvend.codec import (
    FAULT_CLASSES,
    SoapFault,
    parse_request,
    parse_response,
    render_fault,
    render_request,
    render_response,
)
from xmlvend.codec import types_base as b
from xmlvend.codec import types_meter as m
from xmlvend.codec import types_revenue as r
from xmlvend.codec.binding import XSI_TYPE, all_types, is_abstract, to_xml
from xmlvend.codec.canonical import canonical_element
from xmlvend.codec.envelope import new_envelope
from xmlvend.codec.messages import element_for

REQUESTS = all_requests()
RESPONSES = all_responses()


def _id(message: object) -> str:
    return type(message).__name__


@pytest.mark.parametrize("request_", REQUESTS, ids=_id)
def test_request_round_trip(request_: b.BaseReq) -> None:
    document = render_request(request_)
    assert document.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert_strictly_valid(document)
    parsed = parse_request(document)
    assert parsed == request_
    assert type(parsed) is type(request_)
    assert render_request(parsed) == document  # deterministic, and nothing lost


@pytest.mark.parametrize("response", RESPONSES, ids=_id)
def test_response_round_trip(response: b.BaseResp) -> None:
    document = render_response(response)
    assert_strictly_valid(document)
    parsed = parse_response(document)
    assert parsed == response
    assert type(parsed) is type(response)
    assert render_response(parsed) == document


@pytest.mark.parametrize("message", REQUESTS + RESPONSES, ids=_id)
def test_text_renderer_agrees_with_tree_renderer(message: object) -> None:
    """The fast text renderer and the lxml renderer produce the same information."""
    tag, declared = element_for(type(message))
    _, body = new_envelope()  # declares the codec prefixes the xsi:type values use
    via_tree = to_xml(message, body, tag, declared)
    document = (
        render_response(message) if isinstance(message, b.BaseResp) else render_request(message)
    )  # type: ignore[arg-type]
    assert canonical_element(payload_of(document)) == canonical_element(via_tree)


def test_every_concrete_message_type_has_a_sample() -> None:
    """So that 'every message' above really is every message."""
    sampled = {type(x) for x in REQUESTS + RESPONSES}
    sampled |= {type(x.last_response) for x in RESPONSES if isinstance(x, b.LastRespAdviceResp)}
    for cls in all_types().values():
        if is_abstract(cls) or cls is b.XMLVendFaultResp:
            continue
        if issubclass(cls, b.BaseReq | b.BaseResp) and cls not in (b.BaseReq, b.BaseResp):
            if cls in (b.BaseVendReq, b.BaseVendResp):
                continue  # only ever the declared type of embedded elements
            assert cls in sampled, f"no sample of {cls.__name__}"


def test_polymorphic_elements_carry_xsi_type_with_correct_qnames() -> None:
    advice = render_response(
        b.ReversalAdviceResp(
            header=resp_header(),
            advice_req_msg_id=b.MsgID(date_time="20250101120000", unique_number="1"),
            tx_reversed=True,
        )
    )
    root = payload_of(advice)
    assert root.tag == "{http://www.nrs.eskom.co.za/xmlvend/base/2.1/schema}adviceResp"
    assert root.get(XSI_TYPE) == "b:ReversalAdviceResp"
    assert root.nsmap["b"] == "http://www.nrs.eskom.co.za/xmlvend/base/2.1/schema"
    eng = payload_of(render_request(next(x for x in REQUESTS if isinstance(x, m.EngKCTReq))))
    assert eng.get(XSI_TYPE) == "m:EngKCTReq"
    # Concrete declared types get no xsi:type (b:idMethod of a BaseVendReq is a VendIDMethod)
    vend = payload_of(render_request(next(x for x in REQUESTS if isinstance(x, r.CreditVendReq))))
    id_method = vend.find("{http://www.nrs.eskom.co.za/xmlvend/base/2.1/schema}idMethod")
    assert id_method is not None and id_method.get(XSI_TYPE) is None
    for el in vend.iter("{*}clientID", "{*}terminalID", "{*}meterIdentifier", "{*}purchaseValue"):
        assert el.get(XSI_TYPE) is not None, el.tag


def test_children_are_in_the_namespace_of_the_declaring_schema() -> None:
    """Reference §1.1: creditVendReq header/resource/idMethod are b:, purchaseValue/payType and
    purchaseValue/amt are r:, payType/tenderAmt is b:; tx/amt is r: but tx/tax/amt is b:."""
    B = "{http://www.nrs.eskom.co.za/xmlvend/base/2.1/schema}"
    R = "{http://www.nrs.eskom.co.za/xmlvend/revenue/2.1/schema}"
    vend = payload_of(render_request(REQUESTS[6]))
    assert [c.tag for c in vend] == [
        B + "clientID",
        B + "terminalID",
        B + "msgID",
        B + "authCred",
        B + "resource",
        B + "idMethod",
        R + "purchaseValue",
        R + "payType",
    ]
    assert vend.find(f"{R}purchaseValue/{R}amt") is not None
    assert vend.find(f"{R}payType/{B}tenderAmt") is not None
    resp = payload_of(render_response(RESPONSES[2]))
    tx = resp.find(f"{R}creditVendReceipt/{R}transactions/{R}tx")
    assert tx is not None
    assert tx.find(f"{R}amt") is not None and tx.find(f"{R}tax/{B}amt") is not None
    assert tx.find(f"{R}creditTokenIssue/{B}token/{B}stsCipher") is not None


@pytest.mark.parametrize("name", sorted(n for n in FAULT_CLASSES if ":" not in n))
def test_every_fault_class_renders_valid_and_parses_back(name: str) -> None:
    document = render_fault(name, f"{name} happened", header=resp_header(), faultcode="Server")
    assert_strictly_valid(document)
    fault = parse_response(document)
    assert isinstance(fault, SoapFault)
    assert fault.fault_class == name
    assert fault.desc == f"{name} happened"
    assert fault.code == "Server"
    assert fault.detail is not None and fault.detail.header == resp_header()


def test_fault_class_names_cover_reference_and_extension() -> None:
    for name in (
        "SystemEx",
        "BusinessRuleEx",
        "VendorCreditEx",
        "UnknownMeterEx",
        "XMLVendSchemaEx",
        "UseCaseSupportEx",
        "LastResponseEx",
        "ReversalEx",
        "ConfirmationEx",
        "ClientIDSSLEx",
        "DuplicateMsgIDEx",
        "TransactionDelayedEx",
        "ext:DuplicateMsgIDEx",
        "b:SystemEx",
    ):
        assert name in FAULT_CLASSES
    assert "XMLVendFaultEx" not in FAULT_CLASSES and "Fault" not in FAULT_CLASSES  # abstract
    with pytest.raises(ValueError):
        render_fault("XMLVendFaultEx", "x", header=None)
    ext_fault = payload_of(render_fault("DuplicateMsgIDEx", "d", header=resp_header()))
    assert ext_fault[-1].get(XSI_TYPE) == "ext:DuplicateMsgIDEx"


def test_fault_without_header_uses_schema_valid_placeholders() -> None:
    document = render_fault(
        "XMLVendSchemaEx",
        "bad request",
        header=None,
        faultcode="Client",
        server_id=b.EANDeviceID(ean="6004708000007"),
    )
    assert_strictly_valid(document)
    root = etree.fromstring(document)
    assert root.findtext(".//faultcode") == "soap:Client"
    fault = parse_response(document)
    assert isinstance(fault, SoapFault) and fault.detail is not None
    header = fault.detail.header
    assert header is not None
    assert header.client_id == b.GenericDeviceID(id="UNKNOWN")
    assert header.server_id == b.EANDeviceID(ean="6004708000007")
    assert header.req_msg_id == b.MsgID(date_time="00000000000000", unique_number="1")


def test_fault_desc_is_cut_to_msg_length_and_faultstring_kept() -> None:
    long = "x" * 300
    document = render_fault("SystemEx", long, header=resp_header())
    assert_strictly_valid(document)
    fault = parse_response(document)
    assert isinstance(fault, SoapFault)
    assert fault.desc == "x" * 160 and fault.faultstring == long


def test_render_is_deterministic_and_escapes() -> None:
    header = resp_header(operator_msg='<&> "quoted" \t tab', cust_msg="line1\nline2")
    resp = dataclasses.replace(RESPONSES[0], header=header)
    first = render_response(resp)
    assert first == render_response(resp)
    assert_strictly_valid(first)
    assert parse_response(first) == resp


def test_values_xml_cannot_carry_are_refused() -> None:
    resp = dataclasses.replace(RESPONSES[0], header=resp_header(operator_msg="bell\x07"))
    with pytest.raises(ValueError):
        render_response(resp)


def test_missing_required_value_is_refused_on_output() -> None:
    bad = dataclasses.replace(RESPONSES[0], header=resp_header(resp_date_time=None))
    with pytest.raises(ValueError):
        render_response(bad)


def test_soap12_request_is_answered_in_soap12() -> None:
    request = dataclasses.replace(REQUESTS[6], soap_version="1.2")
    document = render_request(request)
    assert b"http://www.w3.org/2003/05/soap-envelope" in document
    parsed = parse_request(document)
    assert parsed == request and parsed.soap_version == "1.2"
    answer = render_response(RESPONSES[2], soap_version=parsed.soap_version)
    assert etree.fromstring(answer).tag == "{http://www.w3.org/2003/05/soap-envelope}Envelope"
    assert_strictly_valid(answer)
    assert parse_response(answer) == RESPONSES[2]
    fault = render_fault(
        "SystemEx", "down", header=resp_header(), soap_version="1.2", faultcode="Client"
    )
    assert_strictly_valid(fault)
    read = parse_response(fault)
    assert isinstance(read, SoapFault) and read.code == "Sender" and read.soap_version == "1.2"


def test_operation_names() -> None:
    ops = {type(x).__name__: x.operation for x in REQUESTS}
    assert ops["CreditVendReq"] == "creditVend"
    assert ops["TrialCreditVendReq"] == "trialCreditVend"
    assert ops["ConfirmCustomerReq"] == "confirmCustomer"
    assert ops["LastRespAdviceReq"] == "lastRespAdvice"
    assert ops["ReversalAdviceReq"] == "reversalAdvice"
    assert ops["ConfirmationAdviceReq"] == "confirmationAdvice"
    assert ops["PwrLmtReq"] == "meterSpecificEng"
    assert ops["TestAllReq"] == "nonMeterSpecificEng"
    assert ops["FBEReq"] == "fbe"
    assert req_header() == REQUESTS[0].header
