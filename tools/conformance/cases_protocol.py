"""Message identity, duplicate requests and advices (reference §5.1-5.5)."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from decimal import Decimal

from tools.conformance import builders, malformed, steps
from tools.conformance.checks import (
    check,
    check_real_token,
    check_same_content,
    expect_fault,
    expect_response,
)
from tools.conformance.reply import Reply
from tools.conformance.session import Session
from xmlvend.codec.canonical import canonical_content
from xmlvend.codec.types_base import (
    ConfirmationAdviceResp,
    GenericDeviceID,
    MsgID,
    ReversalAdviceResp,
)
from xmlvend.codec.types_revenue import ConfirmCustomerResp, CreditVendResp

# --------------------------------------------------------------------------------------------
# msgID


def terminal_echo(s: Session) -> str:
    header = dataclasses.replace(s.header(), terminal_id=GenericDeviceID(id="CONF-TERM-07"))
    reply = s.exchange(
        builders.confirm_customer(header, s.meter("normal")), label="confirmCustomerReq"
    )
    expect_response(reply, ConfirmCustomerResp)
    return "clientID, terminalID CONF-TERM-07 and msgID echoed"


def distinct_sales(s: Session) -> str:
    first = steps.vend(s, label="creditVendReq #1")
    second = steps.vend(s, label="creditVendReq #2")
    check(
        first.receipt_no != second.receipt_no,
        f"two sales with different msgIDs got the same receipt {first.receipt_no}",
    )
    check(first.token != second.token, f"two sales got the same token {first.token}")
    return f"receipts {first.receipt_no} and {second.receipt_no}"


def duplicate_with_other_body(s: Session) -> str:
    sale = steps.vend(s)
    credit = steps.available_credit(s)
    other = builders.credit_vend(
        sale.request.header,
        s.meter("normal"),
        s.profile.amount + Decimal("1.00"),
        s.profile.currency,
    )
    reply = s.exchange(other, label="creditVendReq (same msgID, other amount)")
    check(
        reply.is_fault,
        "a different request under an already used msgID was processed: " + reply.describe(),
    )
    if credit is not None:
        after = steps.available_credit(s)
        check(after == credit, f"the refused duplicate moved money: {credit} -> {after}")
    note = f"refused with {reply.fault.class_name}"  # type: ignore[union-attr]
    if s.advertised is None or "AdviceRequest" in s.advertised:
        advice = steps.last_response(s, sale.msg_id)
        steps.expect_last_response(advice, sale.msg_id, "lastRespAdviceReq")
        check_same_content_as_original(advice, sale.reply)
        note += "; the original sale is untouched"
    return note


def same_msg_id_other_client(s: Session) -> str:
    other = s.other_client()
    sale = steps.vend(s)
    header = s.header(other, msg_id=sale.msg_id)
    theirs = steps.vend(s, header=header, label="creditVendReq (other client, same msgID)")
    check(theirs.token != sale.token, "the other client got the first client's token")
    return f"the same msgID from {other.client_id} is its own sale ({theirs.receipt_no})"


def lenient_msg_id(s: Session) -> str:
    msg_id = MsgID(
        date_time=s.msg_ids.next().date_time, unique_number=str(random.randrange(10**6, 10**7))
    )
    header = s.header(msg_id=msg_id)
    reply = s.exchange(
        builders.confirm_customer(header, s.meter("normal")),
        label="confirmCustomerReq (7-digit uniqueNumber)",
        lenient_msg_id=msg_id,
    )
    if reply.is_fault:
        expect_fault(reply, {"XMLVendSchemaEx"}, what="a 7-digit uniqueNumber refused")
        return "refused as XMLVendSchemaEx"
    expect_response(reply, ConfirmCustomerResp)
    return f"answered, reqMsgID {msg_id.unique_number} echoed verbatim"


# --------------------------------------------------------------------------------------------
# Duplicates


def _check_replay(s: Session, first: Reply, again: Reply) -> str:
    if again.raw == first.raw:
        return "byte-identical"
    assert first.payload is not None and again.payload is not None
    check_same_content(first.payload, again.payload, "the repeated request got another answer")
    return "canonically identical"


def exact_resend(s: Session) -> str:
    sale = steps.vend(s)
    credit = steps.available_credit(s)
    again = s.exchange(sale.request, label="creditVendReq (resent)")
    how = _check_replay(s, sale.reply, again)
    if credit is not None:
        after = steps.available_credit(s)
        check(after == credit, f"the resent request was charged again: {credit} -> {after}")
    return f"replay {how}, charged once"


def equivalent_resend(s: Session) -> str:
    sale = steps.vend(s)
    body = malformed.reprefixed(sale.request)
    again = s.exchange_raw(body, sale.request.header, label="creditVendReq (other prefixes)")
    return f"replay {_check_replay(s, sale.reply, again)}"


# --------------------------------------------------------------------------------------------
# Last-response advice


def check_same_content_as_original(advice: Reply, original: Reply) -> None:
    """lastResponse is the original answer unchanged (content of the original element)."""
    embedded = steps.last_response_element(advice)
    assert original.payload is not None
    check(
        canonical_content(embedded, ignore_xsi_type=True)
        == canonical_content(original.payload, ignore_xsi_type=True),
        "lastResponse is not the original response unchanged",
    )


def last_response_after_answer(s: Session) -> str:
    sale = steps.vend(s)
    advice = steps.last_response(s, sale.msg_id)
    resp = steps.expect_last_response(advice, sale.msg_id, "lastRespAdviceReq")
    check(isinstance(resp.last_response, CreditVendResp), "lastResponse is not a CreditVendResp")
    check_same_content_as_original(advice, sale.reply)
    return f"original receipt {sale.receipt_no} returned unchanged"


def last_response_after_timeout(s: Session) -> str:
    before = steps.available_credit(s)
    msno = s.meter("normal")
    request = builders.credit_vend(s.header(), msno, s.profile.amount, s.profile.currency)
    s.abandon(request, label="creditVendReq (client hangs up)")
    s.pause(0.3)
    advice = steps.last_response(s, request.header.msg_id)
    if advice.is_fault:
        expect_fault(advice, {"LastResponseEx"}, what="advice after a timeout, no sale")
        if before is not None:
            after = steps.available_credit(s)
            check(after == before, f"LastResponseEx but money moved: {before} -> {after}")
        return "the server dropped the abandoned vend (LastResponseEx, no money moved)"
    resp = steps.expect_last_response(advice, request.header.msg_id, "lastRespAdviceReq")
    inner = resp.last_response
    check(isinstance(inner, CreditVendResp), "lastResponse is not a CreditVendResp")
    token = check_real_token(inner)  # type: ignore[arg-type]
    again = s.exchange(request, label="creditVendReq (resent after the advice)")
    embedded = steps.last_response_element(advice)
    assert again.payload is not None
    check(
        canonical_content(embedded, ignore_xsi_type=True)
        == canonical_content(again.payload, ignore_xsi_type=True),
        "the resent vend and the last response differ",
    )
    return f"vend recovered by advice, token {token}"


def _unknown_msg_id() -> MsgID:
    # A msgID from 2001: no vend of this run (or any test run) can have it.
    return MsgID(date_time="20010101000000", unique_number=str(random.randrange(1, 10**6)))


def last_response_unknown(s: Session) -> str:
    advice = steps.last_response(s, _unknown_msg_id(), wait_while_in_progress=False)
    return expect_fault(advice, {"LastResponseEx"}, what="unknown msgID")


def last_response_other_client(s: Session) -> str:
    other = s.other_client()
    sale = steps.vend(s)
    advice = steps.last_response(s, sale.msg_id, client=other, wait_while_in_progress=False)
    expect_fault(advice, {"LastResponseEx"}, what="another client's msgID")
    return "another client's response is not disclosed"


# --------------------------------------------------------------------------------------------
# Reversal and confirmation advice


def _reversal(s: Session, original: MsgID, label: str = "reversalAdviceReq") -> bool:
    reply = s.exchange(builders.reversal(s.header(), original), label=label)
    resp = expect_response(reply, ReversalAdviceResp, what=label)
    check(
        resp.advice_req_msg_id == original,
        f"adviceReqMsgID {resp.advice_req_msg_id} is not the advised {original}",
    )
    return resp.tx_reversed


def check_reversal(s: Session, sell: Callable[[], Reply]) -> str:
    """Sell (``sell`` returns the sale's answer), reverse it, and hold txReversed against
    the money: true = the vendor's credit is back where it was, false = nothing moved."""
    s.needs("AdviceRequest")
    before = steps.available_credit(s)
    sale = sell()
    original = sale.message.header.req_msg_id  # type: ignore[union-attr]
    sold = steps.available_credit(s)
    reversed_ = _reversal(s, original)
    if before is None or sold is None:
        return f"txReversed {reversed_} (no statements to check the money)"
    after = steps.available_credit(s)
    if reversed_:
        check(after == before, f"txReversed true but credit {before} -> {sold} -> {after}")
        return f"reversed, credit back to {after}"
    check(after == sold, f"txReversed false but credit moved {sold} -> {after}")
    return "not reversed (txReversed false), no money moved"


def reversal(s: Session) -> str:
    return check_reversal(s, lambda: steps.vend(s).reply)


def reversal_unknown(s: Session) -> str:
    s.needs("AdviceRequest")
    reply = s.exchange(builders.reversal(s.header(), _unknown_msg_id()), label="reversalAdviceReq")
    return expect_fault(reply, {"ReversalEx"}, what="unknown msgID")


def reversal_repeated(s: Session) -> str:
    s.needs("AdviceRequest")
    sale = steps.vend(s)
    first = _reversal(s, sale.msg_id, "reversalAdviceReq #1")
    credit = steps.available_credit(s)
    second = _reversal(s, sale.msg_id, "reversalAdviceReq #2")
    check(first == second, f"txReversed {first} then {second} for the same sale")
    if credit is not None:
        after = steps.available_credit(s)
        check(after == credit, f"the second reversal moved money again: {credit} -> {after}")
    return f"txReversed {first} both times, money moved at most once"


def confirmation(s: Session) -> str:
    s.needs("AdviceRequest")
    sale = steps.vend(s)
    credit = steps.available_credit(s)
    reply = s.exchange(
        builders.confirmation(s.header(), sale.msg_id), label="confirmationAdviceReq"
    )
    resp = expect_response(reply, ConfirmationAdviceResp)
    check(resp.advice_req_msg_id == sale.msg_id, "adviceReqMsgID is not the confirmed msgID")
    check(resp.tx_confirmed is True, "a completed sale could not be confirmed (txConfirmed false)")
    if credit is not None:
        after = steps.available_credit(s)
        check(after == credit, f"the confirmation moved money: {credit} -> {after}")
    return "txConfirmed true"


def confirmation_unknown(s: Session) -> str:
    s.needs("AdviceRequest")
    reply = s.exchange(
        builders.confirmation(s.header(), _unknown_msg_id()), label="confirmationAdviceReq"
    )
    return expect_fault(reply, {"ConfirmationEx"}, what="unknown msgID")
