"""Hardened XML parsing for untrusted bodies.

The parser never opens a file or a socket, whatever the body says or how it is encoded:

1. **We decide the encoding**, not libxml2 (:func:`decode_document`): a byte order mark, else
   the XML 1.0 Appendix F byte pattern of ``<`` (UTF-16/32 without BOM), else the encoding
   the XML declaration names (UTF-8 when none). Accepted: UTF-8, US-ASCII, ISO-8859-1/-15,
   windows-1252, UTF-16 (LE/BE) and UTF-32 (LE/BE); anything else, or a declaration that
   contradicts the bytes, is refused with a clear message. UTF-8 and ASCII bodies go to
   libxml2 as they are (the hot path); the others are decoded by Python and handed over as
   UTF-8.
2. **Any DOCTYPE and any entity declaration is refused in the decoded text**, before libxml2
   sees the document (for UTF-8 and ASCII the raw bytes are that text) -- XXE, billion
   laughs, external DTD fetches, a DOCTYPE naming a FIFO.
3. **libxml2 is configured to load nothing** as a second line: no DTD loading, no entity
   resolution, no network, and a resolver that refuses every external resource (lxml asks it
   before libxml2 would open anything). ``collect_ids`` keeps its default: with libxml2
   before 2.15, lxml implements ``collect_ids=False`` by setting a ``loadsubset`` bit, and
   libxml2 then loads the external subset of a DOCTYPE (the cause of issue 10 §2). The
   resolver is defence in depth only: lxml installs its resolver hook in libxml2's
   process-wide entity loader around each parse and restores what it found, so with
   parses in several threads the hook can be missing for a moment. Step 2 is what makes
   sure libxml2 never has anything to load.

Also refused: processing instructions anywhere (``<?xml-stylesheet?>`` and friends; the XML
declaration is not one), documents larger than ``max_bytes``, element nesting deeper than
:data:`MAX_DEPTH` and more than ``max_elements`` elements (libxml2's own limits without
``huge_tree`` stay on as a further line). With the size bounded and nothing to expand or
load, parse time is bounded by the size.

Messages never echo libxml2's text (it can name files and internals): a syntax error says
where it is, nothing else.

Parsers are per thread: lxml parsers must not be shared between threads.
"""

from __future__ import annotations

import codecs
import functools
import re
import threading

from lxml import etree

MAX_REQUEST_BYTES = 256 * 1024  # a real request is < 4 KiB
MAX_RESPONSE_BYTES = 8 * 1024 * 1024  # reprints / statements of foreign servers can be large
MAX_DEPTH = 40  # XMLVend nests ~14 deep (a reprint of a vend response inside an envelope)
MAX_ELEMENTS = 2000  # per request; the largest real request has < 60 elements

_REFUSED_DTD = "DTDs and entity declarations are not accepted"


class XmlRejected(ValueError):
    """The bytes are not an acceptable XML document (the message says why).

    ``salvageable`` is True only for plain syntax errors (e.g. a truncated body), where a
    recovering parse may still find the request header; never for refused constructs.
    """

    def __init__(self, message: str, *, salvageable: bool = False) -> None:
        super().__init__(message)
        self.salvageable = salvageable


# --------------------------------------------------------------------------------------------
# Encodings


# Python codec name (codecs.lookup(...).name) -> the label used in messages.
_SINGLE_BYTE = {
    "utf-8": "UTF-8",
    "ascii": "US-ASCII",
    "iso8859-1": "ISO-8859-1",
    "iso8859-15": "ISO-8859-15",
    "cp1252": "windows-1252",
}
_UTF16 = frozenset({"utf-16", "utf-16-le", "utf-16-be"})
_UTF32 = frozenset({"utf-32", "utf-32-le", "utf-32-be"})
_PASS_THROUGH = frozenset({"utf-8", "ascii"})  # libxml2 reads these bytes as UTF-8 directly

# (BOM, codec); UTF-32LE before UTF-16LE: its BOM starts with the UTF-16LE one.
_BOMS = (
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
)

# The encoding pseudo-attribute of an XML declaration at the start of the text / the bytes.
_ENCODING_PATTERN = r"""<\?xml\s[^>]*?\bencoding\s*=\s*(["'])([A-Za-z][\w.:-]*)\1"""
_DECLARED_ENCODING = re.compile(_ENCODING_PATTERN)
_DECLARED_ENCODING_BYTES = re.compile(_ENCODING_PATTERN.encode())
_EBCDIC_XML = b"\x4c\x6f\xa7\x94"  # '<?xm' in EBCDIC
_UTF8_DECLARATIONS = tuple(
    f"<?xml version={q}1.0{q} encoding={q}{label}{q}".encode()
    for q in "\"'"
    for label in ("UTF-8", "utf-8")
)


