"""The annotated samples (the repository copy, tests/data/xmlvend-samples.xml) against
strict_schema().

``xmlvend-samples.xml`` holds several SOAP documents separated by ``=== DOC n ===``
comment banners. The standard-conformant ones must validate; the ones the file itself
marks as non-standard (vendor additions, missing required parts) must be rejected, each for
the reason the banner gives.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
from lxml import etree

from xmlvend.codec import schema
from xmlvend.codec.namespaces import BASE, SOAP11, SOAP12

# The repository copy of the reference samples: a clean clone needs nothing outside it.
SAMPLES = Path(__file__).resolve().parents[1] / "data" / "xmlvend-samples.xml"
BANNER = re.compile(r"<!--(?:(?!-->).)*?=== DOC (\d+) ===.*?-->", re.DOTALL)


def split_samples(text: str) -> dict[int, str]:
    """DOC number -> the document between its banner and the next one."""
    banners = list(BANNER.finditer(text))
    docs = {}
    for index, match in enumerate(banners):
        end = banners[index + 1].start() if index + 1 < len(banners) else len(text)
        docs[int(match.group(1))] = text[match.end() : end].strip()
    return docs


@pytest.fixture(scope="module")
def samples() -> dict[int, str]:
    return split_samples(SAMPLES.read_text(encoding="utf-8"))


def payload(document: str) -> etree._Element:
    """The XMLVend element of an envelope: the Body child, or the fault detail's child."""
    envelope = etree.fromstring(document.encode())
    body = envelope.find(f"{{{SOAP11}}}Body")
    if body is None:
        body = envelope.find(f"{{{SOAP12}}}Body")
    assert body is not None
    child = body[0]
    if etree.QName(child).localname == "Fault":
        child = child.find("detail")[0]
    # A copy is a standalone document that keeps the in-scope namespace declarations
    # (xsi:type values refer to prefixes declared on ancestors).
    return copy.deepcopy(child)


def errors_of(element: etree._Element) -> list[str]:
    validator = schema.strict_schema()
    if validator.validate(element):
        return []
    return [entry.message for entry in validator.error_log]


def test_the_file_splits_into_the_expected_documents(samples: dict[int, str]) -> None:
    assert sorted(samples) == [1, 2, 4, 7, 8, 9, 10, 12, 13, 14]


@pytest.mark.parametrize(
    ("number", "root"),
    [
        (1, "confirmCustomerReq"),  # real Centlec request: default xmlns=base, revenue root
        (8, "adviceReq"),  # reversal advice
        (9, "adviceResp"),  # reversal advice response
        (10, "adviceReq"),  # confirmation advice with payType
        (14, "xmlvendFaultResp"),  # VendorCreditEx fault detail
    ],
)
def test_standard_sample_validates(samples: dict[int, str], number: int, root: str) -> None:
    element = payload(samples[number])
    assert etree.QName(element).localname == root
    assert errors_of(element) == []


def test_doc12_eskom_fault_validates_apart_from_the_mocks_dummy_msgid(
    samples: dict[int, str],
) -> None:
    """DOC 12 reproduces a real Eskom fault, but its banner says the reqMsgID values are
    the mock's dummies (17-digit dateTime, 7-digit uniqueNumber), invalid per schema.

    As published it fails on exactly those two facets; with a real msgID it validates, and
    it also validates unchanged once only the two msgID simple types are relaxed (what
    the codec's lenient input variant does).
    """
    element = payload(samples[12])
    errors = errors_of(element)
    assert len(errors) == 2
    assert "'22222222222222222'" in errors[0]
    assert "'2222222'" in errors[1]

    req_msg_id = element.find(f"{{{BASE}}}reqMsgID")
    req_msg_id.set("dateTime", "20250708165555")
    req_msg_id.set("uniqueNumber", "222222")
    assert errors_of(element) == []

    files = schema.schema_files()
    files["base.xsd"] = (
        files["base.xsd"]
        .replace(b'<xs:pattern value="(\\d){14}"/>', b'<xs:pattern value="(\\d){1,20}"/>', 1)
        .replace(b'<xs:totalDigits value="6"/>', b'<xs:totalDigits value="9"/>', 1)
    )
    relaxed = schema.compile_schema(files)
    assert relaxed.validate(payload(samples[12])), relaxed.error_log


