"""salvage_header and the headers carried by parse errors, for faults on broken input."""

from __future__ import annotations

import pytest
from codec_samples import all_requests, sample_docs

from xmlvend.codec import (
    MalformedRequest,
    SchemaViolation,
    parse_request,
    render_fault,
    render_request,
    response_header,
    salvage_header,
)
from xmlvend.codec import types_base as b

VALID = render_request(all_requests()[6])
EXPECTED = all_requests()[6].header
SERVER = b.EANDeviceID(ean="6004708000007")


def test_salvage_from_a_valid_request() -> None:
    assert salvage_header(VALID) == EXPECTED


@pytest.mark.parametrize(
    "broken",
    [
        VALID[: VALID.index(b"</b:authCred>") + 20],  # truncated mid-body
        VALID.replace(b"</r:purchaseValue>", b""),  # not well-formed
        VALID.replace(b'value="110.00"', b'value="lots"'),  # schema-invalid
        VALID.replace(b"<soap:Body>", b"").replace(b"</soap:Body>", b""),  # no Body
    ],
    ids=["truncated", "unclosed", "schema", "no-body"],
)
def test_salvage_from_broken_requests(broken: bytes) -> None:
    assert salvage_header(broken) == EXPECTED


@pytest.mark.parametrize(
    "hopeless",
    [
        b"",
        b"garbage",
        VALID.replace(b"<b:msgID", b"<b:notMsgID"),
        VALID.replace(b'uniqueNumber="100001"', b""),
        b'<!DOCTYPE x [<!ENTITY a "b">]>' + VALID.split(b"?>", 1)[1],  # refused, not salvaged
    ],
    ids=["empty", "garbage", "no-msgid", "no-unique", "dtd"],
)
def test_salvage_gives_up(hopeless: bytes) -> None:
    assert salvage_header(hopeless) is None


def test_errors_carry_the_salvaged_header() -> None:
    with pytest.raises(MalformedRequest) as malformed:
        parse_request(VALID.replace(b"</r:purchaseValue>", b""))
    assert malformed.value.header == EXPECTED
    with pytest.raises(SchemaViolation) as invalid:
        parse_request(VALID.replace(b'value="110.00"', b'value="lots"'))
    assert invalid.value.header == EXPECTED
    with pytest.raises(MalformedRequest) as no_body:
        parse_request(VALID.replace(b"<soap:Body>", b"").replace(b"</soap:Body>", b""))
    assert no_body.value.header == EXPECTED


def test_salvaged_header_feeds_a_schema_valid_fault() -> None:
    from codec_samples import assert_strictly_valid

    with pytest.raises(SchemaViolation) as invalid:
        parse_request(VALID.replace(b'value="110.00"', b'value="lots"'))
    header = response_header(
        invalid.value.header, server_id=SERVER, resp_date_time="2025-01-01T12:00:00Z"
    )
    document = render_fault(
        "XMLVendSchemaEx", invalid.value.message, header=header, faultcode="Client"
    )
    assert_strictly_valid(document)
    assert b'<b:reqMsgID dateTime="20250101120000" uniqueNumber="100001"/>' in document


def test_response_header_echoes_and_keeps_output_valid_for_lenient_input() -> None:
    header = response_header(
        b.RequestHeader(
            client_id=b.EANDeviceID(ean="VUPSB"),  # accepted leniently, invalid as EAN on output
            terminal_id=b.GenericDeviceID(id="T1"),
            msg_id=b.MsgID(date_time="20250101120000", unique_number="7"),
        ),
        server_id=SERVER,
        resp_date_time="2025-01-01T12:00:00Z",
    )
    assert header.client_id == b.GenericDeviceID(id="VUPSB")
    assert header.terminal_id == b.GenericDeviceID(id="T1")
    assert header.req_msg_id == b.MsgID(date_time="20250101120000", unique_number="7")
    echoed = response_header(EXPECTED, server_id=SERVER)
    assert echoed.client_id == EXPECTED.client_id and echoed.resp_date_time.endswith("+00:00")


def test_salvage_from_the_real_centlec_request() -> None:
    header = salvage_header(sample_docs()[1])
    assert header is not None and header.msg_id.unique_number == "972238"


@pytest.mark.parametrize(
    ("document", "fault_class", "code"),
    [
        (VALID.replace(b'value="110.00"', b'value="lots"'), "XMLVendSchemaEx", "Client"),
        (VALID.replace(b"</r:purchaseValue>", b""), "XMLVendSchemaEx", "Client"),
        (VALID.replace(b"r:creditVendReq", b"r:cancelVendReq"), "UseCaseSupportEx", "Server"),
        (VALID.replace(b"r:creditVendReq", b"r:fooReq"), "XMLVendSchemaEx", "Client"),
    ],
    ids=["schema", "malformed", "unsupported", "unknown"],
)
def test_render_codec_error(document: bytes, fault_class: str, code: str) -> None:
    from codec_samples import assert_strictly_valid

    from xmlvend.codec import CodecError, SoapFault, parse_response, render_codec_error

    try:
        outcome: object = parse_request(document)
    except CodecError as error:
        outcome = error
    answer = render_codec_error(outcome, server_id=SERVER)  # type: ignore[arg-type]
    assert_strictly_valid(answer)
    fault = parse_response(answer)
    assert isinstance(fault, SoapFault)
    assert (fault.fault_class, fault.code) == (fault_class, code)
    assert fault.detail is not None and fault.detail.header is not None
    assert fault.detail.header.req_msg_id == EXPECTED.msg_id


# --- found by the fuzzer (python -m tools.fuzz) -------------------------------------------------


@pytest.mark.parametrize(
    "broken",
    [
        VALID.replace(b"<b:opName>", b"<b:>", 1),  # libxml2's recovery keeps the tag "b:"
        VALID.replace(b"</b:authCred>", b"<b:/></b:authCred>", 1),
    ],
    ids=["prefix-only-tag", "empty-prefixed-tag"],
)
def test_salvage_survives_tags_that_are_no_qname(broken: bytes) -> None:
    """A recovered tree may hold a tag that is not a valid QName; salvaging the header
    (for the fault's echo) must not raise (it raised ValueError: an internal error)."""
    header = salvage_header(broken)
    assert header is not None
    assert header.client_id == EXPECTED.client_id
    with pytest.raises(MalformedRequest):
        parse_request(broken)


@pytest.mark.parametrize("field", ["clientID", "terminalID"])
def test_fault_echoes_no_device_id_longer_than_the_schema_allows(field: str) -> None:
    """A salvaged device ID longer than b:Msg's 160 characters is not echoed (the fault
    would not validate against our own schema); the placeholder stands in."""
    device = b'<b:%s xsi:type="b:GenericDeviceID" id="%s"/>' % (field.encode(), b"9" * 161)
    start = VALID.index(b"<b:%s" % field.encode())
    end = VALID.index(b"/>", start) + 2
    broken = VALID[:start] + device + VALID[end:]
    salvaged = salvage_header(broken.replace(b'value="110.00"', b'value="lots"'))
    assert salvaged is not None
    echoed = response_header(salvaged, server_id=SERVER)
    device_echo = echoed.client_id if field == "clientID" else echoed.terminal_id
    assert device_echo == b.GenericDeviceID(id="UNKNOWN")
    other = echoed.terminal_id if field == "clientID" else echoed.client_id
    assert other != b.GenericDeviceID(id="UNKNOWN")
