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


@pytest.mark.parametrize(
    "broken",
    [
        VALID.replace(b"<b:opName>", b"<b:>", 1),
        VALID.replace(b"<b:password>", b"<b:passw:rd>", 1).replace(
            b"</b:password>", b"</b:passw:rd>", 1
        ),
    ],
    ids=["empty-local-name", "two-colons"],
)
def test_tags_a_recovering_parse_leaves_unqualified_are_a_malformed_request(
    broken: bytes,
) -> None:
    """Found by fuzzing the encodings of issue 10 §2: the salvage parse kept tags such as
    ``b:passw:rd`` that lxml's QName refuses, and parse_request raised ValueError."""
    with pytest.raises(MalformedRequest) as info:
        parse_request(broken)
    assert info.value.header is not None
    assert info.value.header.msg_id == EXPECTED.msg_id
