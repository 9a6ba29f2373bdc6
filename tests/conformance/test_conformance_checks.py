"""The kit's check functions against canned answers rendered with the codec: each passes a
correct answer and fails the broken variant with a reason that names the problem."""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal

import pytest
from conformance_canned import (
    MSG_ID,
    MSNO,
    fault_reply,
    http,
    reply_of,
    request_header,
    response_header,
    vend_reply,
    vend_response,
)

from tools.conformance import checks
from tools.conformance.checks import CheckFailed
from tools.conformance.reply import UnreadableReply, read_reply
from xmlvend.codec import render_response
from xmlvend.codec import types_base as b


def fails(reason_pattern: str, fn, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CheckFailed) as caught:
        fn(*args, **kwargs)
    assert re.search(reason_pattern, caught.value.reason), caught.value.reason


def test_a_correct_vend_passes_the_envelope_checks() -> None:
    reply = vend_reply()
    checks.check_envelope(reply, request_header())
    resp = checks.expect_response(reply, type(reply.message))
    checks.check_real_token(resp)
    checks.check_receipt_arithmetic(
        resp.credit_vend_receipt, amount=Decimal("20.00"), tender=Decimal("20.00"), currency="ZAR"
    )
    checks.check_meter_echo(reply.payload, MSNO)


def test_schema_check_catches_a_wrong_namespace() -> None:
    body = (
        render_response(vend_response())
        .replace(b"<r:creditVendReceipt", b"<b:creditVendReceipt")
        .replace(b"</r:creditVendReceipt>", b"</b:creditVendReceipt>")
    )
    fails("not schema-valid", checks.check_schema_valid, reply_of(body))


def test_schema_exception_for_a_lenient_msg_id_echoed_verbatim() -> None:
    lenient = b.MsgID(date_time="20250101120000", unique_number="1234567")
    reply = vend_reply(header=response_header(req_msg_id=lenient))
    fails("not schema-valid", checks.check_schema_valid, reply)
    checks.check_schema_valid(reply, lenient_msg_id=lenient)


@pytest.mark.parametrize(
    ("field", "value", "pattern"),
    [
        ("client_id", b.EANDeviceID(ean="6004708000106"), "clientID not echoed"),
        ("terminal_id", b.GenericDeviceID(id="2"), "terminalID not echoed"),
        ("req_msg_id", b.MsgID(date_time="20250101120000", unique_number="9"), "reqMsgID"),
    ],
)
def test_header_echo(field: str, value: object, pattern: str) -> None:
    header = response_header(**{field: value})
    fails(pattern, checks.check_header_echo, header, request_header())


def test_server_id_and_resp_date_time() -> None:
    fails("serverID", checks.check_server_id, response_header(server_id=b.GenericDeviceID(id=" ")))
    fails("away from now", checks.check_resp_date_time, "1999-01-01T00:00:00Z")
    fails("not an xs:dateTime", checks.check_resp_date_time, "yesterday")
    checks.check_resp_date_time(response_header().resp_date_time)
    # Fractions beyond microseconds (a .NET server) and a missing offset are fine.
    assert checks.parse_xs_datetime("2021-07-23T05:35:30.6819918-04:00").hour == 5


def test_http_status_and_content_type() -> None:
    fails("HTTP 200, not 500", checks.check_http_status, fault_reply(status=200))
    fails("HTTP 500, not 200", checks.check_http_status, reply_of(vend_reply().raw, 500))
    reply = read_reply(http(vend_reply().raw, content_type="text/html"))
    fails("Content-Type", checks.check_content_type, reply)


def test_fault_code_and_class() -> None:
    fails("must be soap:Server", checks.check_fault_code, fault_reply(faultcode="Client"))
    fails(
        "must be soap:Client",
        checks.check_fault_code,
        fault_reply("XMLVendSchemaEx", faultcode="Server"),
    )
    checks.check_fault_code(fault_reply("XMLVendSchemaEx", faultcode="Client"))
    reply = fault_reply("BlockedMeterEx")
    assert checks.expect_fault(reply, {"BlockedMeterEx"}) == "BlockedMeterEx"
    fails("expected UnknownMeterEx, got", checks.expect_fault, reply, {"UnknownMeterEx"})
    fails("got a normal", checks.expect_fault, vend_reply(), {"BlockedMeterEx"})
    # A subclass satisfies its family: our TransactionDelayedEx is a SystemEx.
    assert checks.expect_fault(fault_reply("ext:TransactionDelayedEx"), {"SystemEx"})


def test_tokens() -> None:
    fails("not 20 digits", checks.check_tokens_20_digits, vend_reply(token="1234").payload)
    resp = vend_response(token="0" * 20)
    fails("all-zero", checks.check_real_token, resp)
    fails("real-looking token", checks.check_trial_tokens, vend_reply(trial=True).payload)
    checks.check_trial_tokens(vend_reply(token="0" * 20, trial=True).payload)


@pytest.mark.parametrize(
    ("options", "amount", "tender", "pattern"),
    [
        ({"energy": "17.00"}, "20.00", None, "is not the receipt total 19.61"),
        ({"tender": "25.00"}, "20.00", None, "tenderAmt 25.00 != purchase 20.00"),
        ({"energy": "20.00", "less_round": "22.61"}, "20.00", None, "exceed the purchase"),
        ({"tender": "50.00", "change": "30.00"}, "20.00", "40.00", "tendered 40.00"),
        ({"tender": None, "change": None}, "20.00", "50.00", "no tenderAmt"),
    ],
)
def test_receipt_arithmetic(
    options: dict[str, object], amount: str, tender: str | None, pattern: str
) -> None:
    resp = vend_response(**options)  # type: ignore[arg-type]
    fails(
        pattern,
        checks.check_receipt_arithmetic,
        resp.credit_vend_receipt,
        amount=Decimal(amount),
        tender=None if tender is None else Decimal(tender),
        currency="ZAR",
    )


def test_receipt_with_change_is_fine() -> None:
    resp = vend_response(tender="50.00", change="30.00")
    checks.check_receipt_arithmetic(
        resp.credit_vend_receipt, amount=Decimal("20.00"), tender=Decimal("50.00"), currency="ZAR"
    )
    fails(
        "currency symbols",
        checks.check_receipt_arithmetic,
        resp.credit_vend_receipt,
        amount=None,
        tender=None,
        currency="USD",
    )


def test_meter_echo() -> None:
    fails("asked for 04100000027", checks.check_meter_echo, vend_reply().payload, "04100000027")


def test_same_content_names_the_first_difference() -> None:
    header = response_header()
    first = vend_reply(header=header).payload
    checks.check_same_content(first, vend_reply(header=header).payload, "replay")
    other = vend_reply(header=header, token="99999999999999999999").payload
    fails("stsCipher: text", checks.check_same_content, first, other, "replay")


def test_unreadable_answers() -> None:
    for body in (b"", b"<html>oops</html>", b"<not xml"):
        with pytest.raises(UnreadableReply):
            read_reply(http(body, 500))


def test_a_fault_without_its_header_fails_the_envelope() -> None:
    body = (
        fault_reply()
        .raw.replace(b"<b:serverID", b"<b:serverIDX")
        .replace(b'ean="6004708000007"/>', b'ean="6004708000007"/>', 1)
    )
    reply = reply_of(body)
    with pytest.raises(CheckFailed):
        checks.check_envelope(reply, request_header())


def test_header_echo_uses_the_request_msg_id() -> None:
    sent = request_header(msg_id=replace(MSG_ID, unique_number="100002"))
    fails("reqMsgID is 20250101120000/100001", checks.check_header_echo, response_header(), sent)
