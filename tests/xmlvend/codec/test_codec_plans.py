"""The compiled hot paths (xmlvend.codec.plans, issue 16) against what they replaced.

Fingerprints are stored with every request: the pinned values below were computed by the
reflective canonical form this codec used before, and must never change. The renderers'
bytes are pinned the same way, and the fast escaping path is checked against the general
one for any text.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from codec_samples import (
    all_requests,
    all_responses,
    batch_requests,
    batch_responses,
    provider_requests,
    req_header,
    resp_header,
    travel_requests,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from xmlvend.codec import parse_request, render_request
from xmlvend.codec import types_base as b
from xmlvend.codec import types_revenue as r
from xmlvend.codec.binding import BindingError
from xmlvend.codec.namespaces import BASE
from xmlvend.codec.plans import (
    _ATTR_ESCAPES,
    _ATTR_SPECIAL,
    _NOT_XML_CHAR,
    _TEXT_ESCAPES,
    _TEXT_SPECIAL,
    canonical_text,
    canonical_tuple,
    render_element,
)

MSG_ID = b.MsgID(date_time="20250101120000", unique_number="100001")
NO_CREDENTIALS = frozenset({"auth_cred"})


def _header(auth: b.AuthCred | None = None) -> b.RequestHeader:
    return b.RequestHeader(
        client_id=b.EANDeviceID(ean="6004708000090"),
        terminal_id=b.GenericDeviceID(id="T 1"),
        msg_id=MSG_ID,
        auth_cred=auth,
    )


def _zar(value: str) -> b.Currency:
    return b.Currency(value=Decimal(value), symbol="ZAR")


PINNED_FINGERPRINTS = [
    (
        r.CreditVendReq(
            header=_header(b.AuthCred(op_name="OPNAME", password="secret1")),
            resource=b.Electricity(),
            id_method=b.VendIDMethod(meter_identifier=b.MeterNumber(msno="01234567890")),
            purchase_value=r.PurchaseValueCurrency(amt=_zar("100.00")),
            pay_type=b.Cash(tender_amt=_zar("100.00")),
        ),
        "63e2608ce56f389c89960e0e2eb0fecaa30860e93e36bd081dc68799c117a355",
    ),
    (
        r.CreditVendReq(
            header=_header(),
            resource=b.Water(),
            id_method=b.VendIDMethod(
                meter_identifier=b.MeterDetail(
                    meter_type=b.MeterType(at="07", tt="02"),
                    msno="0123",
                    sgc="123456",
                    krn="1",
                    ti="01",
                )
            ),
            purchase_value=r.PurchaseValueUnits(
                units=b.Units(value=Decimal("12.30"), si_unit="kWh")
            ),
        ),
        "bae0b55ccfe503199fc86d94f5c7580144752e3e94134193e40ac505f1450a0c",
    ),
    (
        b.ConfirmationAdviceReq(
            header=_header(), advice_req_msg_id=MSG_ID, pay_type=b.Cash(tender_amt=_zar("0.000"))
        ),
        "cf55a45cc3d7ec0277190c43a828adac6879308c1d2c1ac9f1d0d40c969212c0",
    ),
]


@pytest.mark.parametrize(("request_", "expected"), PINNED_FINGERPRINTS)
def test_fingerprints_stored_by_earlier_versions_still_match(
    request_: b.BaseReq, expected: str
) -> None:
    assert request_.fingerprint.hex() == expected
    assert parse_request(render_request(request_)).fingerprint.hex() == expected


def _samples() -> list[Any]:
    requests = all_requests() + batch_requests(req_header())
    requests += provider_requests(req_header()) + travel_requests(req_header())
    return requests + all_responses() + batch_responses(resp_header())


@pytest.mark.parametrize("message", _samples(), ids=lambda m: type(m).__name__)
def test_canonical_text_is_the_repr_of_the_canonical_tuple(message: Any) -> None:
    assert canonical_text(message) == repr(canonical_tuple(message))
    assert canonical_text(message, skip=NO_CREDENTIALS) == repr(
        canonical_tuple(message, skip=NO_CREDENTIALS)
    )


def _with_leaves(value: Any, text: str, number: Decimal) -> Any:
    """``value`` with every string field set to ``text`` and every decimal to ``number``."""
    if isinstance(value, str):
        return text
    if isinstance(value, Decimal):
        return number
    if isinstance(value, tuple):
        return tuple(_with_leaves(v, text, number) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        changed = {
            f.name: _with_leaves(getattr(value, f.name), text, number)
            for f in fields
            if f.init and f.name != "soap_version"
        }
        return dataclasses.replace(value, **changed)
    return value


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(_samples()),
    st.text(),
    st.decimals(allow_nan=True, allow_infinity=True),
)
def test_canonical_text_agrees_for_any_leaves(message: Any, text: str, number: Decimal) -> None:
    changed = _with_leaves(message, text, number)
    for skip in (frozenset(), NO_CREDENTIALS):
        expected = _outcome(lambda: repr(canonical_tuple(changed, skip=skip)))  # noqa: B023
        assert _outcome(lambda: canonical_text(changed, skip=skip)) == expected  # noqa: B023


def _outcome(compute: Callable[[], str]) -> tuple[str, str]:
    """The value, or the error (sNaN cannot be normalised: both forms refuse it alike)."""
    try:
        return ("value", compute())
    except Exception as exc:
        return (type(exc).__name__, str(exc))


TRICKY = 'A&B "C" <D>\te\nf\rg ü'


@pytest.mark.parametrize(
    ("value", "declared", "expected"),
    [
        (
            b.CustVendDetail(name=TRICKY, address="x'y", days_last_purchase=3),
            None,
            '<b:x name="A&amp;B &quot;C&quot; &lt;D&gt;&#9;e&#10;f&#13;g ü" address="x\'y" '
            'daysLastPurchase="3"/>',
        ),
        (
            b.Tariff(name=TRICKY, desc=""),
            None,
            '<b:x><b:name>A&amp;B "C" &lt;D&gt;\te\nf&#13;g ü</b:name><b:desc/></b:x>',
        ),
        (b.Units(value=Decimal("1E+2"), si_unit="kWh"), None, '<b:x value="100" siUnit="kWh"/>'),
        (
            b.STS1Token(sts_cipher="1"),
            b.Token,
            '<b:x xsi:type="b:STS1Token"><b:stsCipher>1</b:stsCipher></b:x>',
        ),
    ],
)
def test_rendered_bytes_are_those_of_the_reflective_renderer(
    value: object, declared: type | None, expected: str
) -> None:
    assert render_element(value, "b:x", declared) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (b.Tariff(name="a\x00b"), "'a\\x00b' contains characters XML cannot carry"),
        (b.Units(value=Decimal("NaN"), si_unit="kWh"), "cannot be written as an xs:decimal"),
        (b.Units(value=None, si_unit="kWh"), "attribute 'value' is required"),  # type: ignore[arg-type]
        (b.Tariff(name=None), "element b:name is required"),  # type: ignore[arg-type]
        (b.CustVendDetail(name="\ufffe", address="a"), "XML cannot carry"),
    ],
)
def test_values_xml_cannot_carry_are_refused(value: object, message: str) -> None:
    with pytest.raises(BindingError, match=re.escape(message)):
        render_element(value, "b:x", None)


def test_exactly_the_characters_needing_nothing_take_the_fast_path() -> None:
    """The compiled renderers write a string as it is when it is alphanumeric or the
    *_SPECIAL search finds nothing in it. Both are per character, so checking every code
    point shows that the general path (check, then escape) would change nothing then, and
    that every character it would leave alone takes the fast path."""
    for code_point in range(0x110000):
        char = chr(code_point)
        untouched = _NOT_XML_CHAR.search(char) is None
        as_attribute = untouched and char.translate(_ATTR_ESCAPES) == char
        as_text = untouched and char.translate(_TEXT_ESCAPES) == char
        assert as_attribute == (char.isalnum() or _ATTR_SPECIAL(char) is None), hex(code_point)
        assert as_text == (char.isalnum() or _TEXT_SPECIAL(char) is None), hex(code_point)


def test_xsi_type_under_another_prefix_of_the_same_namespace_binds_alike() -> None:
    """The remembered xsi:type classes are keyed by the element's own prefix and tag: a
    client binding the base namespace to two prefixes gets the same objects."""
    request = PINNED_FINGERPRINTS[0][0]
    document = render_request(request)
    other = document.replace(b"<b:clientID", b'<q:clientID xmlns:q="' + BASE.encode() + b'"')
    other = other.replace(b'xsi:type="b:EANDeviceID"', b'xsi:type="q:EANDeviceID"', 1)
    assert other != document
    assert parse_request(other) == parse_request(document) == request


def test_compile_plans_leaves_nothing_for_a_request_to_compile() -> None:
    """``evd serve`` compiles every plan at start-up (``compile_plans``): afterwards parsing,
    fingerprinting and rendering every sample request and answer compiles nothing more."""
    from xmlvend.codec import compile_plans, render_response
    from xmlvend.codec import plans as compiled
    from xmlvend.codec.binding import _BINDERS

    def sizes() -> tuple[int, int, int]:
        return len(_BINDERS), len(compiled._RENDERERS), len(compiled._CANONICAL_TEXTS)

    assert compile_plans() > 200
    before = sizes()
    for request in all_requests():
        parsed = parse_request(render_request(request))
        assert parsed.fingerprint == request.fingerprint
    for response in all_responses():
        render_response(response)
    assert sizes() == before
