"""Hostile and broken input: refused as MalformedRequest (never expanded, fetched or
recursed into), unknown and unsupported operations told apart."""

from __future__ import annotations

import hashlib
import http.server
import threading

import pytest
from codec_samples import all_requests

from xmlvend.codec import (
    MalformedRequest,
    SchemaViolation,
    UnknownOperation,
    UnsupportedRequest,
    parse_request,
    render_request,
)
from xmlvend.codec import types_base as b
from xmlvend.codec.parser import MAX_DEPTH, MAX_REQUEST_BYTES, XmlRejected, parse_document
from xmlvend.codec.plans import canonical_tuple

VALID = render_request(all_requests()[6])
ENVELOPE_OPEN = VALID[: VALID.index(b"<soap:Body>") + len(b"<soap:Body>")]
ENVELOPE_CLOSE = b"</soap:Body></soap:Envelope>"


def _malformed(document: bytes) -> MalformedRequest:
    with pytest.raises(MalformedRequest) as info:
        parse_request(document)
    return info.value


def test_xxe_local_file_is_refused(tmp_path: object) -> None:
    document = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        + VALID.split(b"?>", 1)[1].replace(b'id="1"', b'id="&xxe;"')
    )
    error = _malformed(document)
    assert "DTD" in error.message
    assert error.header is None


def test_billion_laughs_is_refused() -> None:
    entities = b'<!ENTITY lol "lol">' + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    document = (
        b"<!DOCTYPE lolz ["
        + entities
        + b"]>"
        + VALID.split(b"?>", 1)[1].replace(b'id="1"', b'id="&lol9;"')
    )
    _malformed(document)


def test_external_dtd_is_never_fetched() -> None:
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'<!ENTITY x "fetched">')

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/evil.dtd".encode()
        document = b'<!DOCTYPE soap:Envelope SYSTEM "' + url + b'">' + VALID.split(b"?>", 1)[1]
        _malformed(document)
        parameter_entity = (
            b'<!DOCTYPE d [<!ENTITY % ext SYSTEM "' + url + b'"> %ext;]>' + VALID.split(b"?>", 1)[1]
        )
        _malformed(parameter_entity)
    finally:
        server.shutdown()
        server.server_close()
    assert hits == []


def test_dtd_in_utf16_is_refused_after_parsing() -> None:
    text = (
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE d [<!ENTITY a "b">]>'
        + VALID.decode().split("?>", 1)[1]
    )
    _malformed(text.encode("utf-16"))


@pytest.mark.parametrize(
    "document",
    [
        b'<?xml-stylesheet href="x.xsl"?>' + VALID.split(b"?>\n", 1)[1],
        VALID.replace(b"<soap:Body>", b"<soap:Body><?php evil() ?>"),
        VALID + b"<?pi after?>",
    ],
    ids=["before-root", "inside", "after-root"],
)
def test_processing_instructions_are_refused(document: bytes) -> None:
    _malformed(document)


@pytest.mark.parametrize(
    "document",
    [
        b'<?xml version="1.0"?><?pi?><a/>',
        b'<?xml version="1.0"?>\n<a><?pi?></a>',
        b"\xef\xbb\xbf<?pi?><a/>",
        b"<?pi?><a/>",
        b"<?xml-model href='x'?><a/>",
        b"<a/><?pi?>",
    ],
)
def test_processing_instructions_are_found_in_small_documents(document: bytes) -> None:
    """parse_document skips its tree search when the bytes cannot hold a PI: never for these."""
    with pytest.raises(XmlRejected, match="processing instructions"):
        parse_document(document)


@pytest.mark.parametrize(
    "document",
    [b'<?xml version="1.0"?><a/>', b"<a><!-- <?pi?> --></a>", b"<a><![CDATA[<?x?>]]></a>"],
)
def test_documents_without_processing_instructions_parse(document: bytes) -> None:
    assert parse_document(document).tag == "a"


def test_nesting_one_level_too_deep_is_refused_with_the_fewest_bytes() -> None:
    """An element at depth MAX_DEPTH + 1 takes 2 * MAX_DEPTH + 1 '<': the bound under which
    parse_document skips its search."""
    allowed = b"<a>" * (MAX_DEPTH - 1) + b"<a/>" + b"</a>" * (MAX_DEPTH - 1)
    assert parse_document(allowed).tag == "a"
    too_deep = b"<a>" * MAX_DEPTH + b"<a/>" + b"</a>" * MAX_DEPTH
    assert too_deep.count(b"<") == 2 * MAX_DEPTH + 1
    with pytest.raises(XmlRejected, match="nested deeper"):
        parse_document(too_deep)


def test_huge_document_is_refused_without_parsing() -> None:
    padding = b"<!--" + b"x" * MAX_REQUEST_BYTES + b"-->"
    _malformed(VALID.replace(b"<soap:Body>", b"<soap:Body>" + padding))


