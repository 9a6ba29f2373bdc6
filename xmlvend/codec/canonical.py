"""A prefix-independent canonical form of XML content.

Two elements have the same :func:`canonical_content` when they carry the same information:
same child elements (by namespace URI and local name) in the same order, the same attributes
whatever their order, ``xsi:type`` values compared as resolved QNames (``b:X`` under one
prefix equals ``q1:X`` under another), and text compared with surrounding whitespace
stripped. Namespace declarations and prefixes do not matter.

Used to check that an embedded original response (lastResponse, reprint) is the original
content unchanged, and available to callers comparing stored messages.
"""

from __future__ import annotations

from lxml import etree

from xmlvend.codec.binding import XSI_TYPE, resolve_qname

Canonical = tuple[object, ...]


def canonical_element(el: etree._Element) -> Canonical:
    """The element itself: its tag plus :func:`canonical_content`."""
    return (el.tag, *canonical_content(el))


def canonical_content(el: etree._Element, *, ignore_xsi_type: bool = False) -> Canonical:
    """Attributes, text and children of ``el`` (not its own tag)."""
    attrs = []
    for name, value in el.attrib.items():
        if name == XSI_TYPE:
            if ignore_xsi_type:
                continue
            uri, local = resolve_qname(el, value)
            attrs.append((name, f"{{{uri}}}{local}"))
        else:
            attrs.append((name, value))
    attrs.sort()
    children = tuple(canonical_element(child) for child in el if isinstance(child.tag, str))
    return (tuple(attrs), (el.text or "").strip(), children)
