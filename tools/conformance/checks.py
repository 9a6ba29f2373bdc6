"""Small check functions. Each takes what it checks and raises :class:`CheckFailed` with a
reason a person can act on; it returns normally (or returns what it extracted) when the
rule holds.

Rules and where they come from (reference = docs in /work/shared/reference, xmlvend-2.1.md):

* every answer is a SOAP envelope; HTTP 500 for a SOAP Fault, 200 otherwise (SOAP 1.1 /
  WS-I BP, reference §4.2); a text/xml (or SOAP 1.2) content type;
* every XMLVend element is strictly schema-valid (our XSDs, ``strict_schema()``), with one
  documented exception: a server that accepted a client's lenient msgID echoes it verbatim
  in ``reqMsgID``, which then cannot be schema-valid (§3.2, §9.3);
* the header echoes clientID, terminalID and the request's msgID as reqMsgID; serverID is
  present; respDateTime is a sane xs:dateTime (§3.1);
* faults: ``faultcode`` soap:Client for XMLVendSchemaEx, soap:Server otherwise; the detail
  is ``b:xmlvendFaultResp`` with the full header and a ``b:fault`` whose xsi:type is the
  fault class (§4);
* receipts: tokens are 20 digits; lessRound is the total after rounding, as deployed
  servers send it (§3.5: lessRound = tenderAmt on an exact sale), so lessRound = sum(tx amt
  + taxes) and never more than the purchase amount; tenderAmt = the purchase amount +
  change; trial tokens are all zeros (§5.7).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import NoReturn, TypeVar

from lxml import etree

from tools.conformance.reply import Reply, tokens_in
from vending.clock import system_clock
from xmlvend.codec.canonical import canonical_element
from xmlvend.codec.faults import FAULT_CLASSES
from xmlvend.codec.namespaces import BASE, EXT
from xmlvend.codec.schema import strict_schema
from xmlvend.codec.types_base import (
    DeviceID,
    MsgID,
    RequestHeader,
    ResponseHeader,
    STS1Token,
)
from xmlvend.codec.types_revenue import CreditVendReceipt, CreditVendResp, CreditVendTx, Receipt

_B = f"{{{BASE}}}"
T = TypeVar("T")

# How far respDateTime of a fresh answer may be from the kit's clock (clock skew between
# the machines; a server in another zone must say so with an offset).
RESP_TIME_WINDOW = timedelta(minutes=15)
SCHEMA_FAULT = "XMLVendSchemaEx"


class CheckFailed(AssertionError):
    """A rule did not hold; ``reason`` says which and what was seen."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def fail(reason: str) -> NoReturn:
    raise CheckFailed(reason)


def check(condition: bool, reason: str) -> None:
    if not condition:
        fail(reason)


# --------------------------------------------------------------------------------------------
# Every answer


def check_http_status(reply: Reply) -> None:
    """HTTP 500 for a SOAP Fault, 200 for a normal response."""
    status = reply.http.status
    if reply.is_fault:
        check(status == 500, f"a SOAP Fault came with HTTP {status}, not 500")
    else:
        check(status == 200, f"a normal response came with HTTP {status}, not 200")


def check_content_type(reply: Reply) -> None:
    content_type = (reply.http.header("content-type") or "").lower()
    check(
        content_type.startswith(("text/xml", "application/soap+xml")),
        f"Content-Type {content_type or '(none)'!r} is not text/xml",
    )


def schema_errors(payload: etree._Element, *, lenient_msg_id: MsgID | None = None) -> list[str]:
    """Strict-schema errors of one XMLVend element (empty list: valid).

    With ``lenient_msg_id``, ``reqMsgID``/``adviceReqMsgID`` elements carrying exactly that
    (schema-invalid) msgID are exempt: the server echoed the client's own value verbatim.
    """
    candidate = payload
    if lenient_msg_id is not None:
        candidate = _with_msg_id_replaced(payload, lenient_msg_id)
    schema = strict_schema()
    if schema.validate(candidate):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]


