"""The public sample requests (tests/data/xmlvend-samples.xml) sent to the server as they
are on the wire -- other prefixes, default namespaces, placeholders for credentials -- and
SOAP 1.2, which some clients speak to Conlog servers."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from server_support import CAFE, CAFE_OPERATOR, NORMAL_METER, World, voucher_vend

from xmlvend.codec import SoapFault, render_request
from xmlvend.codec import types_base as b
from xmlvend.codec import types_revenue as r

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "xmlvend-samples.xml"


@cache
def sample(number: int) -> bytes:
    parts = re.split(r"=== DOC (\d+) ===", SAMPLES.read_text(encoding="utf-8"))
    docs = {}
    for index in range(1, len(parts), 2):
        body = parts[index + 1]
        start = body.index("-->") + 3
        end = body.find("<!--", start)
        docs[int(parts[index])] = body[start : end if end != -1 else None].strip().encode()
    return docs[number]


def with_credentials(document: bytes) -> bytes:
    return document.replace(b"OPNAME", CAFE_OPERATOR[0].encode()).replace(
        b"PASSWORD", CAFE_OPERATOR[1].encode()
    )


def test_hexing_confirm_customer_request(world: World) -> None:
    """DOC 1, a real Centlec/Hexing request: default xmlns = base, revenue-qualified idMethod,
    xsi:type values resolved against the default namespace."""
    document = with_credentials(sample(1))
    unknown_client = world.post(document)
    fault = unknown_client.parsed()
    assert isinstance(fault, SoapFault) and fault.fault_class == "ClientIDAuthorisationEx"
    assert fault.detail.header.req_msg_id == b.MsgID(
        date_time="20191126090312", unique_number="972238"
    )
    ours = document.replace(b'ean="0000000000026"', f'ean="{CAFE}"'.encode()).replace(
        b'msno="14339800360"', f'msno="{NORMAL_METER}"'.encode()
    )
    response = world.post(ours)
    assert response.status == 200, response.body
    confirmed = response.parsed()
    assert isinstance(confirmed, r.ConfirmCustomerResp)
    assert confirmed.header.terminal_id == b.GenericDeviceID(id="000098")


def test_reconstructed_reversal_advice(world: World) -> None:
    """DOC 8: reverses the sale it names once there is one; ReversalEx before."""
    document = with_credentials(sample(8))
    assert world.post(document).parsed().fault_class == "ReversalEx"
    original = b.MsgID(date_time="20250101120000", unique_number="100001")
    sale = voucher_vend(world.header(msg_id=original))
    assert world.call(sale).status == 200
    answer = world.post(document).parsed()
    assert isinstance(answer, b.ReversalAdviceResp) and answer.tx_reversed is True


def test_reconstructed_confirmation_advice(world: World) -> None:
    """DOC 10 names an operator without a password: refused while operators must log in."""
    document = sample(10).replace(b"OPNAME", CAFE_OPERATOR[0].encode())
    assert world.post(document).parsed().fault_class == "RequestAuthorisationEx"
    original = b.MsgID(date_time="20250101120000", unique_number="100001")
    assert world.call(voucher_vend(world.header(msg_id=original))).status == 200
    with_password = document.replace(
        b"</b:opName>", b"</b:opName><b:password>" + CAFE_OPERATOR[1].encode() + b"</b:password>"
    )
    answer = world.post(with_password).parsed()
    assert isinstance(answer, b.ConfirmationAdviceResp) and answer.tx_confirmed is True


def test_soap_12_is_answered_in_soap_12(lite_world: World) -> None:
    request = voucher_vend(lite_world.header(), trial=True)
    body = render_request(request).replace(
        b"http://schemas.xmlsoap.org/soap/envelope/", b"http://www.w3.org/2003/05/soap-envelope"
    )
    response = lite_world.post(body, headers={"Content-Type": "application/soap+xml"})
    assert response.status == 200
    assert response.headers["content-type"].startswith("application/soap+xml")
    assert b"http://www.w3.org/2003/05/soap-envelope" in response.body
    fault = lite_world.post(body.replace(b"AIR-DEMO-10", b"NO-SUCH"))
    assert fault.status == 500
    assert b"soap:Receiver" in fault.body  # SOAP 1.2 names Server "Receiver"
