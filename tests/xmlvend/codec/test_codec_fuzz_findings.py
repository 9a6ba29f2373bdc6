"""Defects the fuzzer (python -m tools.fuzz, docs/RELIABILITY.md) found in the codec's fault
path: salvaging the header of a broken request, and echoing it schema-valid."""

from __future__ import annotations

import pytest
from codec_samples import all_requests

from xmlvend.codec import (
    MalformedRequest,
    parse_request,
    render_request,
    response_header,
    salvage_header,
)
from xmlvend.codec import types_base as b

VALID = render_request(all_requests()[6])
EXPECTED = all_requests()[6].header
SERVER = b.EANDeviceID(ean="6004708000007")


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