def _with_msg_id_replaced(payload: etree._Element, msg_id: MsgID) -> etree._Element:
    copy = etree.fromstring(etree.tostring(payload))
    for name in ("reqMsgID", "adviceReqMsgID"):
        for el in copy.iter(f"{_B}{name}"):
            if (el.get("dateTime"), el.get("uniqueNumber")) == (
                msg_id.date_time,
                msg_id.unique_number,
            ):
                el.set("dateTime", "20000101000000")
                el.set("uniqueNumber", "1")
    return copy


def check_schema_valid(reply: Reply, *, lenient_msg_id: MsgID | None = None) -> None:
    if reply.payload is None:
        fail("the SOAP Fault has no b:xmlvendFaultResp in its detail")
    errors = schema_errors(reply.payload, lenient_msg_id=lenient_msg_id)
    if errors:
        shown = "; ".join(errors[:3]) + (f" (+{len(errors) - 3} more)" if len(errors) > 3 else "")
        fail(f"{etree.QName(reply.payload).localname} is not schema-valid: {shown}")


def _device(device: DeviceID | None) -> str:
    if device is None:
        return "(missing)"
    value = getattr(device, "ean", None) or getattr(device, "id", None)
    return f"{type(device).__name__}({value})"


def _msg_id(msg_id: MsgID | None) -> str:
    if msg_id is None:
        return "(missing)"
    return f"{msg_id.date_time}/{msg_id.unique_number}"


def response_header(reply: Reply) -> ResponseHeader:
    """The BaseResp header of the answer (of the xmlvendFaultResp for a fault)."""
    message = reply.message
    header = getattr(message, "header", None)
    if header is None:
        fail(f"{reply.describe()}: no readable response header")
    return header


def check_header_echo(header: ResponseHeader, sent: RequestHeader) -> None:
    """clientID, terminalID and reqMsgID are the request's, verbatim."""
    check(
        header.client_id == sent.client_id,
        f"clientID not echoed: sent {_device(sent.client_id)}, got {_device(header.client_id)}",
    )
    check(
        header.terminal_id == sent.terminal_id,
        f"terminalID not echoed: sent {_device(sent.terminal_id)}, "
        f"got {_device(header.terminal_id)}",
    )
    check(
        header.req_msg_id == sent.msg_id,
        f"reqMsgID is {_msg_id(header.req_msg_id)}, the request's msgID was {_msg_id(sent.msg_id)}",
    )


def check_server_id(header: ResponseHeader) -> None:
    server = header.server_id
    value = None if server is None else getattr(server, "ean", None) or getattr(server, "id", None)
    check(bool(value and value.strip()), "serverID is missing or empty")


_XS_DATETIME = re.compile(
    r"(?P<date>-?\d{4,}-\d{2}-\d{2})T(?P<time>\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d+))?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?"
)


def parse_xs_datetime(text: str | None) -> datetime:
    """An xs:dateTime as an aware datetime (no offset given: taken as UTC)."""
    match = _XS_DATETIME.fullmatch((text or "").strip())
    if match is None:
        fail(f"respDateTime {text!r} is not an xs:dateTime")
    frac = (match["frac"] or "")[:6].ljust(6, "0")
    tz = match["tz"] or "+00:00"
    tz = "+00:00" if tz == "Z" else tz
    try:
        return datetime.fromisoformat(f"{match['date']}T{match['time']}.{frac}{tz}")
    except ValueError:
        fail(f"respDateTime {text!r} is not a valid date and time")


def check_resp_date_time(
    text: str | None, *, now: datetime | None = None, window: timedelta = RESP_TIME_WINDOW
) -> None:
    """Parseable, and within ``window`` of our clock."""
    moment = parse_xs_datetime(text)
    now = now or system_clock()
    check(
        abs(moment - now) <= window,
        f"respDateTime {text} is {abs(moment - now)} away from now ({now:%Y-%m-%dT%H:%M:%SZ})",
    )


