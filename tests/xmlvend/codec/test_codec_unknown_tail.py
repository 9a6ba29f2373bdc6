"""Issue 10 §6: unknown elements after the standard content of a request, in any namespace,
are ignored (and logged at debug with the client id); unknown elements inside the standard
content are still refused. Checked for every request type of the samples."""

from __future__ import annotations

import logging

import pytest
from codec_samples import all_requests, batch_requests, req_header

from xmlvend.codec import SchemaViolation, parse_request, render_request
from xmlvend.codec import types_base as b
from xmlvend.codec import types_revenue as r
from xmlvend.codec.messages import element_for

REQUESTS = all_requests() + batch_requests(req_header())
IDS = [f"{i}-{type(request).__name__}" for i, request in enumerate(REQUESTS)]

B = "http://www.nrs.eskom.co.za/xmlvend/base/2.1/schema"

# What deployed clients append (namespaces declared on the element itself, so that they
# fit anywhere in our rendered requests).
UNKNOWN = {
    "no-namespace": "<serverID>6004708000007</serverID>",
    "vendor-namespace": '<x:extra xmlns:x="urn:vendor"><x:deep a="1"/></x:extra>',
    "undefined-xmlvend-name": f'<vendingServerID xmlns="{B}">42</vendingServerID>',
    "xmlvend-response-element": (
        f'<b:serverID xmlns:b="{B}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:type="b:EANDeviceID" ean="6004708000007"/>'
    ),
}


def _request_close_tag(document: bytes, request: b.BaseReq) -> bytes:
    tag, _ = element_for(type(request))
    local = tag.rpartition("}")[2]
    close = document.rfind(b"</soap:Body>")
    start = document.rfind(b"</", 0, close)
    assert document[start:close].endswith(local.encode() + b">")
    return document[start:close]


def with_tail(request: b.BaseReq, *extra: str) -> bytes:
    document = render_request(request)
    close = _request_close_tag(document, request)
    return document.replace(close, "".join(extra).encode() + close)


def after_client_id(request: b.BaseReq, extra: str) -> bytes:
    """``extra`` right after b:clientID: inside the standard content (terminalID follows)."""
    document = render_request(request)
    start = document.index(b"<b:clientID")
    end = document.index(b"/>", start) + 2
    return document[:end] + extra.encode() + document[end:]


@pytest.mark.parametrize("request_", REQUESTS, ids=IDS)
def test_unknown_trailing_elements_are_ignored(
    request_: b.BaseReq, caplog: pytest.LogCaptureFixture
) -> None:
    expected = parse_request(render_request(request_))
    with caplog.at_level(logging.DEBUG, logger="evd.xmlvend.codec"):
        parsed = parse_request(with_tail(request_, *UNKNOWN.values()))
    assert parsed == expected
    assert parsed.fingerprint == expected.fingerprint
    [record] = [r for r in caplog.records if r.name == "evd.xmlvend.codec"]
    assert record.levelno == logging.DEBUG
    message = record.getMessage()
    client = request_.header.client_id
    assert (getattr(client, "ean", None) or client.id) in message
    assert "deep" not in message  # what is dropped with its parent is not listed again
    assert "serverID" in message and "urn:vendor}extra" in message
    assert "vendingServerID" in message
    assert "6004708000007</" not in message  # names only, never content


@pytest.mark.parametrize("request_", REQUESTS, ids=IDS)
@pytest.mark.parametrize("kind", list(UNKNOWN))
def test_unknown_elements_inside_the_standard_content_are_refused(
    request_: b.BaseReq, kind: str
) -> None:
    with pytest.raises(SchemaViolation):
        parse_request(after_client_id(request_, UNKNOWN[kind]))


@pytest.mark.parametrize("request_", REQUESTS, ids=IDS)
def test_an_unknown_element_before_a_standard_one_at_the_end_is_refused(
    request_: b.BaseReq,
) -> None:
    """Only the run of unknown elements at the very end goes: one followed by a standard
    element (here a repeated b:msgID) is inside the content."""
    document = render_request(request_)
    start = document.index(b"<b:msgID")
    msg_id = document[start : document.index(b"/>", start) + 2].decode()
    with pytest.raises(SchemaViolation):
        parse_request(with_tail(request_, UNKNOWN["no-namespace"], msg_id))


def test_a_standard_element_repeated_at_the_end_stays_refused() -> None:
    request = next(q for q in REQUESTS if isinstance(q, r.PayAccReq))
    document = render_request(request)
    start = document.index(b"<r:reqAmt")
    req_amt = document[start : document.index(b"/>", start) + 2].decode()
    with pytest.raises(SchemaViolation, match="reqAmt"):
        parse_request(with_tail(request, req_amt))


def test_unknown_element_trailing_inside_a_child_stays_refused() -> None:
    """Below the request element only vendor-namespace tails go (rule 6b): an unqualified
    element at the end of idMethod is inside the standard content."""
    request = next(q for q in REQUESTS if isinstance(q, r.CreditVendReq))
    document = render_request(request).replace(
        b"</b:idMethod>", b"<serverID>1</serverID></b:idMethod>", 1
    )
    with pytest.raises(SchemaViolation, match="serverID"):
        parse_request(document)


def test_the_account_payment_of_the_report() -> None:
    """The deployed client of the report: a server-id element after an account payment."""
    request = next(q for q in REQUESTS if isinstance(q, r.PayAccReq))
    parsed = parse_request(with_tail(request, UNKNOWN["xmlvend-response-element"]))
    assert parsed == parse_request(render_request(request))
