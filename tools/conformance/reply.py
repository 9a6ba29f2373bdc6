"""A server's answer, read two ways: as the raw XML (for schema and namespace checks,
canonical comparison) and as the codec's typed message (for the semantic checks).

The codec's client side is lenient on purpose (it must talk to deployed servers); the kit
is the strict one, so it keeps the XML next to the bound message.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from tools.conformance.transport import HttpResult
from xmlvend.codec import parse_response
from xmlvend.codec.binding import XSI_TYPE, BindingError, resolve_qname
from xmlvend.codec.envelope import EnvelopeError, SoapVersion, is_fault, open_envelope, read_fault
from xmlvend.codec.errors import MalformedResponse
from xmlvend.codec.faults import SoapFault
from xmlvend.codec.namespaces import BASE, SOAP11, SOAP12
from xmlvend.codec.parser import MAX_RESPONSE_BYTES, XmlRejected, parse_document
from xmlvend.codec.types_base import BaseResp

_B = f"{{{BASE}}}"


class UnreadableReply(ValueError):
    """The answer is not a SOAP envelope the kit can read (the message says why)."""


@dataclass(frozen=True)
class FaultInfo:
    """A SOAP Fault as written: faultcode resolved to (namespace, local name), the XMLVend
    fault class as the xsi:type of ``b:fault`` resolved to (namespace, local name)."""

    faultcode: str
    faultcode_qname: tuple[str | None, str]
    faultstring: str
    fault_class: tuple[str | None, str] | None
    desc: str | None
    detail_present: bool

    @property
    def class_name(self) -> str | None:
        return None if self.fault_class is None else self.fault_class[1]

    @property
    def code(self) -> str:
        """Client/Server (SOAP 1.1) or Sender/Receiver (1.2), when in the SOAP namespace."""
        uri, local = self.faultcode_qname
        return local if uri in (SOAP11, SOAP12) else f"{{{uri}}}{local}"

    def describe(self) -> str:
        name = self.class_name or "no XMLVend fault class"
        return f"{self.faultcode} {name}: {self.desc or self.faultstring}"


@dataclass(frozen=True)
class Reply:
    """One answer: the HTTP exchange, the envelope, the XMLVend element and its binding.

    ``payload`` is the response element, or for a SOAP Fault the ``xmlvendFaultResp`` in its
    detail (None when the fault has none). ``message`` is the codec's typed object
    (for a fault: the bound XMLVendFaultResp, possibly None).
    """

    http: HttpResult
    soap_version: SoapVersion
    body_child: etree._Element
    payload: etree._Element | None
    fault: FaultInfo | None
    message: BaseResp | None
    soap_fault: SoapFault | None

    @property
    def is_fault(self) -> bool:
        return self.fault is not None

    @property
    def raw(self) -> bytes:
        return self.http.body

    def describe(self) -> str:
        if self.fault is not None:
            return f"fault {self.fault.describe()}"
        return f"{etree.QName(self.body_child).localname} (HTTP {self.http.status})"


def read_reply(http: HttpResult) -> Reply:
    """Parse the body of ``http``; raises :class:`UnreadableReply` when there is no SOAP
    envelope with an XMLVend answer in it."""
    body = http.body
    if not body.strip():
        raise UnreadableReply(f"HTTP {http.status} with an empty body")
    try:
        root = parse_document(body, max_bytes=MAX_RESPONSE_BYTES)
        version, child = open_envelope(root)
    except (XmlRejected, EnvelopeError) as exc:
        raise UnreadableReply(f"HTTP {http.status}, not a SOAP envelope: {exc}") from None
    try:
        parsed = parse_response(body)
    except MalformedResponse as exc:
        raise UnreadableReply(f"HTTP {http.status}, not an XMLVend answer: {exc}") from None
    if is_fault(child):
        fault, payload = _fault_info(child)
        soap_fault = parsed if isinstance(parsed, SoapFault) else None
        message = soap_fault.detail if soap_fault is not None else None
        return Reply(http, version, child, payload, fault, message, soap_fault)
    if isinstance(parsed, SoapFault):  # a bare xmlvendFaultResp outside a SOAP Fault
        raise UnreadableReply("an xmlvendFaultResp outside a SOAP Fault")
    return Reply(http, version, child, child, None, parsed, None)


def _fault_info(fault_el: etree._Element) -> tuple[FaultInfo, etree._Element | None]:
    code, string, _actor, detail = read_fault(fault_el)
    code_el = next((el for el in fault_el.iter() if _local(el) in ("faultcode", "Value")), None)
    code_qname = _resolve(code_el if code_el is not None else fault_el, code)
    payload = None
    if detail is not None:
        payload = next(
            (el for el in detail if isinstance(el.tag, str) and _local(el) == "xmlvendFaultResp"),
            None,
        )
        if payload is None:  # lenient: anywhere below the detail
            payload = next((el for el in detail.iter() if _local(el) == "xmlvendFaultResp"), None)
    fault_class = None
    desc = None
    if payload is not None:
        fault_el_ = next((el for el in payload if _local(el) == "fault"), None)
        if fault_el_ is not None:
            xsi_type = fault_el_.get(XSI_TYPE)
            if xsi_type:
                fault_class = _resolve(fault_el_, xsi_type)
            desc_el = next((el for el in fault_el_ if _local(el) == "desc"), None)
            desc = None if desc_el is None else (desc_el.text or "").strip()
    info = FaultInfo(
        faultcode=code,
        faultcode_qname=code_qname,
        faultstring=string,
        fault_class=fault_class,
        desc=desc,
        detail_present=payload is not None,
    )
    return info, payload


def _resolve(el: etree._Element, qname: str) -> tuple[str | None, str]:
    try:
        return resolve_qname(el, qname)
    except BindingError:
        return None, qname.rpartition(":")[2]


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def find_all(el: etree._Element, local: str, ns: str = BASE) -> list[etree._Element]:
    """Descendants of ``el`` named ``{ns}local``."""
    return list(el.iter(f"{{{ns}}}{local}"))


def tokens_in(el: etree._Element) -> list[str]:
    """Every ``b:stsCipher`` value below ``el`` (credit, key change and engineering tokens)."""
    return [(found.text or "").strip() for found in el.iter(f"{_B}stsCipher")]