def check_envelope(
    reply: Reply,
    sent: RequestHeader | None,
    *,
    lenient_msg_id: MsgID | None = None,
) -> None:
    """The rules every answer must keep (see the module docstring). ``sent``: the request
    header to be echoed (None when the request had none a server could read)."""
    check_http_status(reply)
    check_content_type(reply)
    check_schema_valid(reply, lenient_msg_id=lenient_msg_id)
    if reply.fault is not None:
        check_fault_code(reply)
    header = response_header(reply)
    check_server_id(header)
    if sent is not None:
        check_header_echo(header, sent)
    check_resp_date_time(header.resp_date_time)


# --------------------------------------------------------------------------------------------
# Faults


def check_fault_code(reply: Reply) -> None:
    """soap:Client for XMLVendSchemaEx (the request was broken), soap:Server otherwise."""
    fault = reply.fault
    assert fault is not None
    want = "Client" if fault.class_name == SCHEMA_FAULT else "Server"
    if reply.soap_version == "1.2":
        want = {"Client": "Sender", "Server": "Receiver"}[want]
    check(
        fault.code == want,
        f"faultcode {fault.faultcode!r} for {fault.class_name or 'a fault'}: must be soap:{want}",
    )


def fault_family(name: str | None) -> type | None:
    return FAULT_CLASSES.get(name or "")


def expect_fault(reply: Reply, classes: Collection[str], *, what: str = "") -> str:
    """The answer is a SOAP Fault whose class is one of ``classes`` (by name; a name also
    admits its subclasses, e.g. "SystemEx" admits our TransactionDelayedEx). Returns the
    class name. ``what`` says in which situation (it prefixes the reason)."""
    wanted = " or ".join(sorted(classes))
    prefix = f"{what}: " if what else ""
    if reply.fault is None:
        fail(f"{prefix}expected {wanted}, got a normal {reply.describe()}")
    name = reply.fault.class_name
    uri = reply.fault.fault_class[0] if reply.fault.fault_class else None
    if name in classes and uri in (BASE, EXT):
        return name
    found = fault_family(name) if uri in (BASE, EXT) else None
    for wanted_name in classes:
        parent = fault_family(wanted_name)
        if found is not None and parent is not None and issubclass(found, parent):
            return name or ""
    fail(f"{prefix}expected {wanted}, got {reply.fault.describe()}")


def expect_response(reply: Reply, cls: type[T], *, what: str = "") -> T:
    """The answer is a normal response bound to ``cls`` (its exact element). ``what`` says
    in which step (it prefixes the reason)."""
    prefix = f"{what}: " if what else ""
    if reply.fault is not None:
        fail(f"{prefix}expected {cls.__name__}, got {reply.describe()}")
    message = reply.message
    if type(message) is not cls:
        fail(f"{prefix}expected {cls.__name__}, got {type(message).__name__}")
    return message  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------
# Receipts and tokens


def check_tokens_20_digits(el: etree._Element) -> list[str]:
    tokens = tokens_in(el)
    check(bool(tokens), "no b:stsCipher token in the response")
    for token in tokens:
        check(
            len(token) == 20 and token.isascii() and token.isdigit(),
            f"token {token!r} is not 20 digits",
        )
    return tokens


def credit_txs(receipt: CreditVendReceipt) -> list[CreditVendTx]:
    return [tx for tx in receipt.transactions.tx if isinstance(tx, CreditVendTx)]


def credit_token_of(resp: CreditVendResp) -> str:
    """The sale's credit token (the last CreditVendTx: an FBE tx may come first)."""
    txs = credit_txs(resp.credit_vend_receipt)
    check(bool(txs), "the receipt has no CreditVendTx")
    token = txs[-1].credit_token_issue.token
    check(isinstance(token, STS1Token), "the credit token is not an STS1Token")
    return token.sts_cipher  # type: ignore[union-attr]


def check_real_token(resp: CreditVendResp) -> str:
    token = credit_token_of(resp)
    check(token.isdigit() and len(token) == 20, f"credit token {token!r} is not 20 digits")
    check(token != "0" * 20, "a real vend returned the all-zero trial token")
    return token