def _sniff(head: bytes) -> str | None:
    """UTF-16/32 without a BOM, from the zero bytes around the first character (XML 1.0
    Appendix F); None for an ASCII-compatible start."""
    if len(head) >= 4:
        if head[:3] == b"\x00\x00\x00" and head[3]:
            return "utf-32-be"
        if head[0] and head[1:4] == b"\x00\x00\x00":
            return "utf-32-le"
    if len(head) >= 2:
        if not head[0] and head[1]:
            return "utf-16-be"
        if head[0] and not head[1]:
            return "utf-16-le"
    if b"\x00" in head:
        raise XmlRejected("unsupported encoding (send UTF-8)")
    return None


@functools.lru_cache(maxsize=64)
def _codec_named(label: str) -> str:
    """The Python codec name for an encoding label (``UTF-8`` -> ``utf-8``)."""
    try:
        return codecs.lookup(label).name
    except LookupError:
        raise XmlRejected(f"unsupported encoding {label[:40]!r} (send UTF-8)") from None


def _declared_in_bytes(data: bytes, start: int) -> str | None:
    match = _DECLARED_ENCODING_BYTES.match(data, start, start + 200)
    return None if match is None else _codec_named(match.group(2).decode("ascii"))


def _declared_in_text(text: str) -> str | None:
    match = _DECLARED_ENCODING.match(text, 0, 200)
    return None if match is None else _codec_named(match.group(2))


def _fits(declared: str | None, family: frozenset[str]) -> bool:
    return declared is None or declared in family


def decode_document(data: bytes) -> bytes:
    """``data`` as UTF-8 bytes for libxml2, with any DOCTYPE or entity declaration refused.

    Raises :class:`XmlRejected` for an encoding we do not accept, a declaration that
    contradicts the bytes, undecodable bytes, a DOCTYPE or an entity declaration.
    """
    if data[:1] == b"<" and data[1:2] != b"\x00":  # the usual request: no BOM, ASCII-based
        return _ascii_based(data, 0)
    for mark, codec in _BOMS:
        if data.startswith(mark):
            if codec == "utf-8":
                return _ascii_based(data, len(mark))
            return _wide(data[len(mark) :], codec)
    if data.startswith(_EBCDIC_XML):
        raise XmlRejected("unsupported encoding EBCDIC (send UTF-8)")
    codec = _sniff(data[:4])
    return _ascii_based(data, 0) if codec is None else _wide(data, codec)


def _ascii_based(data: bytes, start: int) -> bytes:
    """UTF-8 (after a BOM at ``start`` > 0) or a single-byte encoding the declaration names."""
    if data.startswith(_UTF8_DECLARATIONS, start):  # the usual declarations: no regex
        declared: str | None = "utf-8"
    elif data.startswith(b"<?xml", start):
        declared = _declared_in_bytes(data, start)
    else:
        declared = None
    if start and declared not in (None, "utf-8", "ascii"):
        raise XmlRejected("the declared encoding contradicts the UTF-8 byte order mark")
    codec = declared or "utf-8"
    if codec not in _SINGLE_BYTE:
        raise XmlRejected(_unsupported(codec))
    # In these encodings ASCII characters are ASCII bytes, so the check on the bytes is the
    # check on the text.
    if b"!" in data and (b"<!DOCTYPE" in data or b"<!ENTITY" in data):  # '!' is rare: cheap
        raise XmlRejected(_REFUSED_DTD)
    if codec in _PASS_THROUGH:
        return data
    return _decode(data, codec, _SINGLE_BYTE[codec]).encode("utf-8")


def _wide(data: bytes, codec: str) -> bytes:
    """UTF-16 or UTF-32 (``data`` without its BOM), decoded here and checked as text."""
    family, label = (_UTF16, "UTF-16") if codec in _UTF16 else (_UTF32, "UTF-32")
    text = _decode(data, codec, label)
    if not _fits(_declared_in_text(text), family):
        raise XmlRejected(f"the declared encoding contradicts the {label} body")
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise XmlRejected(_REFUSED_DTD)
    return text.encode("utf-8")


def _decode(data: bytes, codec: str, label: str) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        raise XmlRejected(f"the body is not valid {label}") from None


