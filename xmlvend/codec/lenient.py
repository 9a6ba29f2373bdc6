"""Lenient input: a normalisation pass plus a relaxed copy of the strict schema.

Deployed clients do not all follow the schema (reference §3.2, last paragraph; §9.3). We
accept exactly these deviations and nothing else:

Relaxed in the lenient schema (derived at first use from ``wsdl/*.xsd``, see
:func:`lenient_schema`):

1. ``b:MsgIDDateTime``: 14, 15 or 17 digits (Hexing clients send 15, the Eskom mock 17;
   §3.2). The raw string is kept: it is part of the idempotency key.
2. ``b:MsgIDUniqueNumber``: up to 12 digits instead of 6 (JEDCO sends 7; §3.2, §5.1).
3. ``b:EAN``: any 1..40 non-blank characters (Conlog's ``ean="VUPSB"``, §3.1/§3.2).

Repaired by the normalisation pass before validation (:func:`normalise`):

4. Missing ``b:resource`` in a BaseVendReq-derived request: ``b:Electricity`` is inserted
   (ENDE's trialCreditVendReq, §3.2; §9.3).
5. Missing ``xsi:type`` on an element whose declared type is abstract, where only one
   concrete subtype fits its attributes and children (§9.2, §9.3; :func:`infer_type`):
   ``clientID``/``terminalID`` with ``@ean`` -> EANDeviceID, with ``@id`` ->
   GenericDeviceID; ``meterIdentifier`` with ``@msno`` -> MeterNumber (``meterType`` child
   and STS attributes -> MeterDetail, plus ``@track2Data`` -> ExtMeterDetail,
   ``@productCode`` -> ext:ProductIdentifier); ``purchaseValue`` with ``amt`` ->
   PurchaseValueCurrency, with ``units`` -> PurchaseValueUnits; ``payType`` with
   ``tenderAmt`` -> Cash; ``idMethod`` with ``meterIdentifier`` -> VendIDMethod, with
   ``custIdentifier`` -> CustIDMethod; ``token`` with ``stsCipher`` -> STS1Token. A
   ``resource`` without a type is Electricity. Ambiguous cases (a card payType, an
   adviceReq) stay unresolved and are rejected.
6. Unknown trailing elements are dropped and never reach the typed object (issue 10 §6):

   a. after the standard content of the request element itself, every element the
      request's type does not define, in any namespace -- a vendor namespace, no namespace,
      or an XMLVend namespace (``b:serverID`` after a payAccReq's ``r:payAccount``, an
      undefined ``b:vendingServerID``). Only the run of such elements at the very end goes:
      an unknown element followed by a standard one is *inside* the standard content and
      stays refused, and so does a standard element repeated at the end;
   b. below the request element, elements in a namespace that is not one of the XMLVend /
      extension namespaces, after the last XMLVend child of their parent (Conlog/Eskom
      extensions, §2.9).

   :func:`normalise` returns the Clark names of what it dropped, for the debug log.
7. An empty ``b:newPassword`` is dropped (§9.3).

Already accepted by the strict schema, so nothing to relax (kept raw for the server):
non-ISO currency symbols of 1..3 characters (``R``, ``AZM``; CurrencySymbol is
``(\\S){1,3}``), ``units siUnit`` case variants (``KWH``/``KWh``/``kWh``; ResourceSIUnit is
``(\\S){1,4}``), a VAT rate written as a fraction (``0.1500``; Percentage is 0..100).

Everything else is still rejected: a child in the wrong namespace (including unqualified),
missing required fields, wrong order, malformed numbers, unknown ``xsi:type``.
"""

from __future__ import annotations

import functools
import re
import threading

from lxml import etree

from xmlvend.codec import types_base as b
from xmlvend.codec.binding import (
    XSI_TYPE,
    BindingError,
    all_types,
    is_abstract,
    resolve_qname,
    short_name,
    spec_of,
    type_qname,
)
from xmlvend.codec.namespaces import BASE, EXT, METER, REVENUE, XSD
from xmlvend.codec.schema import compile_schema, schema_files

_XMLVEND_NAMESPACES = frozenset({BASE, REVENUE, METER, EXT})

# --------------------------------------------------------------------------------------------
# The relaxed schema


