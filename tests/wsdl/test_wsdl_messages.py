"""Hand-written messages against strict_schema(): the valid set passes, broken variants fail.

Every valid document is also checked with xmlschema, so the two validators the project
uses agree on what the schema means.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import pytest
import xmlschema
from lxml import etree
from wsdl_test_documents import PURCHASE_100, VALID, VEND_REQ_TARGET, fault_resp

from xmlvend.codec import schema
from xmlvend.codec.namespaces import BASE, REVENUE

WSDL_DIR = Path(str(importlib.resources.files("wsdl")))
RESOURCE = '<b:resource xsi:type="b:Electricity"/>'
ID_METHOD = VEND_REQ_TARGET.removeprefix(RESOURCE)


@pytest.fixture(scope="module")
def xs_schema() -> xmlschema.XMLSchema10:
    sources = [str(WSDL_DIR / name) for name in schema.SCHEMA_FILES]
    return xmlschema.XMLSchema10(sources, allow="sandbox", base_url=str(WSDL_DIR))


def errors_of(document: str) -> list[str]:
    """Validation messages from strict_schema(), empty if the document is valid."""
    validator = schema.strict_schema()
    if validator.validate(etree.fromstring(document)):
        return []
    return [entry.message for entry in validator.error_log]


def test_strict_schema_is_compiled_once() -> None:
    assert schema.strict_schema() is schema.strict_schema()


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_document(name: str, xs_schema: xmlschema.XMLSchema10) -> None:
    assert errors_of(VALID[name]) == []
    xs_schema.validate(VALID[name])


def test_every_global_request_and_response_is_covered() -> None:
    """The valid set exercises every element the server answers with or accepts."""
    roots = {etree.QName(etree.fromstring(doc)).localname for doc in VALID.values()}
    for request, _response in schema.wsdl_operations().values():
        request_name = etree.QName(request).localname
        if request_name in {"totalBatchReq", "reprintDepReq"}:
            continue  # structurally identical to endBatchReq / depositReq, covered there
        assert request_name in roots, request_name
    assert {"xmlvendFaultResp", "adviceReq", "adviceResp"} <= roots


# --- Invalid variants: (valid document, [(old text, new text), ...], expected message) -----
# The expected message may list alternatives separated by "|".

INVALID: dict[str, tuple[str, list[tuple[str, str]], str]] = {
    "child in the wrong namespace: creditVendReq/idMethod is base, not revenue": (
        "creditVendReq",
        [("<b:idMethod", "<r:idMethod"), ("</b:idMethod>", "</r:idMethod>")],
        f"{{{REVENUE}}}idMethod': This element is not expected",
    ),
    "child in the wrong namespace: confirmCustomerReq/idMethod is revenue, not base": (
        "confirmCustomerReq/meter",
        [("<r:idMethod", "<b:idMethod"), ("</r:idMethod>", "</b:idMethod>")],
        f"{{{BASE}}}idMethod': This element is not expected",
    ),
    "child in the wrong namespace: purchaseValue/amt is revenue, not base": (
        "creditVendReq",
        [('<r:amt value="100.00"', '<b:amt value="100.00"')],
        f"{{{BASE}}}amt': This element is not expected",
    ),
    "missing required attribute: msgID/@uniqueNumber": (
        "creditVendReq",
        [(' uniqueNumber="100001"', "")],
        "The attribute 'uniqueNumber' is required but missing",
    ),
    "missing required attribute: meterDetail/@sgc": (
        "confirmCustomerResp",
        [(' sgc="600816"', "")],
        "The attribute 'sgc' is required but missing",
    ),
    "missing required attribute: utility/@taxRef": (
        "creditVendResp",
        [(' taxRef="4012345678"', "")],
        "The attribute 'taxRef' is required but missing",
    ),
    "bad facet: 13-digit msgID/@dateTime": (
        "creditVendReq",
        [('dateTime="20250101120000"', 'dateTime="2025010112000"')],
        "[facet 'pattern'] The value '2025010112000'",
    ),
    "bad facet: 7-digit msgID/@uniqueNumber": (
        "creditVendReq",
        [('uniqueNumber="100001"', 'uniqueNumber="1000001"')],
        "[facet 'totalDigits']",
    ),
    "bad facet: 19-digit stsCipher": (
        "creditVendResp",
        [("24001114602373050768", "2400111460237305076")],
        "[facet 'pattern'] The value '2400111460237305076'",
    ),
    "bad facet: 16-zero trial token (the 2.0 doc's default) is not a 20-digit token": (
        "trialCreditVendResp",
        [("<b:stsCipher>" + "0" * 20, "<b:stsCipher>" + "0" * 16)],
        "[facet 'pattern']",
    ),
    "bad facet: 12-digit EAN": (
        "creditVendReq",
        [('ean="6004708000090"', 'ean="600470800009"')],
        "[facet 'pattern']",
    ),
    "wrong element order: terminalID before clientID": (
        "creditVendReq",
        [
            (
                '<b:clientID xsi:type="b:EANDeviceID" ean="6004708000090"/>'
                '<b:terminalID xsi:type="b:GenericDeviceID" id="1"/>',
                '<b:terminalID xsi:type="b:GenericDeviceID" id="1"/>'
                '<b:clientID xsi:type="b:EANDeviceID" ean="6004708000090"/>',
            )
        ],
        "This element is not expected",
    ),
    "wrong element order: purchaseValue before idMethod": (
        "trialCreditVendReq",
        [(VEND_REQ_TARGET + PURCHASE_100, RESOURCE + PURCHASE_100 + ID_METHOD)],
        "purchaseValue': This element is not expected",
    ),
    "abstract type without xsi:type: resource": (
        "creditVendReq",
        [('<b:resource xsi:type="b:Electricity"/>', "<b:resource/>")],
        "The type definition is abstract",
    ),
    "vendor addition: Hexing faultCode in b:Fault": (
        "xmlvendFaultResp/b:SystemEx",
        [("</b:desc></b:fault>", "</b:desc><b:faultCode>VD.17020012</b:faultCode></b:fault>")],
        "faultCode': This element is not expected",
    ),
    "extension fault class named in the base namespace": (
        "xmlvendFaultResp/ext:DuplicateMsgIDEx",
        [('xsi:type="ext:DuplicateMsgIDEx"', 'xsi:type="b:DuplicateMsgIDEx"')],
        "DuplicateMsgIDEx",
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_variant_is_rejected(case: str) -> None:
    name, replacements, expected = INVALID[case]
    document = VALID[name]
    for old, new in replacements:
        assert old in document, "test case does not apply to its document"
        document = document.replace(old, new, 1)
    errors = errors_of(document)
    assert errors, case
    alternatives = expected.split("|")
    assert any(alt in message for message in errors for alt in alternatives), errors


def test_fault_response_needs_the_full_header() -> None:
    document = fault_resp("b:UnknownMeterEx")
    start = document.index("<b:clientID")
    end = document.index("<b:fault ")
    headerless = document[:start] + document[end:]
    assert any("fault': This element is not expected" in m for m in errors_of(headerless))
