"""Mutations of real request documents: structure-aware (on the lxml tree: elements dropped,
duplicated, reordered or spliced in from another request, values of the wrong type or huge,
``xsi:type`` and namespaces changed) and byte-level (flips, truncation, re-encoding in
UTF-16/32 with and without BOM, a declared encoding that lies, a DOCTYPE with internal
entities, comments and CDATA in odd places).

Every mutator takes the document bytes and a ``random.Random`` and returns new bytes; a
mutator that does not apply to a document returns it unchanged. :func:`mutate` applies one
to three of them.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from lxml import etree

from xmlvend.codec.namespaces import BASE, EXT, METER, REVENUE

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
OTHER_NAMESPACES = (
    BASE,
    REVENUE,
    METER,
    EXT,
    SOAP11,
    SOAP12,
    "http://www.nrs.eskom.co.za/xmlvend/base/2.0/schema",
    "urn:example:vendor-specific",
    "",
)
XSI_TYPES = (
    "b:MeterNumber",
    "b:EANDeviceID",
    "b:GenericDeviceID",
    "b:Electricity",
    "b:Water",
    "b:Gas",
    "r:PurchaseValueCurrency",
    "r:PurchaseValueUnits",
    "ext:Voucher",
    "ext:ProductIdentifier",
    "b:LastRespAdviceReq",
    "b:ReversalAdviceReq",
    "b:ConfirmationAdviceReq",
    "r:StartShiftBatchReq",
    "m:PwrLmtReq",
    "b:Nothing",
    "nope:Nothing",
    "Electricity",
    "",
    "b:",
    ":x",
)
WRONG_VALUES = (
    "",
    " ",
    "-1",
    "-0.01",
    "0",
    "0.001",
    "1e3",
    "1E+309",
    "NaN",
    "-Infinity",
    "12,50",
    "R100",
    "100.00.00",
    "٣٠",
    "\uff11\uff10",  # full-width digits
    "true",
    "00000000000000",
    "20261301250000",
    "99999999999999999999",
    "0x1F",
    "ZAR",
    "\u202e\u202d",
    "😀😀",
    "a\u00a0b",
    "&lt;&gt;",
    "]]>",
)
HUGE = ("9" * 100, "9" * 4000, "x" * 70_000, "1" + "0" * 400 + ".5", "é" * 20_000)
ENCODINGS = ("utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be", "latin-1")


def _tree(document: bytes) -> etree._Element | None:
    try:
        return etree.fromstring(document, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return None


def _bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _elements(root: etree._Element) -> list[etree._Element]:
    return [el for el in root.iter() if isinstance(el.tag, str)]


def _on_tree(change: Callable[[etree._Element, random.Random], bool]) -> Callable:
    def mutator(document: bytes, rng: random.Random) -> bytes:
        root = _tree(document)
        if root is None or not change(root, rng):
            return document
        return _bytes(root)

    mutator.__name__ = change.__name__
    return mutator


# --- structure -----------------------------------------------------------------------------


@_on_tree
def drop_element(root: etree._Element, rng: random.Random) -> bool:
    candidates = [el for el in _elements(root) if el.getparent() is not None]
    if not candidates:
        return False
    victim = rng.choice(candidates)
    victim.getparent().remove(victim)
    return True


@_on_tree
def duplicate_element(root: etree._Element, rng: random.Random) -> bool:
    from copy import deepcopy

    candidates = [el for el in _elements(root) if el.getparent() is not None]
    if not candidates:
        return False
    chosen = rng.choice(candidates)
    for _ in range(rng.choice((1, 1, 2, 50))):
        chosen.addnext(deepcopy(chosen))
    return True


@_on_tree
def reorder_children(root: etree._Element, rng: random.Random) -> bool:
    parents = [el for el in _elements(root) if len(el) > 1]
    if not parents:
        return False
    parent = rng.choice(parents)
    children = list(parent)
    rng.shuffle(children)
    for child in children:
        parent.append(child)
    return True


@_on_tree
def move_element(root: etree._Element, rng: random.Random) -> bool:
    """An element moved under another parent (wrong nesting)."""
    elements = [el for el in _elements(root) if el.getparent() is not None]
    if len(elements) < 2:
        return False
    moved = rng.choice(elements)
    targets = [el for el in _elements(root) if el is not moved and moved not in el.iterancestors()]
    targets = [el for el in targets if not any(a is moved for a in el.iterancestors())]
    if not targets:
        return False
    rng.choice(targets).append(moved)
    return True


@_on_tree
def wrong_value(root: etree._Element, rng: random.Random) -> bool:
    """A text or attribute value replaced by one of the wrong type or a huge one."""
    elements = _elements(root)
    value = rng.choice(HUGE) if rng.random() < 0.15 else rng.choice(WRONG_VALUES)
    with_attributes = [el for el in elements if el.attrib]
    if with_attributes and rng.random() < 0.7:
        element = rng.choice(with_attributes)
        element.set(rng.choice(list(element.attrib)), value)
    else:
        leaves = [el for el in elements if len(el) == 0] or elements
        rng.choice(leaves).text = value
    return True


@_on_tree
def drop_attribute(root: etree._Element, rng: random.Random) -> bool:
    with_attributes = [el for el in _elements(root) if el.attrib]
    if not with_attributes:
        return False
    element = rng.choice(with_attributes)
    del element.attrib[rng.choice(list(element.attrib))]
    return True


@_on_tree
def add_attribute(root: etree._Element, rng: random.Random) -> bool:
    element = rng.choice(_elements(root))
    name = rng.choice(("value", "symbol", "msno", "ean", "id", f"{{{XSI}}}nil", "{urn:x}odd"))
    element.set(name, rng.choice((*WRONG_VALUES, "true")))
    return True


@_on_tree
def change_xsi_type(root: etree._Element, rng: random.Random) -> bool:
    typed = [el for el in _elements(root) if el.get(f"{{{XSI}}}type") is not None]
    element = rng.choice(typed) if typed and rng.random() < 0.8 else rng.choice(_elements(root))
    element.set(f"{{{XSI}}}type", rng.choice(XSI_TYPES))
    return True


@_on_tree
def change_namespace(root: etree._Element, rng: random.Random) -> bool:
    """One element (or a whole subtree) moved to another namespace."""
    element = rng.choice(_elements(root))
    namespace = rng.choice(OTHER_NAMESPACES)
    targets = list(element.iter()) if rng.random() < 0.5 else [element]
    for target in targets:
        if isinstance(target.tag, str):
            local = etree.QName(target).localname
            target.tag = f"{{{namespace}}}{local}" if namespace else local
    return True


@_on_tree
def rename_element(root: etree._Element, rng: random.Random) -> bool:
    element = rng.choice(_elements(root))
    namespace = etree.QName(element).namespace
    local = rng.choice(("", "x", etree.QName(element).localname.upper(), "creditVendReq", "Body"))
    if not local:
        local = "a" * rng.choice((1, 300))
    element.tag = f"{{{namespace}}}{local}" if namespace else local
    return True


@_on_tree
def add_unknown_element(root: etree._Element, rng: random.Random) -> bool:
    """A vendor-specific element the schema does not define, anywhere."""
    element = rng.choice(_elements(root))
    namespace = rng.choice(OTHER_NAMESPACES)
    extra = etree.Element(f"{{{namespace}}}serverID" if namespace else "serverID")
    extra.text = rng.choice(WRONG_VALUES)
    if rng.random() < 0.5 or len(element) == 0:
        element.append(extra)
    else:
        element.insert(rng.randrange(len(element)), extra)
    return True


def _splice(document: bytes, rng: random.Random, donors: list[bytes]) -> bytes:
    """An element of another request inserted into this one."""
    root, donor = _tree(document), _tree(rng.choice(donors)) if donors else None
    if root is None or donor is None:
        return document
    from copy import deepcopy

    graft = deepcopy(rng.choice(_elements(donor)))
    target = rng.choice(_elements(root))
    target.insert(rng.randrange(len(target) + 1), graft)
    return _bytes(root)


@_on_tree
def deep_nesting(root: etree._Element, rng: random.Random) -> bool:
    element = rng.choice(_elements(root))
    depth = rng.choice((50, 500, 5000))
    for _ in range(depth):
        element = etree.SubElement(element, f"{{{BASE}}}n")
    return True


@_on_tree
def soap_12(root: etree._Element, rng: random.Random) -> bool:
    """The envelope (and Body) in the SOAP 1.2 namespace, or with a SOAP Header."""
    if rng.random() < 0.5:
        for element in _elements(root)[:2]:
            if etree.QName(element).namespace in (SOAP11, SOAP12):
                element.tag = f"{{{SOAP12}}}{etree.QName(element).localname}"
    else:
        header = etree.Element(f"{{{etree.QName(root).namespace}}}Header")
        etree.SubElement(header, "{urn:x}token").text = "t"
        root.insert(0, header)
    return True


# --- bytes ---------------------------------------------------------------------------------


def flip_bytes(document: bytes, rng: random.Random) -> bytes:
    data = bytearray(document)
    for _ in range(rng.choice((1, 1, 2, 4, 16))):
        if data:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return bytes(data)


def interesting_bytes(document: bytes, rng: random.Random) -> bytes:
    data = bytearray(document)
    at = rng.randrange(len(data) + 1)
    piece = rng.choice(
        (b"\x00", b"\xff", b"\xc3", b"\xed\xa0\x80", b"<", b">", b"&", b"]]>", b"<![CDATA[x]]>",
         b"<!-- c -->", b"<?pi x?>", b"\r\n", b"\xef\xbb\xbf", b"&#0;", b"&#x1F600;", b"&unknown;",
         b'"', b"'", b"\t" * 1000)
    )  # fmt: skip
    data[at:at] = piece
    return bytes(data)


def truncate(document: bytes, rng: random.Random) -> bytes:
    return document[: rng.randrange(len(document) + 1)]


def duplicate_chunk(document: bytes, rng: random.Random) -> bytes:
    if not document:
        return document
    start = rng.randrange(len(document))
    end = min(len(document), start + rng.randrange(1, 200))
    return document[:end] + document[start:end] * rng.choice((1, 2, 10)) + document[end:]


def reencode(document: bytes, rng: random.Random) -> bytes:
    """The same document in another encoding: with or without BOM, with a declaration that
    tells the truth, lies or is missing."""
    try:
        text = document.decode("utf-8")
    except UnicodeDecodeError:
        return document
    if text.startswith("<?xml"):
        text = text[text.find("?>") + 2 :].lstrip()
    encoding = rng.choice(ENCODINGS)
    declared = rng.choice((encoding, "UTF-8", "UTF-16", "ISO-8859-1", "EBCDIC-US", "x-bogus", None))
    if declared is not None:
        text = f'<?xml version="1.0" encoding="{declared}"?>' + text
    try:
        return text.encode(encoding)
    except UnicodeEncodeError:
        return text.encode(encoding, errors="replace")


def internal_doctype(document: bytes, rng: random.Random) -> bytes:
    """A DOCTYPE with internal entities only (never a file or URL: the fuzzer must not
    depend on what the parser would open)."""
    doctype = rng.choice(
        (b"<!DOCTYPE Envelope>", b'<!DOCTYPE x [<!ENTITY a "b">]>',
         b'<!DOCTYPE x [<!ENTITY a "&#38;#60;">]>',
         b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>')
    )  # fmt: skip
    head, sep, rest = document.partition(b"?>")
    if sep and head.startswith(b"<?xml"):
        return head + sep + doctype + rest
    return doctype + document


def odd_whitespace(document: bytes, rng: random.Random) -> bytes:
    return document.replace(b"><", rng.choice((b">\n  <", b"> <", b">\t<", b">\r\n<")), -1)


TREE_MUTATORS: tuple[Callable[[bytes, random.Random], bytes], ...] = (
    drop_element,
    duplicate_element,
    reorder_children,
    move_element,
    wrong_value,
    wrong_value,
    wrong_value,
    drop_attribute,
    add_attribute,
    change_xsi_type,
    change_namespace,
    rename_element,
    add_unknown_element,
    deep_nesting,
    soap_12,
)
BYTE_MUTATORS: tuple[Callable[[bytes, random.Random], bytes], ...] = (
    flip_bytes,
    interesting_bytes,
    truncate,
    duplicate_chunk,
    reencode,
    internal_doctype,
    odd_whitespace,
)


def mutate(document: bytes, rng: random.Random, donors: list[bytes]) -> tuple[bytes, str]:
    """One to three mutations of ``document``; (the result, the mutators' names)."""
    names = []
    for _ in range(rng.choice((1, 1, 2, 3))):
        roll = rng.random()
        if roll < 0.1:
            document = _splice(document, rng, donors)
            names.append("splice")
        elif roll < 0.75:
            mutator = rng.choice(TREE_MUTATORS)
            document = mutator(document, rng)
            names.append(mutator.__name__)
        else:
            mutator = rng.choice(BYTE_MUTATORS)
            document = mutator(document, rng)
            names.append(mutator.__name__)
    return document, "+".join(names)