_RELAXED_SIMPLE_TYPES: dict[str, str] = {
    # name -> replacement xs:restriction (the xs prefix is bound to XSD)
    "MsgIDDateTime": (
        '<xs:restriction base="xs:string">'
        '<xs:pattern value="(\\d){14}|(\\d){15}|(\\d){17}"/></xs:restriction>'
    ),
    "MsgIDUniqueNumber": (
        '<xs:restriction base="xs:positiveInteger"><xs:totalDigits value="12"/></xs:restriction>'
    ),
    "EAN": '<xs:restriction base="xs:string"><xs:pattern value="(\\S){1,40}"/></xs:restriction>',
}


def relaxed_schema_files() -> dict[str, bytes]:
    """The strict schema files with the simple types of :data:`_RELAXED_SIMPLE_TYPES` replaced.

    Raises RuntimeError if the strict schema no longer defines one of them (so a schema
    change cannot silently turn a relaxation off).
    """
    files = schema_files()
    root = etree.fromstring(files["base.xsd"])
    xs = f"{{{XSD}}}"
    for name, restriction in _RELAXED_SIMPLE_TYPES.items():
        simple = root.find(f"{xs}simpleType[@name='{name}']")
        if simple is None:
            raise RuntimeError(f"base.xsd no longer defines simpleType {name}")
        for old in simple.findall(f"{xs}restriction"):
            simple.remove(old)
        wrapper = etree.fromstring(f'<w xmlns:xs="{XSD}">{restriction}</w>')
        simple.append(wrapper[0])
    files["base.xsd"] = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return files


_local = threading.local()


def lenient_schema() -> etree.XMLSchema:
    """The input validator (one per thread: lxml validators keep error state)."""
    schema = getattr(_local, "schema", None)
    if schema is None:
        schema = compile_schema(relaxed_schema_files())
        _local.schema = schema
    return schema


_CLARK = re.compile(r"\{([^}]*)\}([\w.-]+)")


def _readable(message: str) -> str:
    return _CLARK.sub(lambda m: short_name(f"{{{m.group(1)}}}{m.group(2)}"), message)


def validation_error(payload: etree._Element) -> str | None:
    """None if ``payload`` is valid under the lenient schema, else a human message naming the
    element and the problem (libxml2's first error, with prefixes instead of URIs)."""
    schema = lenient_schema()
    if schema.validate(payload):
        return None
    errors = [e for e in schema.error_log if e.message]
    if not errors:
        return "the request does not conform to the XMLVend schema"
    first = errors[0]
    return f"line {first.line}: {_readable(first.message)}"


# --------------------------------------------------------------------------------------------
# The normalisation pass
#
# It walks the tree together with the binding specs, so it knows the declared type of every
# element it visits and only touches what the schema would otherwise refuse.

_B = f"{{{BASE}}}"

# Where several concrete types fit, the one a missing xsi:type means (reference §9.3:
# missing resource = Electricity). SystemEx only ever applies to foreign servers' faults.
_PREFERRED: dict[type, type] = {b.Resource: b.Electricity, b.Fault: b.SystemEx}


def normalise(
    payload: etree._Element,
    declared: type | None,
    *,
    vend_request: bool,
    request: bool = False,
) -> list[str]:
    """Apply the repairs 4-7 in place (5-7 also suit answers of foreign servers); return the
    Clark names of the elements dropped (6), in document order.

    ``declared``: the declared type of ``payload`` (None if unknown: then no xsi:type is
    inferred). ``vend_request``: the request type derives from b:BaseVendReq, so it must
    carry a ``b:resource``. ``request``: ``payload`` is a request element, whose unknown
    trailing elements of any namespace are dropped (6a).
    """
    abstract_tags, known_tags = _tag_sets()
    untyped = payload.get(XSI_TYPE) is None and declared is not None and is_abstract(declared)
    vendor: list[etree._Element] = []
    password = None
    # One pass over the tree finds everything to repair; most requests need nothing.
    for el in payload.iter():
        tag = el.tag
        if tag in known_tags:
            if tag in abstract_tags and el.get(XSI_TYPE) is None:
                untyped = True
            elif tag == _NEW_PASSWORD:
                password = el
        elif isinstance(tag, str) and _is_vendor_element(tag):
            vendor.append(el)
    dropped: list[str] = []
    if request and declared is not None:
        dropped.extend(_drop_unknown_tail(payload, declared))  # 6a.
    for el in vendor:  # 6b.
        # Not inside something dropped already (6a, or a vendor element above it).
        if _only_vendor_after(el) and any(a is payload for a in el.iterancestors()):
            parent = el.getparent()
            if parent is not None:
                parent.remove(el)
                dropped.append(el.tag)
    if password is not None and not (password.text or "").strip() and not len(password):
        parent = password.getparent()
        if parent is not None:
            parent.remove(password)  # 7.
    if untyped and declared is not None:
        _walk(payload, declared)  # 5.
    if vend_request:
        _insert_default_resource(payload)  # 4.
    return dropped