def test_huge_text_node_is_refused() -> None:
    _malformed(VALID.replace(b">OPNAME<", b">" + b"A" * (MAX_REQUEST_BYTES + 1) + b"<"))


@pytest.mark.parametrize("depth", [MAX_DEPTH + 5, 300, 100_000])
def test_deep_documents_are_refused(depth: int) -> None:
    nested = b"<a>" * depth + b"</a>" * depth
    header = b"<soap:Header>" + nested + b"</soap:Header>"
    document = VALID.replace(b"<soap:Body>", header + b"<soap:Body>")
    if len(document) > MAX_REQUEST_BYTES:
        document = ENVELOPE_OPEN + nested[: MAX_REQUEST_BYTES // 2]  # refused either way
    _malformed(document)


@pytest.mark.parametrize(
    "document",
    [
        b"",
        b"   ",
        b"not xml at all",
        b"\x00\x01\x02",
        b"<unclosed>",
        b'{"json": true}',
        b"<root/>",
        b'<e:Envelope xmlns:e="urn:not-soap"><e:Body/></e:Envelope>',
        ENVELOPE_OPEN + ENVELOPE_CLOSE,
        ENVELOPE_OPEN.replace(b"<soap:Body>", b"") + b"</soap:Envelope>",
        ENVELOPE_OPEN + b"text only" + ENVELOPE_CLOSE,
    ],
)
def test_not_a_soap_request(document: bytes) -> None:
    _malformed(document)


def test_not_bytes_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        parse_request("<str/>")  # type: ignore[arg-type]


def test_unknown_operation() -> None:
    document = ENVELOPE_OPEN + b'<x:doSomething xmlns:x="urn:other"/>' + ENVELOPE_CLOSE
    with pytest.raises(UnknownOperation) as info:
        parse_request(document)
    assert info.value.element == "{urn:other}doSomething"
    # A response posted to the server is not a request either; its header is salvaged.
    response_like = VALID.replace(b"creditVendReq", b"creditVendResp")
    with pytest.raises(UnknownOperation) as info:
        parse_request(response_like)
    assert info.value.header is not None


def test_soap_fault_in_body_is_not_an_operation() -> None:
    document = (
        ENVELOPE_OPEN
        + b"<soap:Fault><faultcode>soap:Client</faultcode></soap:Fault>"
        + ENVELOPE_CLOSE
    )
    with pytest.raises(UnknownOperation):
        parse_request(document)


@pytest.mark.parametrize(
    ("element", "operation"),
    [
        ("r:cancelVendReq", "cancelVend"),
        ("r:cmftReq", "cmft"),
        ("r:cancelPendingReq", "cancelPending"),
        ("r:loginReq", "login"),
    ],
)
def test_unsupported_catalogue_requests_parse_to_their_header(element: str, operation: str) -> None:
    document = VALID.replace(b"r:creditVendReq", element.encode())
    request = parse_request(document)
    assert isinstance(request, UnsupportedRequest)
    assert request.operation == operation
    assert request.header.msg_id == b.MsgID(date_time="20250101120000", unique_number="100001")
    assert request.header.client_id == b.EANDeviceID(ean="6004708000090")
    assert len(request.fingerprint) == 32
    # The same bytes as the canonical tuple's repr (what earlier stored keys were made of).
    canon = (request.element, canonical_tuple(request.header, skip=frozenset({"auth_cred"})))
    assert request.fingerprint == hashlib.sha256(repr(canon).encode("utf-8")).digest()


def test_unsupported_request_without_header_is_a_schema_violation() -> None:
    document = (
        ENVELOPE_OPEN
        + b'<r:cancelVendReq xmlns:r="http://www.nrs.eskom.co.za/xmlvend/revenue/2.1/schema"/>'
        + ENVELOPE_CLOSE
    )
    with pytest.raises(SchemaViolation):
        parse_request(document)


def test_soap_header_is_ignored_and_soap_action_irrelevant() -> None:
    with_header = VALID.replace(
        b"<soap:Body>", b"<soap:Header><wsse:Security xmlns:wsse='urn:x'/></soap:Header><soap:Body>"
    )
    assert parse_request(with_header) == parse_request(VALID)


def test_broken_soap12_envelope_is_answered_in_soap12() -> None:
    document = (
        b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>'
    )
    assert _malformed(document).soap_version == "1.2"
    schema_error = VALID.replace(
        b"http://schemas.xmlsoap.org/soap/envelope/", b"http://www.w3.org/2003/05/soap-envelope"
    ).replace(b'value="110.00"', b'value="x"')
    with pytest.raises(SchemaViolation) as info:
        parse_request(schema_error)
    assert info.value.soap_version == "1.2"
