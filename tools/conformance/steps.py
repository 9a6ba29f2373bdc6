"""Steps several cases share: a checked vend, the vendor's available credit, waiting for a
delayed transaction. Each step runs its exchanges through the session (so every answer
also passes the envelope checks) and fails the case with a reason when a rule breaks.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from lxml import etree

from tools.conformance import builders
from tools.conformance.checks import (
    check,
    check_meter_echo,
    check_real_token,
    check_receipt_arithmetic,
    expect_response,
    fail,
)
from tools.conformance.profile import Credentials
from tools.conformance.reply import Reply
from tools.conformance.session import Session
from xmlvend.codec.namespaces import BASE
from xmlvend.codec.types_base import LastRespAdviceResp, MsgID, RequestHeader
from xmlvend.codec.types_revenue import (
    CreditVendReq,
    CreditVendResp,
    TrialCreditVendResp,
    VendorStatementResp,
)

# Faults a server may answer while a transaction is still being processed: our
# TransactionDelayedEx (a SystemEx) and Eskom's IndeterminantLastResponseEx.
IN_PROGRESS_FAULTS = frozenset({"TransactionDelayedEx", "IndeterminantLastResponseEx"})


@dataclass(frozen=True)
class Vend:
    """A successful credit vend as sent and received."""

    request: CreditVendReq
    reply: Reply
    resp: CreditVendResp
    token: str

    @property
    def msg_id(self) -> MsgID:
        return self.request.header.msg_id

    @property
    def receipt_no(self) -> str:
        return self.resp.credit_vend_receipt.receipt_no


def check_vend_response(
    session: Session, reply: Reply, msno: str, amount: Decimal, tender: Decimal | None, what: str
) -> tuple[CreditVendResp, str]:
    """A creditVendResp for ``msno``: real 20-digit token, receipt arithmetic, meter echo."""
    resp = expect_response(reply, CreditVendResp, what=what)
    token = check_real_token(resp)
    check_receipt_arithmetic(
        resp.credit_vend_receipt, amount=amount, tender=tender, currency=session.profile.currency
    )
    assert reply.payload is not None
    check_meter_echo(reply.payload, msno)
    return resp, token


def vend(
    session: Session,
    msno: str | None = None,
    *,
    amount: Decimal | None = None,
    tender: Decimal | None = None,
    header: RequestHeader | None = None,
    label: str = "creditVendReq",
) -> Vend:
    """Sell ``amount`` (default: the profile's) for ``msno`` (default: the normal meter)."""
    session.needs("CreditVendRequest")
    msno = msno or session.meter("normal")
    amount = session.profile.amount if amount is None else amount
    request = builders.credit_vend(
        header or session.header(), msno, amount, session.profile.currency, tender=tender
    )
    reply = session.exchange(request, label=label)
    resp, token = check_vend_response(session, reply, msno, amount, tender, label)
    return Vend(request, reply, resp, token)


def statement(session: Session, client: Credentials | None = None) -> VendorStatementResp:
    request = builders.vendor_statement(session.header(client))
    reply = session.exchange(request, label="vendorStatementReq")
    return expect_response(reply, VendorStatementResp, what="vendorStatementReq")


def available_credit(session: Session, client: Credentials | None = None) -> Decimal | None:
    """The vendor's available credit from a vendorStatementReq, or None when the server
    does not advertise vendor statements."""
    if session.advertised is not None and "VendorStatementRequest" not in session.advertised:
        return None
    return statement(session, client).statement.avail_credit.value


def available_credit_by_trial(session: Session) -> Decimal:
    """The available credit a trial vend reports in clientStatus (trials move no money)."""
    session.needs("TrialCreditVendRequest")
    msno = session.meter("normal")
    request = builders.credit_vend(
        session.header(), msno, session.profile.amount, session.profile.currency, trial=True
    )
    reply = session.exchange(request, label="trialCreditVendReq")
    resp = expect_response(reply, TrialCreditVendResp, what="trialCreditVendReq")
    return resp.client_status.avail_credit.value


def balance_probe(session: Session) -> Decimal | None:
    """Available credit by statement, else by trial vend, else None (cannot be observed)."""
    credit = available_credit(session)
    if credit is not None:
        return credit
    if session.advertised is None or "TrialCreditVendRequest" in session.advertised:
        return available_credit_by_trial(session)
    return None


def last_response(
    session: Session,
    original: MsgID,
    *,
    client: Credentials | None = None,
    wait_while_in_progress: bool = True,
    label: str = "lastRespAdviceReq",
) -> Reply:
    """Ask for the last response to ``original``; while the server says the transaction is
    still in progress, ask again (fresh msgID each time) until the case's budget ends."""
    session.needs("AdviceRequest")
    delay = 0.25
    while True:
        request = builders.last_response(session.header(client), original)
        reply = session.exchange(request, label=label)
        name = reply.fault.class_name if reply.fault else None
        if not (wait_while_in_progress and name in IN_PROGRESS_FAULTS):
            return reply
        if session.remaining() < delay + 1.0:
            fail(f"{label}: the transaction was still in progress ({name}) when time ran out")
        session.pause(delay)
        delay = min(delay * 2, 2.0)


def expect_last_response(reply: Reply, original: MsgID, what: str) -> LastRespAdviceResp:
    """A LastRespAdviceResp naming ``original`` whose lastResponse is the original's answer
    (its reqMsgID is the original msgID)."""
    resp = expect_response(reply, LastRespAdviceResp, what=what)
    check(
        resp.advice_req_msg_id == original,
        f"{what}: adviceReqMsgID {resp.advice_req_msg_id} is not the advised msgID {original}",
    )
    inner = resp.last_response
    check(inner is not None, f"{what}: no lastResponse")
    check(
        inner.header.req_msg_id == original,
        f"{what}: lastResponse reqMsgID {inner.header.req_msg_id} is not the original "
        f"request's msgID {original}",
    )
    return resp


def last_response_element(reply: Reply) -> etree._Element:
    """The b:lastResponse element of an adviceResp."""
    assert reply.payload is not None
    found = reply.payload.find(f"{{{BASE}}}lastResponse")
    if found is None:
        fail("adviceResp has no b:lastResponse element")
    return found