def _drop_unknown_tail(payload: etree._Element, declared: type) -> list[str]:
    """Remove the elements at the end of ``payload`` that its type does not define (6a)."""
    if not len(payload):
        return []
    known = _child_tags(payload, declared)
    if payload[-1].tag in known:
        return []  # the usual request: nothing after the standard content
    tail = []
    for child in reversed(payload):
        tag = child.tag
        if not isinstance(tag, str):
            continue
        if tag in known:
            break
        tail.append(child)
    for child in tail:
        payload.remove(child)
    return [child.tag for child in reversed(tail)]


def _child_tags(el: etree._Element, declared: type) -> frozenset[str]:
    """The child elements the type of ``el`` defines: that of its xsi:type when it names a
    subtype of ``declared``, else of ``declared`` -- for an abstract one, of any of its
    concrete subtypes (an adviceReq without xsi:type)."""
    xsi_type = el.get(XSI_TYPE)
    if xsi_type is None:
        return _defined_children(declared)
    try:
        uri, local = resolve_qname(el, xsi_type)
    except BindingError:
        uri, local = None, ""
    cls = spec_of(declared).subtypes.get((uri, local)) if uri is not None else None
    return _defined_children(declared if cls is None else cls)


@functools.cache
def _defined_children(cls: type) -> frozenset[str]:
    spec = spec_of(cls)
    if not spec.abstract:
        return frozenset(spec.by_tag)
    tags: set[str] = set()
    for sub in spec.subtypes.values():
        tags.update(spec_of(sub).by_tag)
    return frozenset(tags)


_NEW_PASSWORD = f"{_B}newPassword"


def _only_vendor_after(el: etree._Element) -> bool:
    sibling = el.getnext()
    while sibling is not None:
        if isinstance(sibling.tag, str) and not _is_vendor_element(sibling.tag):
            return False
        sibling = sibling.getnext()
    return True


@functools.cache
def _tag_sets() -> tuple[frozenset[str], frozenset[str]]:
    """(tags whose declared type is abstract somewhere, every element tag of the model)."""
    abstract, known = set(), set()
    for cls in all_types().values():
        for _, fs in spec_of(cls).by_tag.values():
            known.add(fs.clark)
            if not fs.simple and is_abstract(fs.cls):
                abstract.add(fs.clark)
    return frozenset(abstract), frozenset(known)


def _walk(el: etree._Element, declared: type | None) -> None:
    cls = declared
    if declared is not None:
        spec = spec_of(declared)
        xsi_type = el.get(XSI_TYPE)
        if xsi_type is None:
            if spec.abstract:
                cls = infer_type(el, declared)
                if cls is not None:
                    el = set_xsi_type(el, *type_qname(cls))
        else:
            try:
                uri, local = resolve_qname(el, xsi_type)
            except BindingError:
                uri, local = None, ""
            cls = spec.subtypes.get((uri, local)) if uri is not None else None
    by_tag = spec_of(cls).by_tag if cls is not None else {}
    for child in el:
        pair = by_tag.get(child.tag)
        if pair is not None and not pair[1].simple:
            _walk(child, pair[1].cls)