NON_STANDARD = {
    2: (
        "Hexing confirmCustomerResp: meterDetail carries undeclared maxVendAmt/minVendAmt/"
        "maxVendEng/minVendEng children",
        ["maxVendAmt': This element is not expected"],
    ),
    4: (
        "Hexing/GECOL creditVendResp: utility lacks the required taxRef, meterDetail carries "
        "undeclared limit elements, the last ServiceChrgTx has an empty tariff without "
        "<name>, and custVendDetail/@name is a number (PersonName excludes digits)",
        [
            "The attribute 'taxRef' is required but missing",
            "maxVendAmt': This element is not expected",
            "tariff': Missing child element(s)",
            "attribute 'name': [facet 'pattern']",
        ],
    ),
    7: (
        "Conlog lastResponse advice: clientID ean 'VUPSB' is no EAN, utility comes before "
        "clientStatus, taxRef '0' is not 10 digits, and Conlog's tariffBreakdown/"
        "MonthlyTotals are not XMLVend",
        [
            "attribute 'ean': [facet 'pattern'] The value 'VUPSB'",
            "utility': This element is not expected",
        ],
    ),
    13: (
        "Hexing fault: xmlvendFaultResp lacks the whole BaseResp header (clientID ... "
        "respDateTime) and b:fault carries the vendor faultCode element",
        ["fault': This element is not expected"],
    ),
}


@pytest.mark.parametrize("number", sorted(NON_STANDARD))
def test_non_standard_sample_is_rejected(samples: dict[int, str], number: int) -> None:
    reason, expected = NON_STANDARD[number]
    errors = errors_of(payload(samples[number]))
    assert errors, f"DOC {number} should be rejected: {reason}"
    for fragment in expected:
        assert any(fragment in message for message in errors), (reason, fragment, errors)


def test_doc7_conlog_details_are_rejected_once_the_first_errors_are_fixed(
    samples: dict[int, str],
) -> None:
    """libxml2 stops at the first content error of an element; repair the header of DOC 7
    so the validator reaches the Conlog extension inside the receipt."""
    document = samples[7].replace('ean="VUPSB"', 'ean="6004708000090"')
    document = document.replace('taxRef="0"', 'taxRef="4012345678"')
    element = payload(document)
    last_response = element.find(f"{{{BASE}}}lastResponse")
    utility = last_response.find(f"{{{BASE}}}utility")
    last_response.remove(utility)
    last_response.find(f"{{{BASE}}}clientStatus").addnext(utility)
    errors = errors_of(element)
    assert any("tariffBreakdown': This element is not expected" in m for m in errors), errors


def test_doc13_hexing_fault_code_is_rejected_even_with_a_header(
    samples: dict[int, str],
) -> None:
    element = payload(samples[13])
    header = etree.fromstring(
        f'<h xmlns:b="{BASE}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        '<b:clientID xsi:type="b:EANDeviceID" ean="0000000000026"/>'
        '<b:serverID xsi:type="b:EANDeviceID" ean="3210987654321"/>'
        '<b:terminalID xsi:type="b:GenericDeviceID" id="000098"/>'
        '<b:reqMsgID dateTime="20191126090312" uniqueNumber="972238"/>'
        "<b:respDateTime>2020-03-27T12:54:38+02:00</b:respDateTime></h>"
    )
    for index, child in enumerate(header):
        element.insert(index, copy.deepcopy(child))
    errors = errors_of(element)
    assert any("faultCode': This element is not expected" in m for m in errors), errors
