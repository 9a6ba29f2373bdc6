"""The generic binding layer on its own: simple values, text content, xsi:type resolution."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from lxml import etree

from xmlvend.codec import binding
from xmlvend.codec import types_base as b
from xmlvend.codec.binding import (
    BindingError,
    attribute,
    format_simple,
    from_xml,
    parse_simple,
    resolve_qname,
    text,
    to_xml,
    xml_type,
)

BASE = "http://www.nrs.eskom.co.za/xmlvend/base/2.1/schema"


@pytest.fixture
def priced() -> Iterator[type]:
    """A throw-away simpleContent type (XMLVend has none, the binding supports it)."""

    @xml_type("urn:test", "Priced")
    class Priced:
        amount: Decimal = text(Decimal)
        currency: str = attribute("currency")

    yield Priced
    binding._TYPES.pop(("urn:test", "Priced"))
    binding._QNAME.pop(Priced)
    binding._BY_PYNAME.pop("Priced")
    binding._SPECS.pop(Priced, None)


def test_text_content_round_trip(priced: type) -> None:
    value = priced(amount=Decimal("12.50"), currency="ZAR")
    el = to_xml(value, None, "{urn:test}price")
    assert etree.tostring(el) == b'<ns0:price xmlns:ns0="urn:test" currency="ZAR">12.50</ns0:price>'
    assert from_xml(priced, el) == value


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("10.00", Decimal("10.00")),
        (" 7 ", Decimal("7")),
        ("-0.5", Decimal("-0.5")),
        (".5", Decimal("0.5")),
    ],
)
def test_decimals_parse_exactly(raw: str, expected: Decimal) -> None:
    parsed = parse_simple(Decimal, raw)
    assert parsed == expected and str(parsed) == str(expected)


@pytest.mark.parametrize("raw", ["1e3", "NaN", "Infinity", "", "1,5", "sNaN"])
def test_non_xsd_decimals_are_refused(raw: str) -> None:
    with pytest.raises(BindingError):
        parse_simple(Decimal, raw)


def test_decimals_are_never_written_in_exponent_notation() -> None:
    assert format_simple(Decimal("1E+2")) == "100"
    assert format_simple(Decimal("1E-7")) == "0.0000001"
    assert format_simple(Decimal("10.00")) == "10.00"
    with pytest.raises(BindingError):
        format_simple(Decimal("NaN"))


def test_booleans() -> None:
    assert parse_simple(bool, "true") is True and parse_simple(bool, "1") is True
    assert parse_simple(bool, "false") is False and parse_simple(bool, "0") is False
    with pytest.raises(BindingError):
        parse_simple(bool, "yes")
    assert format_simple(True) == "true"


def test_xsi_type_qnames_resolve_against_in_scope_namespaces() -> None:
    root = etree.fromstring(
        f'<a xmlns="{BASE}" xmlns:q1="urn:q"><b/><q1:c xmlns:x="{BASE}"/></a>'.encode()
    )
    child, other = root[0], root[1]
    assert resolve_qname(child, "EANDeviceID") == (BASE, "EANDeviceID")  # default namespace
    assert resolve_qname(other, "x:EANDeviceID") == (BASE, "EANDeviceID")
    assert resolve_qname(other, "q1:Thing") == ("urn:q", "Thing")
    with pytest.raises(BindingError):
        resolve_qname(child, "nope:Thing")


def test_xsi_type_must_name_a_subtype_of_the_declared_type() -> None:
    xsi = "http://www.w3.org/2001/XMLSchema-instance"
    el = etree.fromstring(f'<x xmlns:b="{BASE}" xmlns:i="{xsi}" i:type="b:Cash"/>'.encode())
    with pytest.raises(BindingError, match="not b:DeviceID"):
        from_xml(b.DeviceID, el)
    abstract = etree.fromstring(
        f'<x xmlns:b="{BASE}" xmlns:i="{xsi}" i:type="b:DeviceID"/>'.encode()
    )
    with pytest.raises(BindingError, match="abstract"):
        from_xml(b.DeviceID, abstract)
    with pytest.raises(BindingError, match="required"):
        from_xml(b.DeviceID, etree.fromstring(b'<x ean="1"/>'))


def test_strict_binding_refuses_unknown_children() -> None:
    el = etree.fromstring(f'<x xmlns:b="{BASE}"><b:opName>a</b:opName><b:other/></x>'.encode())
    with pytest.raises(BindingError, match="unexpected element b:other"):
        from_xml(b.AuthCred, el)
    lenient = from_xml(b.AuthCred, el, lenient=True)
    assert lenient == b.AuthCred(op_name="a")


def test_lenient_binding_reads_unqualified_children_and_leaves_gaps() -> None:
    el = etree.fromstring(b'<x dateTime="20250101120000"/>')
    assert from_xml(b.MsgID, el, lenient=True) == b.MsgID(
        date_time="20250101120000", unique_number=None
    )  # type: ignore[arg-type]
    unqualified = etree.fromstring(b"<x><opName>a</opName><password>secret1</password></x>")
    assert from_xml(b.AuthCred, unqualified, lenient=True) == b.AuthCred(
        op_name="a", password="secret1"
    )
