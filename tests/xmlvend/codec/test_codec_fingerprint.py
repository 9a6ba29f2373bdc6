"""Request fingerprints: equal for equivalent re-sends, different for any changed field."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from xmlvend.codec import parse_request, render_request
from xmlvend.codec import types_base as b
from xmlvend.codec import types_revenue as r

digits = st.text("0123456789", min_size=1, max_size=1)


def _fixed_digits(n: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=n, max_size=n)


msno = st.from_regex(r"[0-9A-Z]{3,13}", fullmatch=True)
amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2)


@st.composite
def credit_vends(draw: st.DrawFn) -> r.CreditVendReq:
    header = b.RequestHeader(
        client_id=draw(
            st.one_of(
                _fixed_digits(13).map(lambda e: b.EANDeviceID(ean=e)),
                st.from_regex(r"[A-Z0-9]{1,20}", fullmatch=True).map(
                    lambda i: b.GenericDeviceID(id=i)
                ),
            )
        ),
        terminal_id=b.GenericDeviceID(id=draw(st.from_regex(r"[a-z0-9]{1,12}", fullmatch=True))),
        msg_id=b.MsgID(
            date_time=draw(_fixed_digits(14)),
            unique_number=str(draw(st.integers(min_value=1, max_value=999_999))),
        ),
        auth_cred=draw(
            st.none()
            | st.builds(
                lambda o: b.AuthCred(op_name=o, password="secret1"),
                st.from_regex(r"[a-z]{1,10}", fullmatch=True),
            )
        ),
    )
    value = draw(amounts)
    purchase: r.PurchaseValue = draw(
        st.sampled_from(
            [
                r.PurchaseValueCurrency(amt=b.Currency(value=value, symbol="ZAR")),
                r.PurchaseValueUnits(units=b.Units(value=value, si_unit="kWh")),
            ]
        )
    )
    return r.CreditVendReq(
        header=header,
        resource=draw(st.sampled_from([b.Electricity(), b.Water(), b.Gas()])),
        id_method=b.VendIDMethod(meter_identifier=b.MeterNumber(msno=draw(msno))),
        purchase_value=purchase,
        pay_type=draw(
            st.none() | amounts.map(lambda a: b.Cash(tender_amt=b.Currency(value=a, symbol="ZAR")))
        ),
    )


# ------------------------------------------------------------------ equivalent re-sends


def _other_prefixes(document: bytes) -> bytes:
    text = document.decode()
    for old, new in (("b", "q1"), ("r", "ns2"), ("xsi", "d3p1"), ("soap", "SOAP-ENV")):
        text = re.sub(rf"(?<=[<\s/\"]){old}:", f"{new}:", text)
        text = text.replace(f"xmlns:{old}=", f"xmlns:{new}=")
    return text.encode()


def _indented_and_reordered(document: bytes) -> bytes:
    root = etree.fromstring(document)
    for el in root.iter():
        items = list(el.attrib.items())
        el.attrib.clear()
        for name, value in reversed(items):
            el.set(name, value)
    etree.indent(root, space="    ")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _decimals_rewritten(document: bytes) -> bytes:
    # 12.30 -> 0012.3000 : the same xs:decimal value
    return re.sub(rb'value="(\d+)\.(\d+)"', rb'value="00\1.\g<2>00"', document)


def _without_optional_noise(document: bytes) -> bytes:
    # Electricity may be left out (lenient default) and xsi:types that can be inferred too.
    document = document.replace(b'<b:resource xsi:type="b:Electricity"/>', b"")
    return re.sub(rb' xsi:type="b:(EANDeviceID|GenericDeviceID|MeterNumber|Cash)"', b"", document)


def _other_credentials(document: bytes) -> bytes:
    return re.sub(
        rb"<b:password>[^<]*</b:password>", b"<b:password>another1</b:password>", document
    )


@settings(max_examples=150, deadline=None)
@given(credit_vends(), st.permutations(range(5)))
def test_equivalent_resends_have_the_same_fingerprint(
    request_: r.CreditVendReq, order: list[int]
) -> None:
    original = render_request(request_)
    fingerprint = parse_request(original).fingerprint
    assert fingerprint == request_.fingerprint
    transforms = [
        _other_prefixes,
        _indented_and_reordered,
        _decimals_rewritten,
        _without_optional_noise,
        _other_credentials,
    ]
    variant = original
    for index in order:
        variant = transforms[index](variant)
        resend = parse_request(variant)
        assert resend.fingerprint == fingerprint, variant.decode()
        assert resend.header.msg_id == request_.header.msg_id
    assert variant != original  # the prefix change alone guarantees different bytes


# ------------------------------------------------------------------ any change is seen


def _bump(text: str, alphabet: str = "0123456789") -> str:
    last = text[-1]
    return text[:-1] + alphabet[(alphabet.index(last) + 1) % len(alphabet)]


def _replace_header(req: r.CreditVendReq, **changes: object) -> r.CreditVendReq:
    return dataclasses.replace(req, header=dataclasses.replace(req.header, **changes))


MUTATIONS: dict[str, Callable[[r.CreditVendReq], r.CreditVendReq]] = {
    "client type": lambda q: _replace_header(
        q,
        client_id=b.GenericDeviceID(id=q.header.client_id.ean)
        if isinstance(q.header.client_id, b.EANDeviceID)
        else b.EANDeviceID(ean="1234567890123"),
    ),
    "terminal": lambda q: _replace_header(
        q, terminal_id=b.GenericDeviceID(id=q.header.terminal_id.id + "x")
    ),  # type: ignore[attr-defined]
    "msg dateTime": lambda q: _replace_header(
        q, msg_id=dataclasses.replace(q.header.msg_id, date_time=_bump(q.header.msg_id.date_time))
    ),
    "msg uniqueNumber": lambda q: _replace_header(
        q,
        msg_id=dataclasses.replace(
            q.header.msg_id, unique_number="0" + q.header.msg_id.unique_number
        ),
    ),
    "msno": lambda q: dataclasses.replace(
        q,
        id_method=b.VendIDMethod(
            meter_identifier=b.MeterNumber(
                msno=_bump(
                    q.id_method.meter_identifier.msno, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                )
            )
        ),  # type: ignore[attr-defined]
    ),
    "resource": lambda q: dataclasses.replace(q, resource=b.ConnectionTime()),
    "purchase type": lambda q: dataclasses.replace(
        q,
        purchase_value=r.PurchaseValueUnits(
            units=b.Units(value=q.purchase_value.amt.value, si_unit="kWh")
        )  # type: ignore[attr-defined]
        if isinstance(q.purchase_value, r.PurchaseValueCurrency)
        else r.PurchaseValueCurrency(
            amt=b.Currency(value=q.purchase_value.units.value, symbol="ZAR")
        ),  # type: ignore[attr-defined]
    ),
    "amount": lambda q: dataclasses.replace(
        q,
        purchase_value=r.PurchaseValueCurrency(
            amt=b.Currency(value=q.purchase_value.amt.value + Decimal("0.01"), symbol="ZAR")
        )  # type: ignore[attr-defined]
        if isinstance(q.purchase_value, r.PurchaseValueCurrency)
        else r.PurchaseValueUnits(
            units=b.Units(value=q.purchase_value.units.value + Decimal("0.01"), si_unit="kWh")
        ),  # type: ignore[attr-defined]
    ),
    "unit or symbol": lambda q: dataclasses.replace(
        q,
        purchase_value=r.PurchaseValueCurrency(
            amt=b.Currency(value=q.purchase_value.amt.value, symbol="USD")
        )  # type: ignore[attr-defined]
        if isinstance(q.purchase_value, r.PurchaseValueCurrency)
        else r.PurchaseValueUnits(units=b.Units(value=q.purchase_value.units.value, si_unit="KWH")),  # type: ignore[attr-defined]
    ),
    "pay type": lambda q: dataclasses.replace(
        q,
        pay_type=None
        if q.pay_type is not None
        else b.Cash(tender_amt=b.Currency(value=Decimal("1.00"), symbol="ZAR")),
    ),
}


@settings(max_examples=200, deadline=None)
@given(credit_vends(), st.sampled_from(sorted(MUTATIONS)))
def test_any_changed_field_changes_the_fingerprint(
    request_: r.CreditVendReq, mutation: str
) -> None:
    changed = MUTATIONS[mutation](request_)
    assert changed != request_
    assert changed.fingerprint != request_.fingerprint
    # Also through the wire.
    assert (
        parse_request(render_request(changed)).fingerprint
        != parse_request(render_request(request_)).fingerprint
    )


def test_auth_cred_is_not_part_of_the_fingerprint_but_everything_else_is() -> None:
    req = r.CreditVendReq(
        header=b.RequestHeader(
            client_id=b.EANDeviceID(ean="6004708000090"),
            terminal_id=b.GenericDeviceID(id="1"),
            msg_id=b.MsgID(date_time="20250101120000", unique_number="1"),
            auth_cred=b.AuthCred(op_name="a", password="secret1"),
        ),
        resource=b.Electricity(),
        id_method=b.VendIDMethod(meter_identifier=b.MeterNumber(msno="123")),
        purchase_value=r.PurchaseValueCurrency(amt=b.Currency(value=Decimal("10"), symbol="ZAR")),
    )
    other_operator = _replace_header(req, auth_cred=b.AuthCred(op_name="b", password="secret2"))
    assert other_operator.fingerprint == req.fingerprint
    trial = r.TrialCreditVendReq(**{f.name: getattr(req, f.name) for f in dataclasses.fields(req)})
    assert trial.fingerprint != req.fingerprint  # same content, other operation


@pytest.mark.parametrize(("one", "other"), [("0", "-0.00"), ("10", "10.000"), ("1.5", "01.50")])
def test_decimals_compare_by_value(one: str, other: str) -> None:
    def vend(value: str) -> r.CreditVendReq:
        return r.CreditVendReq(
            header=b.RequestHeader(
                client_id=b.EANDeviceID(ean="6004708000090"),
                terminal_id=b.GenericDeviceID(id="1"),
                msg_id=b.MsgID(date_time="20250101120000", unique_number="1"),
            ),
            resource=b.Electricity(),
            id_method=b.VendIDMethod(meter_identifier=b.MeterNumber(msno="123")),
            purchase_value=r.PurchaseValueCurrency(
                amt=b.Currency(value=Decimal(value), symbol="ZAR")
            ),
        )

    assert vend(one).fingerprint == vend(other).fingerprint
    assert vend(one).fingerprint != vend(one + "1").fingerprint
