"""Request bodies broken on purpose (and one rewritten without changing its meaning).

Each starts from a strict request the codec rendered, so exactly one thing is wrong with it.
"""

from __future__ import annotations

import re

from lxml import etree

from xmlvend.codec import render_request
from xmlvend.codec.namespaces import BASE, REVENUE
from xmlvend.codec.types_base import BaseReq

XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
OLD_BASE = "http://www.nrs.eskom.co.za/xmlvend/base/2.0/schema"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"


def truncated(request: BaseReq) -> bytes:
    """Not well-formed: the document stops in the middle."""
    body = render_request(request)
    return body[: len(body) * 2 // 3]


def in_wrong_namespace(request: BaseReq) -> bytes:
    """The request element (and the header children) in the XMLVend 2.0 base namespace
    instead of 2.1: a client built for the wrong version."""
    body = render_request(request).decode()
    return (
        body.replace(REVENUE, OLD_BASE.replace("base", "revenue")).replace(BASE, OLD_BASE).encode()
    )


def with_external_entity(request: BaseReq, marker_file: str = "/etc/hostname") -> bytes:
    """XXE: a DOCTYPE declaring an external entity used as the operator name. A safe
    server refuses it without reading the file."""
    body = render_request(request).decode()
    body = body.replace(XML_DECLARATION.decode(), "")
    doctype = f'<!DOCTYPE Envelope [<!ENTITY xxe SYSTEM "file://{marker_file}">]>'
    body = re.sub(r"<b:opName>[^<]*</b:opName>", "<b:opName>&xxe;</b:opName>", body)
    return (XML_DECLARATION.decode() + doctype + body).encode()


def without_child(request: BaseReq, local_name: str) -> bytes:
    """A required element removed (e.g. ``purchaseValue``): schema-invalid, header intact."""
    root = etree.fromstring(render_request(request))
    payload = root[0][0]
    removed = False
    for child in list(payload):
        if etree.QName(child).localname == local_name:
            payload.remove(child)
            removed = True
    if not removed:
        raise ValueError(f"the request has no {local_name} to remove")
    return XML_DECLARATION + etree.tostring(root)


def with_attribute(request: BaseReq, element_local: str, attribute: str, value: str) -> bytes:
    """One attribute set to a value its type does not allow (e.g. amt value="ten")."""
    root = etree.fromstring(render_request(request))
    found = [el for el in root.iter() if etree.QName(el).localname == element_local]
    if not found:
        raise ValueError(f"the request has no {element_local}")
    found[0].set(attribute, value)
    return XML_DECLARATION + etree.tostring(root)


def renamed_element(request: BaseReq, local_name: str) -> bytes:
    """The request element renamed to something that is no XMLVend request."""
    root = etree.fromstring(render_request(request))
    payload = root[0][0]
    payload.tag = f"{{{etree.QName(payload).namespace}}}{local_name}"
    return XML_DECLARATION + etree.tostring(root)


def not_soap(request: BaseReq) -> bytes:
    """The XMLVend request without its SOAP envelope."""
    root = etree.fromstring(render_request(request))
    return XML_DECLARATION + etree.tostring(root[0][0])


def empty_soap_body() -> bytes:
    return (
        XML_DECLARATION
        + f'<soap:Envelope xmlns:soap="{SOAP11}"><soap:Body/></soap:Envelope>'.encode()
    )


def oversized(request: BaseReq, size: int = 2 * 1024 * 1024) -> bytes:
    """A valid request padded with whitespace past ``size`` bytes (our limit is 256 KiB;
    real requests are under 4 KiB)."""
    body = render_request(request)
    closing = b"</soap:Body>"
    padding = b" " * size
    return body.replace(closing, padding + closing, 1)


_PREFIXES = ("soap", "xsi", "b", "r", "m", "ext")


def reprefixed(request: BaseReq) -> bytes:
    """The same request written differently: other namespace prefixes (also inside xsi:type
    values), line breaks and indentation, the attributes of msgID in the other order.
    Equivalent XML; a server comparing requests must see the same request."""
    text = render_request(request).decode()
    for prefix in _PREFIXES:
        new = f"q{prefix}"
        text = re.sub(rf"\bxmlns:{prefix}=", f"xmlns:{new}=", text)
        text = re.sub(rf"(</?){prefix}:", rf"\g<1>{new}:", text)  # element names
        text = re.sub(rf"(\s){prefix}:(\w+=)", rf"\g<1>{new}:\g<2>", text)  # attribute names
        text = text.replace(f'="{prefix}:', f'="{new}:')  # QName values (xsi:type)
    text = re.sub(
        r'<(\w+):msgID dateTime="(\d+)" uniqueNumber="(\d+)"/>',
        r'<\1:msgID uniqueNumber="\3"  dateTime="\2" />',
        text,
    )
    text = text.replace("><", ">\n  <")
    return text.encode()