def _unsupported(codec: str) -> str:
    if codec in _UTF16 or codec in _UTF32:
        return "the declared encoding contradicts the body (send UTF-8)"
    return f"unsupported encoding {codec!r} (send UTF-8)"


# --------------------------------------------------------------------------------------------
# libxml2


class ExternalResourceRefused(Exception):
    """Raised by :class:`_DenyAll` for every external resource libxml2 asks for."""


class _DenyAll(etree.Resolver):
    """Refuses every external resource (DTD, entity, XInclude), so libxml2 never falls back
    to opening a file or a URL itself (returning None would let it)."""

    def resolve(self, system_url: str, public_id: str, context: object) -> object:
        raise ExternalResourceRefused


_PARSER_OPTIONS = {
    # Documents arrive as UTF-8 (decode_document): whatever encoding a declaration names.
    "encoding": "utf-8",
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "attribute_defaults": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": False,  # keep them so that we can refuse them
}

_local = threading.local()

# One XPath pass finds the problems we check after parsing.
_PI_OR_TOO_DEEP = etree.XPath(
    "boolean(//processing-instruction() | /" + "/*" * (MAX_DEPTH + 1) + ")"
)
_ANY_PI = etree.XPath("boolean(//processing-instruction())")
_ELEMENT_COUNT = etree.XPath("count(//*)")


# An element nested at MAX_DEPTH + 1 needs a start and an end tag on each of its ancestors
# and its own start tag: that many '<' bytes (UTF-8 has no other byte 0x3C).
_LT_FOR_TOO_DEEP = 2 * MAX_DEPTH + 1
_XML_DECLARATION_START = tuple(b"<?xml" + space for space in (b" ", b"\t", b"\r", b"\n"))


def _may_hold_pi_or_depth(data: bytes) -> bool:
    """False only when ``data`` (what libxml2 parsed) cannot hold a processing instruction
    or an element nested deeper than MAX_DEPTH, so the tree need not be searched for them:
    fewer '<' than such nesting needs, and no '<?' but the XML declaration at the start
    (a PI can be written no other way; a '<?' in a comment or CDATA only costs the search).
    The usual request (1 KiB, ~20 elements) skips a search that costs ~5 % of its parse."""
    if data.count(b"<") >= _LT_FOR_TOO_DEEP:
        return True
    first = data.find(b"<?")
    if first == -1:
        return False
    if first != 0 or not data.startswith(_XML_DECLARATION_START):
        return True
    return data.find(b"<?", 2) != -1


def xml_parser(recover: bool) -> etree.XMLParser:
    """This thread's hardened lxml parser (strict, or recovering for header salvage)."""
    attr = "recover" if recover else "strict"
    parser = getattr(_local, attr, None)
    if parser is None:
        parser = etree.XMLParser(recover=recover, **_PARSER_OPTIONS)
        parser.resolvers.add(_DenyAll())
        setattr(_local, attr, parser)
    return parser


def parse_document(
    body: bytes,
    *,
    max_bytes: int = MAX_REQUEST_BYTES,
    max_elements: int | None = None,
    recover: bool = False,
) -> etree._Element:
    """Parse ``body`` into its root element, refusing anything dangerous.

    ``max_elements``: requests pass :data:`MAX_ELEMENTS`; documents read from servers (long
    statements) have only the size limit.
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
    data = decode_document(data)
    try:
        root = etree.fromstring(data, xml_parser(recover))
    except etree.XMLSyntaxError as exc:
        line, column = exc.position
        raise XmlRejected(
            f"not well-formed XML (line {line}, column {column})", salvageable=True
        ) from None
    except ExternalResourceRefused:
        raise XmlRejected(_REFUSED_DTD) from None
    if root is None:
        raise XmlRejected("no document element")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise XmlRejected(_REFUSED_DTD)
    # '//' also covers PIs before/after the document element
    if _may_hold_pi_or_depth(data) and _PI_OR_TOO_DEEP(root):
        if _ANY_PI(root):
            raise XmlRejected("processing instructions are not accepted")
        raise XmlRejected(f"elements nested deeper than {MAX_DEPTH} levels are not accepted")
    # An element takes at least 4 bytes (<a/>): smaller documents need no count.
    if (
        max_elements is not None
        and len(data) > 4 * max_elements
        and _ELEMENT_COUNT(root) > max_elements
    ):
        raise XmlRejected(f"more than {max_elements} elements are not accepted")
    return root
