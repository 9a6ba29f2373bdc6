"""SOAP 1.1 / 1.2 envelopes: opening them (find the payload) and building them.

XMLVend is SOAP 1.1 (reference §6); some clients talk SOAP 1.2 to Conlog servers, so both are
read, and whatever we answer goes out in the version the request came in.
"""

from __future__ import annotations

from typing import Final, Literal

from lxml import etree

from xmlvend.codec.binding import PREFIXES
from xmlvend.codec.namespaces import SOAP11, SOAP12, XSI

SoapVersion = Literal["1.1", "1.2"]
SOAP_1_1: Final = "1.1"
SOAP_1_2: Final = "1.2"

SOAP_NS: dict[str, str] = {SOAP_1_1: SOAP11, SOAP_1_2: SOAP12}
_VERSION_OF: dict[str, SoapVersion] = {SOAP11: SOAP_1_1, SOAP12: SOAP_1_2}

# HTTP Content-Type of a message in each SOAP version (for the transports).
CONTENT_TYPE: dict[str, str] = {
    SOAP_1_1: "text/xml; charset=utf-8",
    SOAP_1_2: "application/soap+xml; charset=utf-8",
}

# Namespaces declared once on every Envelope we write, so that every element and every
# xsi:type QName below it uses the same short, fixed prefixes.
_NSMAP_11 = {"soap": SOAP11, "xsi": XSI, **PREFIXES}
_NSMAP_12 = {"soap": SOAP12, "xsi": XSI, **PREFIXES}


class EnvelopeError(ValueError):
    """Well-formed XML that is not a usable SOAP envelope."""


def soap_version_of(root: etree._Element) -> SoapVersion | None:
    tag = root.tag
    if not isinstance(tag, str) or not tag.endswith("}Envelope"):
        return None
    return _VERSION_OF.get(tag[1:].partition("}")[0])


def open_envelope(root: etree._Element) -> tuple[SoapVersion, etree._Element]:
    """Return (SOAP version, first element child of Body)."""
    version = soap_version_of(root)
    if version is None:
        raise EnvelopeError(f"the document element is {root.tag!r}, not a SOAP 1.1 or 1.2 Envelope")
    ns = SOAP_NS[version]
    header_tag, body_tag = f"{{{ns}}}Header", f"{{{ns}}}Body"
    body = None
    for child in root:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        if tag == header_tag and body is None:
            continue  # SOAP headers carry nothing for XMLVend; ignored
        if tag == body_tag and body is None:
            body = child
            continue
        raise EnvelopeError(f"unexpected {tag!r} in the SOAP Envelope")
    if body is None:
        raise EnvelopeError("the SOAP Envelope has no Body")
    if body.text and body.text.strip():
        raise EnvelopeError("text directly inside the SOAP Body")
    for child in body:
        if isinstance(child.tag, str):
            return version, child
    raise EnvelopeError("the SOAP Body is empty")


def new_envelope(version: SoapVersion = SOAP_1_1) -> tuple[etree._Element, etree._Element]:
    """An empty Envelope (all codec prefixes declared on it) and its Body."""
    ns = SOAP_NS[version]
    envelope = etree.Element(f"{{{ns}}}Envelope", nsmap=_NSMAP_11 if ns == SOAP11 else _NSMAP_12)
    body = etree.SubElement(envelope, f"{{{ns}}}Body")
    return envelope, body


_XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


def _open_tag(version: SoapVersion) -> str:
    nsmap = _NSMAP_11 if version == SOAP_1_1 else _NSMAP_12
    decls = " ".join(f'xmlns:{prefix}="{uri}"' for prefix, uri in nsmap.items())
    return f"<soap:Envelope {decls}><soap:Body>"


# Text of an envelope around a payload written by plans.render_element (same declarations as
# new_envelope, so both renderers produce the same document).
ENVELOPE_OPEN: dict[str, str] = {
    SOAP_1_1: _XML_DECLARATION.decode() + _open_tag(SOAP_1_1),
    SOAP_1_2: _XML_DECLARATION.decode() + _open_tag(SOAP_1_2),
}
ENVELOPE_CLOSE = "</soap:Body></soap:Envelope>"


def serialize(envelope: etree._Element) -> bytes:
    # The declaration is written by hand: lxml's uses single quotes, which some
    # string-matching clients do not expect.
    return _XML_DECLARATION + etree.tostring(envelope, encoding="UTF-8", xml_declaration=False)


FaultCode = Literal["Client", "Server"]
_SOAP12_CODE = {"Client": "Sender", "Server": "Receiver"}


def add_fault(
    body: etree._Element,
    version: SoapVersion,
    *,
    faultcode: FaultCode,
    faultstring: str,
    faultactor: str | None = None,
) -> etree._Element:
    """Append a SOAP Fault to ``body``; return the element the fault detail goes into."""
    if faultcode not in _SOAP12_CODE:
        raise ValueError(f"faultcode must be 'Client' or 'Server', not {faultcode!r}")
    ns = SOAP_NS[version]
    fault = etree.SubElement(body, f"{{{ns}}}Fault")
    if version == SOAP_1_1:
        # SOAP 1.1 fault children are unqualified.
        etree.SubElement(fault, "faultcode").text = f"soap:{faultcode}"
        etree.SubElement(fault, "faultstring").text = faultstring
        if faultactor is not None:
            etree.SubElement(fault, "faultactor").text = faultactor
        return etree.SubElement(fault, "detail")
    code = etree.SubElement(fault, f"{{{ns}}}Code")
    etree.SubElement(code, f"{{{ns}}}Value").text = f"soap:{_SOAP12_CODE[faultcode]}"
    reason = etree.SubElement(fault, f"{{{ns}}}Reason")
    text = etree.SubElement(reason, f"{{{ns}}}Text")
    text.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
    text.text = faultstring
    if faultactor is not None:
        etree.SubElement(fault, f"{{{ns}}}Role").text = faultactor
    return etree.SubElement(fault, f"{{{ns}}}Detail")


def is_fault(payload: etree._Element) -> bool:
    return payload.tag in (f"{{{SOAP11}}}Fault", f"{{{SOAP12}}}Fault")


def read_fault(payload: etree._Element) -> tuple[str, str, str | None, etree._Element | None]:
    """(faultcode, faultstring, faultactor, detail element) of a SOAP 1.1 or 1.2 Fault.

    SOAP 1.1 children are unqualified by the spec, but some stacks qualify them; both are
    read. The code is returned as written (e.g. ``"soap:Server"``).
    """
    ns = payload.tag[1:].partition("}")[0]
    if ns == SOAP11:
        code = _child_text(payload, "faultcode", ns)
        reason = _child_text(payload, "faultstring", ns)
        actor = _child_text(payload, "faultactor", ns)
        detail = _child(payload, "detail", ns)
        return code or "", reason or "", actor, detail
    code_el = _child(payload, "Code", ns)
    code = _child_text(code_el, "Value", ns) if code_el is not None else None
    reason_el = _child(payload, "Reason", ns)
    reason = _child_text(reason_el, "Text", ns) if reason_el is not None else None
    actor = _child_text(payload, "Role", ns)
    return code or "", reason or "", actor, _child(payload, "Detail", ns)


def _child(el: etree._Element, local: str, ns: str) -> etree._Element | None:
    found = el.find(local)
    if found is None:
        found = el.find(f"{{{ns}}}{local}")
    return found


def _child_text(el: etree._Element, local: str, ns: str) -> str | None:
    found = _child(el, local, ns)
    if found is None:
        return None
    return (found.text or "").strip()
