"""Hardened XML parsing for untrusted bodies.

Refused outright (before or right after libxml2 sees the bytes):

* any DOCTYPE / DTD (internal or external) and any entity declaration - XXE, billion laughs,
  external DTD fetches. Entities are never expanded (``resolve_entities=False``), nothing is
  loaded (``load_dtd=False``, ``no_network=True``), and the document is rejected anyway;
* processing instructions anywhere (``<?xml-stylesheet?>`` and friends); the XML declaration
  is not a processing instruction and is fine;
* documents larger than ``max_bytes`` and element nesting deeper than :data:`MAX_DEPTH`
  (libxml2's own limits without ``huge_tree`` stay on as a second line).

Parsers are per thread: lxml parsers must not be shared between threads.
"""

from __future__ import annotations

import threading

from lxml import etree

MAX_REQUEST_BYTES = 256 * 1024  # a real request is < 4 KiB
MAX_RESPONSE_BYTES = 8 * 1024 * 1024  # reprints / statements of foreign servers can be large
MAX_DEPTH = 40  # XMLVend nests ~14 deep (a reprint of a vend response inside an envelope)

_PARSER_OPTIONS = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": False,  # keep them so that we can refuse them
    "collect_ids": False,
}

_local = threading.local()

# One XPath pass finds both problems we check after parsing.
_PI_OR_TOO_DEEP = etree.XPath(
    "boolean(//processing-instruction() | /" + "/*" * (MAX_DEPTH + 1) + ")"
)


_ANY_PI = etree.XPath("boolean(//processing-instruction())")


class XmlRejected(ValueError):
    """The bytes are not an acceptable XML document (the message says why).

    ``salvageable`` is True only for plain syntax errors (e.g. a truncated body), where a
    recovering parse may still find the request header; never for refused constructs.
    """

    def __init__(self, message: str, *, salvageable: bool = False) -> None:
        super().__init__(message)
        self.salvageable = salvageable


def _parser(recover: bool) -> etree.XMLParser:
    attr = "recover" if recover else "strict"
    parser = getattr(_local, attr, None)
    if parser is None:
        parser = etree.XMLParser(recover=recover, **_PARSER_OPTIONS)
        setattr(_local, attr, parser)
    return parser


def parse_document(
    body: bytes, *, max_bytes: int = MAX_REQUEST_BYTES, recover: bool = False
) -> etree._Element:
    """Parse ``body`` into its root element, refusing anything dangerous.

    ``recover=True`` is for salvaging a header out of a broken request only; the result must
    not be trusted beyond that.
    """
    if not isinstance(body, bytes | bytearray | memoryview):
        raise TypeError("XML body must be bytes")
    data = bytes(body)
    if len(data) > max_bytes:
        raise XmlRejected(f"document is larger than {max_bytes} bytes")
    if not data.strip():
        raise XmlRejected("empty body")
    # Cheap pre-check on the raw bytes (covers UTF-8/ASCII bodies; the tree checks below cover
    # every encoding).
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise XmlRejected("DTDs and entity declarations are not accepted")
    try:
        root = etree.fromstring(data, _parser(recover))
    except etree.XMLSyntaxError as exc:
        raise XmlRejected(f"not well-formed XML: {exc}", salvageable=True) from None
    if root is None:
        raise XmlRejected("no document element")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise XmlRejected("DTDs and entity declarations are not accepted")
    if _PI_OR_TOO_DEEP(root):  # '//' also covers PIs before/after the document element
        if _ANY_PI(root):
            raise XmlRejected("processing instructions are not accepted")
        raise XmlRejected(f"elements nested deeper than {MAX_DEPTH} levels are not accepted")
    return root