def infer_type(el: etree._Element, declared: type) -> type | None:
    """The concrete subtype of ``declared`` that ``el`` can be, if only one fits its
    attributes and children (or the preferred one of :data:`_PREFERRED`); else None.

    E.g. clientID with ``@ean`` -> EANDeviceID, meterIdentifier with only ``@msno`` ->
    MeterNumber, purchaseValue with ``r:amt`` -> PurchaseValueCurrency, payType with
    ``b:tenderAmt`` -> Cash. A payType with ``b:cardAmt`` stays unresolved (CreditCard or
    DebitCard), and so does an adviceReq without xsi:type (three advices look alike).
    """
    spec = spec_of(declared)
    candidates = [cls for cls in spec.subtypes.values() if not is_abstract(cls) and _fits(cls, el)]
    if len(candidates) == 1:
        return candidates[0]
    preferred = _PREFERRED.get(declared)
    return preferred if preferred in candidates else None


def _fits(cls: type, el: etree._Element) -> bool:
    spec = spec_of(cls)
    names = {a.name for a in spec.attributes}
    for name in el.attrib:
        if name not in names and not name.startswith("{"):
            return False
    if any(a.min_occurs and el.get(a.name) is None for a in spec.attributes):
        return False
    present = set()
    for child in el:
        tag = child.tag
        if not isinstance(tag, str) or _is_vendor_element(tag):
            continue
        if tag not in spec.by_tag:
            return False
        present.add(tag)
    for fs in spec.sequence:
        inner = fs.group_spec.elements if fs.group_spec is not None else [fs]
        if any(f.min_occurs and f.clark not in present for f in inner):
            return False
    return True


def _namespace(tag: str) -> str:
    return tag[1:].partition("}")[0] if tag.startswith("{") else ""


def _is_vendor_element(tag: str) -> bool:
    ns = _namespace(tag)
    return bool(ns) and ns not in _XMLVEND_NAMESPACES


def _prefix_for(el: etree._Element, ns: str) -> str | None:
    """A QName prefix for ``ns`` in scope at ``el`` ('' = the default namespace)."""
    nsmap = el.nsmap
    if nsmap.get(None) == ns:
        return ""
    for prefix, uri in nsmap.items():
        if uri == ns and prefix is not None:
            return prefix
    return None


def set_xsi_type(el: etree._Element, ns: str, local: str) -> etree._Element:
    """Set ``xsi:type`` to ``{ns}local`` using a prefix in scope at ``el``.

    If no prefix is bound to ``ns`` there, ``el`` is replaced by a copy that declares one
    (lxml cannot add a declaration to an existing element); the element now in the tree is
    returned. Moving the children makes lxml drop their declarations that the new one makes
    redundant, so QName values below (xsi:type) are re-written against what is in scope.
    """
    prefix = _prefix_for(el, ns)
    if prefix is not None:
        el.set(XSI_TYPE, f"{prefix}:{local}" if prefix else local)
        return el
    typed_below = []
    for descendant in el.iterdescendants():
        value = descendant.get(XSI_TYPE)
        if value is not None:
            try:
                typed_below.append((descendant, resolve_qname(descendant, value)))
            except BindingError:
                continue  # the validator will report it
    replacement = etree.Element(el.tag, dict(el.attrib), nsmap={"xvt": ns})
    replacement.text, replacement.tail = el.text, el.tail
    replacement.extend(list(el))
    replacement.set(XSI_TYPE, f"xvt:{local}")
    parent = el.getparent()
    if parent is not None:
        parent.replace(el, replacement)
    for descendant, (uri, name) in typed_below:
        if uri is None:
            continue
        new_prefix = _prefix_for(descendant, uri)
        if new_prefix is not None:
            descendant.set(XSI_TYPE, f"{new_prefix}:{name}" if new_prefix else name)
    return replacement


_RESOURCE = f"{_B}resource"
_ID_METHOD = f"{_B}idMethod"


def _insert_default_resource(payload: etree._Element) -> None:
    id_method = None
    for child in payload:
        tag = child.tag
        if tag == _RESOURCE:
            return
        if tag == _ID_METHOD and id_method is None:
            id_method = child
    if id_method is None:
        return  # leave the error to the validator
    resource = etree.Element(_RESOURCE)
    id_method.addprevious(resource)
    # Only now, in the tree: lxml drops declarations made redundant by the move, so the
    # prefix for xsi:type must be looked up where the element ends up.
    set_xsi_type(resource, BASE, "Electricity")
