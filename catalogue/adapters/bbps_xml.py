"""The BBPS-like bill payment protocol (XML in ``http://bbps.org/schema``; sans-IO, shared
by the client adapter and ``evd simulate-provider bbps``). Every message carries
``<Head ver ts origInst refId/>`` (refId: 35 characters, the same from fetch to pay);
amounts are paise as strings; ``responseCode`` ``000`` is success. All requests go to one
URL (``POST``), the root element says which:

* ``BillFetchRequest`` -> ``BillFetchResponse`` (``Reason``, ``BillerResponse amount
  billNumber billDate dueDate customerName``)
* ``BillPaymentRequest`` (``Txn txnReferenceId`` = our 20-character order id, ``Amount/Amt``)
  -> ``BillPaymentResponse`` (``Reason responseCode approvalRefNum``: ``000`` paid, ``200``
  pending at the biller, anything else failed)
* ``TxnStatusComplainRequest`` with ``TxnStatusReq txnType``: ``TXN_STATUS`` (by
  ``txnReferenceId``; ``TxnList txnStatus`` SUCCESS | PENDING | FAILURE | NOT_FOUND),
  ``COMPLAINT_REGISTER`` (``Complaint type txnReferenceId description``) and
  ``COMPLAINT_STATUS`` (``complaintId``) -> ``TxnStatusComplainResponse``.

The parser refuses DTDs and entities (lxml with ``resolve_entities=False``, no network).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from lxml import etree

from catalogue.interface import ComplaintAck, FetchedBill, Outcome, ProviderResult
from vending.money import Money

NS = "http://bbps.org/schema"
VERSION = "1.0"
PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True
)
SUCCESS = "000"
PENDING_CODE = "200"


class ProtocolError(ValueError):
    """Not a message of this protocol."""


def q(name: str) -> str:
    return f"{{{NS}}}{name}"


@dataclass(frozen=True)
class Head:
    ref_id: str
    orig_inst: str
    ts: str


@dataclass(frozen=True)
class Message:
    """A parsed request or response: its root name, head and the elements a side needs."""

    kind: str
    head: Head
    root: Any = field(repr=False)

    def find(self, name: str) -> Any:
        return self.root.find(name)

    def attr(self, path: str, name: str, default: str = "") -> str:
        element = self.root.find(path)
        return default if element is None else element.get(name, default)


def _ts(now: datetime) -> str:
    return now.isoformat(timespec="seconds")


def _root(kind: str, ref_id: str, orig_inst: str, now: datetime) -> Any:
    root = etree.Element(q(kind), nsmap={"bbps": NS})
    etree.SubElement(root, "Head", ver=VERSION, ts=_ts(now), origInst=orig_inst, refId=ref_id)
    return root


def _bytes(root: Any) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _agent(root: Any, agent_id: str, terminal_id: str) -> None:
    agent = etree.SubElement(root, "Agent", id=agent_id)
    device = etree.SubElement(agent, "Device")
    for name, value in (("INITIATING_CHANNEL", "AGT"), ("TERMINAL_ID", terminal_id)):
        etree.SubElement(device, "Tag", name=name, value=value)


def _bill_details(root: Any, biller_id: str, params: Mapping[str, str]) -> None:
    details = etree.SubElement(root, "BillDetails")
    etree.SubElement(details, "Biller", id=biller_id)
    custom = etree.SubElement(details, "CustomerParams")
    for name, value in params.items():
        etree.SubElement(custom, "Tag", name=name, value=value)


def parse(body: bytes) -> Message:
    try:
        root = etree.fromstring(body, PARSER)
    except etree.XMLSyntaxError as exc:
        raise ProtocolError(f"not XML: {exc}") from None
    if root.getroottree().docinfo.doctype:
        raise ProtocolError("DTDs are refused")
    tag = etree.QName(root)
    if tag.namespace != NS:
        raise ProtocolError(f"not in {NS}")
    head = root.find("Head")
    if head is None or not head.get("refId"):
        raise ProtocolError("no Head refId")
    return Message(
        tag.localname, Head(head.get("refId"), head.get("origInst", ""), head.get("ts", "")), root
    )


def customer_params(message: Message) -> dict[str, str]:
    tags = message.root.findall("BillDetails/CustomerParams/Tag")
    return {t.get("name", ""): t.get("value", "") for t in tags}


# --- requests (the client) -------------------------------------------------------------------


def fetch_request(
    *,
    ref_id: str,
    orig_inst: str,
    agent_id: str,
    biller_id: str,
    params: Mapping[str, str],
    mobile: str,
    now: datetime,
    msg_id: str,
) -> bytes:
    root = _root("BillFetchRequest", ref_id, orig_inst, now)
    etree.SubElement(root, "Txn", ts=_ts(now), msgId=msg_id)
    etree.SubElement(root, "Customer", mobile=mobile)
    _agent(root, agent_id, "EVD")
    _bill_details(root, biller_id, params)
    return _bytes(root)


def payment_request(
    *,
    ref_id: str,
    orig_inst: str,
    agent_id: str,
    biller_id: str,
    params: Mapping[str, str],
    mobile: str,
    amount: Money,
    order_id: str,
    now: datetime,
) -> bytes:
    root = _root("BillPaymentRequest", ref_id, orig_inst, now)
    etree.SubElement(root, "Txn", ts=_ts(now), msgId=order_id, txnReferenceId=order_id)
    etree.SubElement(root, "Customer", mobile=mobile)
    _agent(root, agent_id, "EVD")
    _bill_details(root, biller_id, params)
    amount_el = etree.SubElement(root, "Amount")
    etree.SubElement(amount_el, "Amt", amount=str(amount.amount), currency="356", custConvFee="0")
    etree.SubElement(root, "PaymentMethod", paymentMode="Cash", quickPay="No", splitPay="No")
    return _bytes(root)


def status_request(
    *, ref_id: str, orig_inst: str, now: datetime, txn_type: str, **attrs: str
) -> bytes:
    root = _root("TxnStatusComplainRequest", ref_id, orig_inst, now)
    req = etree.SubElement(root, "TxnStatusReq", txnType=txn_type)
    if txn_type == "COMPLAINT_REGISTER":
        etree.SubElement(req, "Complaint", **attrs)
    else:
        for name, value in attrs.items():
            req.set(name, value)
    return _bytes(root)


# --- responses (the simulator writes them, the client reads them) ----------------------------


def response(
    kind: str, ref_id: str, orig_inst: str, now: datetime, code: str, reason: str, **attrs: str
) -> Any:
    root = _root(kind, ref_id, orig_inst, now)
    etree.SubElement(root, "Reason", responseCode=code, responseReason=reason, **attrs)
    return root


def render(root: Any) -> bytes:
    return _bytes(root)


def _reason(message: Message) -> tuple[str, str]:
    reason = message.find("Reason")
    if reason is None:
        raise ProtocolError("no Reason")
    return reason.get("responseCode", ""), reason.get("responseReason", "")


def _day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def read_fetch(body: bytes, currency: str = "INR") -> FetchedBill | tuple[str, str]:
    """The fetched bill, or (responseCode, reason) when the biller refused."""
    message = parse(body)
    if message.kind != "BillFetchResponse":
        raise ProtocolError(f"expected BillFetchResponse, got {message.kind}")
    code, reason = _reason(message)
    if code != SUCCESS:
        return code, reason
    bill = message.find("BillerResponse")
    if bill is None:
        raise ProtocolError("no BillerResponse")
    try:
        amount = int(bill.get("amount", ""))
    except ValueError:
        raise ProtocolError("the bill amount is not paise") from None
    return FetchedBill(
        customer_name=bill.get("customerName", "")[:80],
        amount=Money(amount, currency),
        bill_number=bill.get("billNumber", "")[:40],
        bill_date=_day(bill.get("billDate")),
        due_date=_day(bill.get("dueDate")),
        ref_id=message.head.ref_id,
    )


def read_payment(body: bytes) -> ProviderResult:
    message = parse(body)
    if message.kind != "BillPaymentResponse":
        raise ProtocolError(f"expected BillPaymentResponse, got {message.kind}")
    code, reason = _reason(message)
    approval = message.attr("Reason", "approvalRefNum") or None
    txn_ref = message.attr("Txn", "txnReferenceId") or None
    if code == SUCCESS:
        outcome = Outcome.SUCCESS
    elif code == PENDING_CODE:
        outcome = Outcome.PENDING
    else:
        outcome = Outcome.FAILED
    return ProviderResult(outcome, txn_ref, approval, code[:16], reason[:200])


def read_status(body: bytes) -> ProviderResult:
    message = parse(body)
    if message.kind != "TxnStatusComplainResponse":
        raise ProtocolError(f"expected TxnStatusComplainResponse, got {message.kind}")
    code, reason = _reason(message)
    txn = message.find("TxnList")
    if code != SUCCESS or txn is None:
        return ProviderResult(Outcome.UNKNOWN, code=code[:16], message=reason[:200])
    status = txn.get("txnStatus", "")
    outcome = {
        "SUCCESS": Outcome.SUCCESS,
        "PENDING": Outcome.PENDING,
        "FAILURE": Outcome.FAILED,
    }.get(status, Outcome.UNKNOWN)
    return ProviderResult(
        outcome,
        txn.get("txnReferenceId") or None,
        txn.get("approvalRefNum") or None,
        (txn.get("responseCode") or status)[:16],
        (txn.get("responseReason") or reason)[:200],
    )


def read_complaint(body: bytes) -> ComplaintAck:
    message = parse(body)
    code, reason = _reason(message)
    complaint = message.find("Complaint")
    if code != SUCCESS or complaint is None:
        raise ProtocolError(f"complaint refused: {code} {reason}")
    return ComplaintAck(
        complaint.get("complaintId", "")[:20], complaint.get("status", "")[:16], reason[:200]
    )