def check_trial_tokens(el: etree._Element) -> None:
    """Every token of a trial vend is all zeros: it has no value (§2.3)."""
    for token in check_tokens_20_digits(el):
        check(token == "0" * 20, f"trial vend returned a real-looking token {token}")


def _money(values: Iterable[Decimal]) -> Decimal:
    return sum(values, Decimal("0"))


def receipt_total(receipt: Receipt) -> Decimal:
    """sum of every tx amount and its taxes."""
    return _money(
        tx.amt.value + _money(t.amt.value for t in tx.tax) for tx in receipt.transactions.tx
    )


def check_receipt_arithmetic(
    receipt: Receipt, *, amount: Decimal | None, tender: Decimal | None, currency: str
) -> None:
    """lessRound = txs + taxes <= amount; tenderAmt = amount + change."""
    txs = receipt.transactions
    total = receipt_total(receipt)
    change = txs.change.value if txs.change is not None else Decimal("0")
    symbols = {tx.amt.symbol for tx in txs.tx} | {
        c.symbol for c in (txs.less_round, txs.tender_amt, txs.change) if c is not None
    }
    check(symbols == {currency}, f"receipt currency symbols {sorted(symbols)}, expected {currency}")
    if txs.less_round is not None:
        check(
            txs.less_round.value == total,
            f"lessRound {txs.less_round.value} is not the receipt total {total} "
            "(the sum of the tx amounts and their taxes)",
        )
    if amount is not None:
        check(total <= amount, f"receipt lines {total} exceed the purchase of {amount}")
    if txs.tender_amt is not None:
        tender_amt = txs.tender_amt.value
        paid = amount if amount is not None else total
        check(
            tender_amt == paid + change,
            f"tenderAmt {tender_amt} != purchase {paid} + change {change}",
        )
        if tender is not None:
            check(tender_amt == tender, f"tenderAmt {tender_amt}, the customer tendered {tender}")
    elif tender is not None and amount is not None and tender != amount:
        fail(f"cash tender {tender} for {amount} but the receipt has no tenderAmt/change")


def check_meter_echo(el: etree._Element, msno: str) -> None:
    """Every b:meterDetail in the answer names the meter we asked about."""
    found = {
        d.get("msno")
        for d in el.iter()
        if isinstance(d.tag, str) and etree.QName(d).localname == "meterDetail"
    }
    check(bool(found), "no meterDetail in the response")
    check(found == {msno}, f"meterDetail msno {sorted(x or '' for x in found)}, asked for {msno}")


def check_same_content(first: etree._Element, second: etree._Element, what: str) -> None:
    """Canonically identical: same elements, attributes (any order), texts, resolved
    xsi:types; prefixes and namespace declarations do not matter."""
    a, b = canonical_element(first), canonical_element(second)
    if a != b:
        fail(f"{what}: {first_difference(first, second)}")


def first_difference(first: etree._Element, second: etree._Element, path: str = "") -> str:
    """Where two elements first differ, for a readable reason."""
    here = f"{path}/{etree.QName(first).localname}"
    if first.tag != second.tag:
        return f"{here}: element {second.tag} instead of {first.tag}"
    if dict(first.attrib) != dict(second.attrib):
        for name in sorted(set(first.attrib) | set(second.attrib)):
            if first.get(name) != second.get(name):
                local = etree.QName(name).localname
                return f"{here}/@{local}: {first.get(name)!r} then {second.get(name)!r}"
    if (first.text or "").strip() != (second.text or "").strip():
        return f"{here}: text {first.text!r} then {second.text!r}"
    kids_a = [c for c in first if isinstance(c.tag, str)]
    kids_b = [c for c in second if isinstance(c.tag, str)]
    for a, b in zip(kids_a, kids_b, strict=False):
        if canonical_element(a) != canonical_element(b):
            return first_difference(a, b, here)
    if len(kids_a) != len(kids_b):
        return f"{here}: {len(kids_a)} child elements then {len(kids_b)}"
    return f"{here}: differs (xsi:type resolution)"
