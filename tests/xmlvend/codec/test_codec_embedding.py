"""lastResponse / reprint embed the ORIGINAL stored response content unchanged."""

from __future__ import annotations

import re

import pytest
from codec_samples import (
    MSG_ID,
    all_responses,
    assert_strictly_valid,
    payload_of,
    resp_header,
)
from lxml import etree

from xmlvend.codec import (
    parse_response,
    render_fault,
    render_last_response_advice,
    render_reprint_response,
    render_response,
)
from xmlvend.codec import types_base as b
from xmlvend.codec import types_meter as m
from xmlvend.codec import types_revenue as r
from xmlvend.codec.binding import XSI_TYPE, qname_text, type_qname
from xmlvend.codec.canonical import canonical_content

BASE = "http://www.nrs.eskom.co.za/xmlvend/base/2.1/schema"
REVENUE = "http://www.nrs.eskom.co.za/xmlvend/revenue/2.1/schema"
RESPONSES = all_responses()
VEND = next(x for x in RESPONSES if type(x) is r.CreditVendResp)
PWR_LMT = next(x for x in RESPONSES if isinstance(x, m.PwrLmtResp))
ADVICE_MSG_ID = b.MsgID(date_time="20250101120500", unique_number="100002")
ADVICE_HEADER = resp_header(req_msg_id=ADVICE_MSG_ID, disp_header="Last Response Advice")


def _foreign_prefixes(document: bytes) -> bytes:
    """The same response as another stack would have written it: other prefixes, revenue as
    the default namespace, xsi bound to d3p1, indentation."""
    text = document.decode()
    text = re.sub(r'(?<=[<\s/"])b:', "ns2:", text).replace("xmlns:b=", "xmlns:ns2=")
    text = re.sub(r"(?<=</)r:|(?<=<)r:", "", text).replace("xmlns:r=", "xmlns=")
    text = text.replace('"r:', '"q1:').replace("xmlns=", f'xmlns:q1="{REVENUE}" xmlns=', 1)
    text = re.sub(r"(?<=\s)xsi:", "d3p1:", text).replace("xmlns:xsi=", "xmlns:d3p1=")
    root = etree.fromstring(text.encode())
    etree.indent(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _assert_embedded_unchanged(embedded: etree._Element, original_document: bytes) -> None:
    original = payload_of(original_document)
    assert canonical_content(embedded, ignore_xsi_type=True) == canonical_content(
        original, ignore_xsi_type=True
    )


@pytest.mark.parametrize("stored_form", ["ours", "foreign prefixes"])
def test_last_response_advice_embeds_the_original(stored_form: str) -> None:
    stored = render_response(VEND)
    if stored_form != "ours":
        stored = _foreign_prefixes(stored)
        assert b"ns2:" in stored and b"d3p1:type" in stored
    document = render_last_response_advice(ADVICE_HEADER, MSG_ID, stored)
    assert_strictly_valid(document)
    advice = payload_of(document)
    assert advice.get(XSI_TYPE) == "b:LastRespAdviceResp"
    last = advice.find(f"{{{BASE}}}lastResponse")
    assert last is not None and last.get(XSI_TYPE) == "r:CreditVendResp"
    _assert_embedded_unchanged(last, stored)
    parsed = parse_response(document)
    assert isinstance(parsed, b.LastRespAdviceResp)
    assert parsed.header.req_msg_id == ADVICE_MSG_ID  # the advice's own msgID
    assert parsed.advice_req_msg_id == MSG_ID  # the original request
    assert parsed.last_response == VEND  # original reqMsgID, respDateTime, receipt, tokens
    assert parsed.last_response.header.req_msg_id == MSG_ID


def test_embedded_text_is_byte_identical_for_our_own_stored_responses() -> None:
    stored = render_response(VEND)
    document = render_last_response_advice(ADVICE_HEADER, MSG_ID, stored)
    inner = stored.split(b"<r:creditVendResp>", 1)[1].split(b"</r:creditVendResp>", 1)[0]
    assert (
        b'<b:lastResponse xsi:type="r:CreditVendResp">' + inner + b"</b:lastResponse>" in document
    )


def test_last_response_of_an_engineering_response_keeps_its_xsi_type() -> None:
    stored = render_response(PWR_LMT)
    document = render_last_response_advice(ADVICE_HEADER, MSG_ID, stored)
    assert_strictly_valid(document)
    last = payload_of(document).find(f"{{{BASE}}}lastResponse")
    assert last is not None and last.get(XSI_TYPE) == "m:PwrLmtResp"
    parsed = parse_response(document)
    assert isinstance(parsed, b.LastRespAdviceResp) and parsed.last_response == PWR_LMT


def test_last_response_of_a_fault() -> None:
    stored = render_fault("VendorCreditEx", "no credit", header=resp_header())
    document = render_last_response_advice(ADVICE_HEADER, MSG_ID, stored)
    assert_strictly_valid(document)
    last = payload_of(document).find(f"{{{BASE}}}lastResponse")
    assert last is not None and last.get(XSI_TYPE) == "b:XMLVendFaultResp"
    _assert_embedded_unchanged(last, stored)
    parsed = parse_response(document)
    assert isinstance(parsed, b.LastRespAdviceResp)
    assert parsed.last_response == b.XMLVendFaultResp(
        header=resp_header(), fault=b.VendorCreditEx(desc="no credit")
    )


def test_last_response_advice_in_soap12_from_a_soap11_original() -> None:
    document = render_last_response_advice(
        ADVICE_HEADER, MSG_ID, render_response(VEND), soap_version="1.2"
    )
    assert etree.fromstring(document).tag == "{http://www.w3.org/2003/05/soap-envelope}Envelope"
    assert_strictly_valid(document)


def test_reprint_embeds_every_original_in_order() -> None:
    originals = [
        r for r in RESPONSES if isinstance(r, r.__class__) and isinstance(r, b.BaseVendResp)
    ][:4]
    stored = [render_response(x) for x in originals]
    stored[1] = _foreign_prefixes(stored[1])
    document = render_reprint_response(resp_header(), stored)
    assert_strictly_valid(document)
    reprints = payload_of(document).findall(f"{{{REVENUE}}}reprint")
    assert len(reprints) == len(originals)
    for element, original, stored_bytes in zip(reprints, originals, stored, strict=True):
        assert element.get(XSI_TYPE) == qname_text(type_qname(type(original)))
        _assert_embedded_unchanged(element, stored_bytes)
    parsed = parse_response(document)
    assert isinstance(parsed, r.ReprintResp)
    assert list(parsed.reprint) == originals


def test_reprint_refuses_what_is_not_a_vend_response() -> None:
    confirm = render_response(RESPONSES[0])
    with pytest.raises(ValueError):
        render_reprint_response(resp_header(), [confirm])
    with pytest.raises(ValueError):
        render_reprint_response(resp_header(), [])
    with pytest.raises(ValueError):
        render_reprint_response(resp_header(), [b"<not-an-envelope/>"])
