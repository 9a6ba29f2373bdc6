"""Reading the server's WSDL (``URL?wsdl``): which XMLVend operations it advertises.

Operations are recognised by their input element, not their name, and reported under the
standard names of our own WSDL (``CreditVendRequest`` ...), so a server that names its
operations differently is still understood.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from tools.conformance.transport import HttpClient, TransportError
from xmlvend.codec.namespaces import EXT, SOAP_BIND, WSDL, XSD
from xmlvend.codec.parser import MAX_RESPONSE_BYTES, XmlRejected, parse_document
from xmlvend.codec.schema import SERVICE_NS, wsdl_operations

_NS = {"wsdl": WSDL, "soap": SOAP_BIND, "xs": XSD}


@dataclass(frozen=True)
class WsdlInfo:
    """What the WSDL says, or why it could not be read (``problem``)."""

    url: str
    status: int | None = None
    problem: str | None = None
    target_namespace: str | None = None
    # standard operation name -> (input element, output element), Clark notation
    operations: dict[str, tuple[str, str]] = field(default_factory=dict)
    unknown_operations: tuple[str, ...] = ()  # input elements we do not know
    soap_address: str | None = None
    document_literal: bool = False
    extension: bool = False  # the types import our namespace (docs/EXTENSION-NAMESPACE.md)

    @property
    def advertised(self) -> frozenset[str] | None:
        """Standard operation names, or None when the WSDL could not be read."""
        if self.problem is not None:
            return None
        return frozenset(self.operations)


def wsdl_path(http: HttpClient) -> str:
    path = http.path
    return path + ("&wsdl" if "?" in path else "?wsdl")


def fetch_wsdl(http: HttpClient, timeout: float | None = None) -> WsdlInfo:
    url = http.url + ("&wsdl" if "?" in http.url else "?wsdl")
    try:
        result = http.get(wsdl_path(http), timeout=timeout)
    except TransportError as exc:
        return WsdlInfo(url, problem=f"no answer: {exc}")
    if result.status != 200:
        return WsdlInfo(url, result.status, problem=f"HTTP {result.status} for {url}")
    try:
        root = parse_document(result.body, max_bytes=MAX_RESPONSE_BYTES)
    except XmlRejected as exc:
        return WsdlInfo(url, result.status, problem=f"not XML: {exc}")
    if root.tag != f"{{{WSDL}}}definitions":
        return WsdlInfo(url, result.status, problem=f"document element is {root.tag}")
    return _read(url, result.status, root)


def _read(url: str, status: int, root: etree._Element) -> WsdlInfo:
    standard = {elements[0]: name for name, elements in wsdl_operations().items()}
    messages: dict[str, str] = {}
    for message in root.iterfind("wsdl:message", _NS):
        part = message.find("wsdl:part", _NS)
        if part is not None and part.get("element"):
            messages[message.get("name", "")] = _clark(part, part.get("element", ""))
    operations: dict[str, tuple[str, str]] = {}
    unknown: list[str] = []
    for op in root.iterfind("wsdl:portType/wsdl:operation", _NS):
        in_el = op.find("wsdl:input", _NS)
        out_el = op.find("wsdl:output", _NS)
        if in_el is None or out_el is None:
            continue
        request = messages.get(_local(in_el.get("message", "")))
        response = messages.get(_local(out_el.get("message", "")))
        if request is None or response is None:
            continue
        name = standard.get(request)
        if name is None:
            unknown.append(request)
            continue
        operations[name] = (request, response)
    binding = root.find("wsdl:binding/soap:binding", _NS)
    address = root.find("wsdl:service/wsdl:port/soap:address", _NS)
    styles = {el.get("use") for el in root.iterfind("wsdl:binding/wsdl:operation/*/soap:body", _NS)}
    return WsdlInfo(
        url,
        status,
        target_namespace=root.get("targetNamespace"),
        operations=operations,
        unknown_operations=tuple(unknown),
        soap_address=None if address is None else address.get("location"),
        extension=any(
            el.get("namespace") == EXT for el in root.iterfind("wsdl:types//xs:import", _NS)
        ),
        document_literal=binding is not None
        and binding.get("style", "document") == "document"
        and styles <= {"literal"},
    )


def _local(qname: str) -> str:
    return qname.rpartition(":")[2]


def _clark(context: etree._Element, qname: str) -> str:
    prefix, _, local = qname.rpartition(":")
    return f"{{{context.nsmap.get(prefix or None, '')}}}{local}"


__all__ = ["SERVICE_NS", "WsdlInfo", "fetch_wsdl"]
