"""Generic XML <-> frozen dataclass binding, driven by per-class specs.

Every XMLVend complexType is declared once, as a frozen dataclass decorated with
:func:`xml_type`; its fields say where they live in XML with :func:`attribute`,
:func:`element`, :func:`text` or :func:`group`. Dataclass inheritance mirrors XSD
``complexContent/extension``: base fields come first, which is also the XSD sequence order.

``xsi:type`` polymorphism: the registry maps ``(namespace, type name)`` to the class and back.
On input an element's ``xsi:type`` QName is resolved against the in-scope namespaces of that
element (any prefix bound to the XSI namespace, default-namespace or prefixed forms). On output
``xsi:type`` is written whenever the declared type of the element is abstract or differs from
the class of the value, always with the codec's fixed prefixes (:data:`PREFIXES`).

Specs are computed lazily on first use (classes may refer to classes defined later by name) and
cached; parsing then costs one dict lookup per child element.

Two renderers share the specs: :func:`to_xml` builds lxml elements (used where a document
is assembled around stored content: faults, lastResponse, reprint) and
:func:`xmlvend.codec.plans.render_element` writes markup directly with a function compiled
per class (the hot path for responses and requests, several times faster); tests check
that they agree.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from lxml import etree

from xmlvend.codec.namespaces import BASE, EXT, METER, REVENUE, XSI

XSI_TYPE = f"{{{XSI}}}type"
XSI_NIL = f"{{{XSI}}}nil"

# The prefixes the codec writes. Input may use any prefixes.
PREFIXES: dict[str, str] = {"b": BASE, "r": REVENUE, "m": METER, "ext": EXT}
_PREFIX_OF: dict[str, str] = {uri: prefix for prefix, uri in PREFIXES.items()}

T = TypeVar("T")


class BindingError(ValueError):
    """XML content that cannot be bound to (or rendered from) the typed model.

    ``path`` names the element (Clark notation, outermost first) where the problem is.
    """

    def __init__(self, message: str, path: tuple[str, ...] = ()) -> None:
        self.message = message
        self.path = path
        super().__init__(f"{_short_path(path)}: {message}" if path else message)

    def within(self, tag: str) -> BindingError:
        return BindingError(self.message, (tag, *self.path))


def _short_path(path: tuple[str, ...]) -> str:
    return "/".join(short_name(tag) for tag in path)


def local_name(tag: str) -> str:
    """The local part of a Clark name. Unlike ``etree.QName`` it never raises: a recovering
    parse of a broken document can leave tags such as ``b:passw:rd`` (unbound prefix)."""
    return tag.rpartition("}")[2]


def short_name(clark: str) -> str:
    """``{ns}local`` -> ``prefix:local`` with the codec prefixes (for human messages)."""
    if clark.startswith("{"):
        uri, _, local = clark[1:].partition("}")
        prefix = _PREFIX_OF.get(uri)
        return f"{prefix}:{local}" if prefix else clark
    return clark


class Kind(enum.Enum):
    ATTRIBUTE = "attribute"
    ELEMENT = "element"
    TEXT = "text"
    GROUP = "group"


# Simple value types a field may carry. Everything else must be a bound class.
SIMPLE_TYPES = (str, Decimal, bool, int)


@dataclasses.dataclass(frozen=True, slots=True)
class XmlField:
    """Binding metadata of one dataclass field (stored in ``field.metadata['xml']``)."""

    kind: Kind
    name: str  # XML local name ('' for text and group)
    namespace: str | None  # element namespace; None for attributes and text
    type_ref: Any  # python simple type, a bound class, or the class name (forward reference)
    min_occurs: int
    max_occurs: int | None  # None = unbounded


_XML = "xml"


def attribute(name: str, type_: Any = str, *, optional: bool = False, default: Any = None) -> Any:
    """An unqualified attribute (attributeFormDefault="unqualified")."""
    meta = XmlField(Kind.ATTRIBUTE, name, None, type_, 0 if optional else 1, 1)
    if optional:
        return dataclasses.field(default=default, metadata={_XML: meta})
    return dataclasses.field(metadata={_XML: meta})


def element(
    namespace: str,
    name: str,
    type_: Any = str,
    *,
    optional: bool = False,
    many: bool = False,
    min_occurs: int | None = None,
    max_occurs: int | None = None,
) -> Any:
    """A child element (qualified with the namespace of the schema that declares it).

    ``optional`` -> minOccurs 0 (default ``None``); ``many`` -> a tuple (default ``()``),
    with ``min_occurs`` 0 unless given.
    """
    if many:
        meta = XmlField(
            Kind.ELEMENT,
            name,
            namespace,
            type_,
            0 if min_occurs is None else min_occurs,
            max_occurs,
        )
        if meta.min_occurs == 0:
            return dataclasses.field(default=(), metadata={_XML: meta})
        return dataclasses.field(metadata={_XML: meta})
    meta = XmlField(Kind.ELEMENT, name, namespace, type_, 0 if optional else 1, 1)
    if optional:
        return dataclasses.field(default=None, metadata={_XML: meta})
    return dataclasses.field(metadata={_XML: meta})


def text(type_: Any = str) -> Any:
    """The element's own text content (simpleContent)."""
    return dataclasses.field(metadata={_XML: XmlField(Kind.TEXT, "", None, type_, 1, 1)})


def group(type_: Any) -> Any:
    """An inline group: the fields of ``type_`` (an :func:`xml_group`) appear directly in the
    parent's sequence at this position, e.g. the BaseReq header of every request."""
    return dataclasses.field(metadata={_XML: XmlField(Kind.GROUP, "", None, type_, 1, 1)})


# --------------------------------------------------------------------------------------------
# Registry


@dataclasses.dataclass(slots=True)
class FieldSpec:
    pyname: str
    kind: Kind
    name: str
    clark: str  # '{ns}local' for elements, local name for attributes
    cls: type  # resolved python type
    simple: bool
    min_occurs: int
    max_occurs: int | None
    many: bool
    qtag: str | None = None  # 'prefix:local' with the codec prefixes (text renderer)
    group_spec: ClassSpec | None = None


@dataclasses.dataclass(slots=True)
class ClassSpec:
    cls: type
    qname: tuple[str, str] | None  # None for groups
    abstract: bool
    attributes: list[FieldSpec]
    elements: list[FieldSpec]  # in sequence order; group fields are expanded separately
    sequence: list[FieldSpec]  # elements and groups, in order (for rendering)
    text: FieldSpec | None
    by_tag: dict[str, tuple[FieldSpec | None, FieldSpec]]  # clark -> (group field, field)
    by_local: dict[str, tuple[FieldSpec | None, FieldSpec]]  # lenient: local name only
    subtypes: dict[tuple[str, str], type]  # concrete and abstract descendants incl. self
    subtypes_by_local: dict[str, type]
    xsi_text: str | None  # this type's QName as written in xsi:type, e.g. 'b:EANDeviceID'


_TYPES: dict[tuple[str, str], type] = {}
_QNAME: dict[type, tuple[str, str]] = {}
_ABSTRACT: set[type] = set()
_GROUPS: set[type] = set()
_BY_PYNAME: dict[str, type] = {}
_SPECS: dict[type, ClassSpec] = {}
# Called when a type is bound: caches derived from the specs (xmlvend.codec.plans) drop them.
registry_listeners: list[Callable[[], None]] = []


def _frozen_dataclass(cls: type) -> type:
    return dataclasses.dataclass(frozen=True, kw_only=True, slots=True)(cls)


def xml_type(namespace: str, name: str, *, abstract: bool = False) -> Callable[[type[T]], type[T]]:
    """Declare ``cls`` as the complexType ``{namespace}name`` (a frozen dataclass)."""

    def wrap(cls: type[T]) -> type[T]:
        bound = _frozen_dataclass(cls)
        key = (namespace, name)
        if key in _TYPES:
            raise TypeError(f"complexType {key} is bound twice")
        _TYPES[key] = bound
        _QNAME[bound] = key
        if abstract:
            _ABSTRACT.add(bound)
        _BY_PYNAME[bound.__name__] = bound
        _SPECS.clear()  # cached subtype maps of its ancestors are stale now
        _BINDERS.clear()
        _NAMED_SUBTYPES.clear()
        for forget in registry_listeners:
            forget()
        return bound

    return wrap


def xml_group(cls: type[T]) -> type[T]:
    """Declare ``cls`` as an inline group of fields (not a complexType of its own)."""
    bound = _frozen_dataclass(cls)
    _GROUPS.add(bound)
    _BY_PYNAME[bound.__name__] = bound
    return bound


def type_qname(cls: type) -> tuple[str, str]:
    return _QNAME[cls]


def is_abstract(cls: type) -> bool:
    return cls in _ABSTRACT


def lookup_type(namespace: str, name: str) -> type | None:
    return _TYPES.get((namespace, name))


def all_types() -> dict[tuple[str, str], type]:
    return dict(_TYPES)


def all_groups() -> frozenset[type]:
    """The inline groups (:func:`xml_group`), which are not complexTypes of their own."""
    return frozenset(_GROUPS)


def _resolve_type_ref(ref: Any) -> type:
    if isinstance(ref, str):
        try:
            return _BY_PYNAME[ref]
        except KeyError:
            raise TypeError(f"unknown bound class {ref!r}") from None
    return ref


def spec_of(cls: type) -> ClassSpec:
    spec = _SPECS.get(cls)
    if spec is None:
        spec = _build_spec(cls)
        _SPECS[cls] = spec
    return spec


def _build_spec(cls: type) -> ClassSpec:
    attributes: list[FieldSpec] = []
    elements: list[FieldSpec] = []
    sequence: list[FieldSpec] = []
    text_spec: FieldSpec | None = None
    by_tag: dict[str, tuple[FieldSpec | None, FieldSpec]] = {}
    for f in dataclasses.fields(cls):
        meta: XmlField | None = f.metadata.get(_XML)
        if meta is None:
            continue  # not an XML field (e.g. transport metadata)
        resolved = _resolve_type_ref(meta.type_ref)
        simple = resolved in SIMPLE_TYPES
        clark = f"{{{meta.namespace}}}{meta.name}" if meta.kind is Kind.ELEMENT else meta.name
        fs = FieldSpec(
            pyname=f.name,
            kind=meta.kind,
            name=meta.name,
            clark=clark,
            cls=resolved,
            simple=simple,
            min_occurs=meta.min_occurs,
            max_occurs=meta.max_occurs,
            many=meta.max_occurs != 1,
            qtag=_qtag(meta) if meta.kind is Kind.ELEMENT else None,
        )
        if meta.kind is Kind.ATTRIBUTE:
            attributes.append(fs)
        elif meta.kind is Kind.TEXT:
            text_spec = fs
        elif meta.kind is Kind.ELEMENT:
            elements.append(fs)
            sequence.append(fs)
            by_tag[clark] = (None, fs)
        else:
            gspec = spec_of(resolved)
            fs.group_spec = gspec
            sequence.append(fs)
            for inner in gspec.elements:
                by_tag[inner.clark] = (fs, inner)
    by_local = {pair[1].name: pair for pair in by_tag.values()}
    subtypes: dict[tuple[str, str], type] = {}
    if cls in _QNAME:
        for qname, candidate in _TYPES.items():
            if issubclass(candidate, cls):
                subtypes[qname] = candidate
    return ClassSpec(
        cls=cls,
        qname=_QNAME.get(cls),
        abstract=cls in _ABSTRACT,
        attributes=attributes,
        elements=elements,
        sequence=sequence,
        text=text_spec,
        by_tag=by_tag,
        by_local=by_local,
        subtypes=subtypes,
        subtypes_by_local={qname[1]: c for qname, c in subtypes.items()},
        xsi_text=qname_text(_QNAME[cls]) if _QNAME.get(cls, ("",))[0] in _PREFIX_OF else None,
    )


def _qtag(meta: XmlField) -> str | None:
    prefix = _PREFIX_OF.get(meta.namespace or "")
    return f"{prefix}:{meta.name}" if prefix else None


def freeze_registry() -> None:
    """Build every spec now (import time of the models), so that a wrong declaration fails at
    import rather than on the first message, and the hot path never builds specs."""
    for cls in list(_TYPES.values()):
        spec_of(cls)
    for cls in list(_GROUPS):
        spec_of(cls)


# --------------------------------------------------------------------------------------------
# Simple values


# Letters Decimal() reads that xs:decimal has not: exponents, NaN, infinities.
_NOT_IN_XS_DECIMAL = frozenset("eEnNiIsS")


def parse_simple(cls: type, raw: str) -> Any:
    if cls is str:
        return raw
    if cls is Decimal:
        text_value = raw.strip()
        # xs:decimal has no exponent, NaN or infinity; Decimal() would accept them.
        if not text_value or not _NOT_IN_XS_DECIMAL.isdisjoint(text_value):
            raise BindingError(f"{raw!r} is not an xs:decimal")
        try:
            return Decimal(text_value)
        except ArithmeticError:
            raise BindingError(f"{raw!r} is not an xs:decimal") from None
    if cls is bool:
        value = raw.strip()
        if value in ("true", "1"):
            return True
        if value in ("false", "0"):
            return False
        raise BindingError(f"{raw!r} is not an xs:boolean")
    if cls is int:
        try:
            return int(raw.strip())
        except ValueError:
            raise BindingError(f"{raw!r} is not an xs:integer") from None
    raise TypeError(cls)


def format_simple(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise BindingError(f"{value!r} cannot be written as an xs:decimal")
        return format(value, "f")  # never exponent notation (invalid in xs:decimal)
    if isinstance(value, int):
        return str(value)
    raise BindingError(f"{value!r} is not a simple XML value")


# --------------------------------------------------------------------------------------------
# QNames in attribute values (xsi:type)


def resolve_qname(el: etree._Element, value: str) -> tuple[str | None, str]:
    """Resolve a QName attribute value against the in-scope namespaces of ``el``.

    An unprefixed name takes the default namespace (``xsi:type="EANDeviceID"`` under
    ``xmlns=base``), as XML Schema prescribes for xsi:type.
    """
    prefix, sep, local = value.strip().rpartition(":")
    nsmap = el.nsmap
    if sep:
        uri = nsmap.get(prefix)
        if uri is None:
            raise BindingError(f"xsi:type {value!r} uses the undeclared prefix {prefix!r}")
        return uri, local
    return nsmap.get(None), local


def qname_text(qname: tuple[str, str]) -> str:
    return f"{_PREFIX_OF[qname[0]]}:{qname[1]}"


# --------------------------------------------------------------------------------------------
# Parsing


def _select_class(declared: type, el: etree._Element, lenient: bool) -> type:
    xsi_type = el.get(XSI_TYPE)
    spec = spec_of(declared)
    if xsi_type is None:
        if spec.abstract:
            raise BindingError(
                f"xsi:type is required: {short_qname(spec.qname)} is abstract", (el.tag,)
            )
        return declared
    try:
        uri, local = resolve_qname(el, xsi_type)
    except BindingError as exc:
        raise exc.within(el.tag) from None
    cls = spec.subtypes.get((uri, local)) if uri is not None else None
    if cls is None and lenient:
        # Real servers write xsi:type against the wrong default namespace (Conlog faults
        # under an unqualified XMLVendFaultResp); match on the local name within the family.
        cls = spec.subtypes_by_local.get(local)
    if cls is None:
        raise BindingError(
            f"xsi:type {xsi_type!r} is not {short_qname(spec.qname)} or one of its subtypes",
            (el.tag,),
        )
    if cls in _ABSTRACT:
        raise BindingError(f"xsi:type {xsi_type!r} is abstract", (el.tag,))
    return cls


def _named_subtype(spec: ClassSpec, el: etree._Element, xsi_type: str, tag: str) -> type | None:
    """The usual case of :func:`_select_class` without building ``el.nsmap``: an xsi:type
    written with the element's own prefix (``<b:clientID xsi:type="b:EANDeviceID">``), which
    is bound, at ``el``, to the namespace of its tag. None for anything else (another
    prefix, an unknown or abstract type): the general path decides, and words any error."""
    prefix, sep, local = xsi_type.strip().rpartition(":")
    if (el.prefix != prefix) if sep else (el.prefix is not None):
        return None
    if tag[:1] != "{":
        return None
    cls = spec.subtypes.get((tag[1:].partition("}")[0], local))
    return None if cls is None or cls in _ABSTRACT else cls


def short_qname(qname: tuple[str, str] | None) -> str:
    if qname is None:
        return "?"
    prefix = _PREFIX_OF.get(qname[0])
    return f"{prefix}:{qname[1]}" if prefix else f"{{{qname[0]}}}{qname[1]}"


def from_xml(declared: type[T], el: etree._Element, *, lenient: bool = False) -> T:
    """Bind ``el`` to an instance of ``declared`` (or of the subtype its xsi:type names).

    Strict mode is for input already validated against the schema: it maps, it does not
    re-check facets, and raises :class:`BindingError` on anything unexpected. Lenient mode
    (answers of foreign servers) skips unknown elements, matches unqualified elements by local
    name, and leaves missing or unreadable required values as ``None``.
    """
    if not lenient:
        return _bind_valid(declared, el)
    cls = _select_class(declared, el, lenient)
    try:
        return _bind_lenient(spec_of(cls), el)
    except BindingError as exc:
        raise exc.within(el.tag) from None


def _bind_valid(declared: type, el: etree._Element) -> Any:
    """The hot path: ``el`` already passed schema validation, so structure, order, required
    content and simple-type facets hold; only the mapping to classes is done here, by a
    function compiled once per class (:func:`xmlvend.codec.plans.compile_binder`)."""
    xsi_type = el.get(XSI_TYPE)
    if xsi_type is not None:
        return bind_typed(declared, el, xsi_type, el.tag)
    cls = _select_class(declared, el, False) if declared in _ABSTRACT else declared
    return (_BINDERS.get(cls) or _compile_binder(cls))(el)


def bind_typed(declared: type, el: etree._Element, xsi_type: str, tag: str) -> Any:
    """:func:`_bind_valid` of an element whose ``xsi:type`` and tag the caller has read."""
    key = (declared, xsi_type, el.prefix, tag)
    cls = _NAMED_SUBTYPES.get(key)
    if cls is None:
        cls = _named_subtype(_SPECS.get(declared) or spec_of(declared), el, xsi_type, tag)
        if cls is None:
            cls = _select_class(declared, el, False)
        elif len(_NAMED_SUBTYPES) < _NAMED_SUBTYPES_MAX:
            _NAMED_SUBTYPES[key] = cls  # depends on nothing else: the prefix is el's own
    return (_BINDERS.get(cls) or _compile_binder(cls))(el)


def _compile_binder(cls: type) -> Callable[[etree._Element], Any]:
    from xmlvend.codec.plans import compile_binder  # plans builds on this module

    return compile_binder(cls)


# class -> its strict binder (filled by xmlvend.codec.plans, emptied with the specs)
_BINDERS: dict[type, Callable[[etree._Element], Any]] = {}
# (declared type, xsi:type value, element prefix, element tag) -> what _named_subtype found.
# Bounded: the keys come from the wire; clients send a handful of spellings.
_NAMED_SUBTYPES: dict[tuple[type, str, str | None, str], type] = {}
_NAMED_SUBTYPES_MAX = 1024


def _bind_lenient(spec: ClassSpec, el: etree._Element) -> Any:
    """Foreign servers' answers: keep what we understand, skip the rest, leave gaps as None."""
    values: dict[str, Any] = {}
    for fs in spec.attributes:
        raw = el.get(fs.name)
        if raw is None:
            continue
        try:
            values[fs.pyname] = raw if fs.cls is str else parse_simple(fs.cls, raw)
        except BindingError:
            values[fs.pyname] = None
    if spec.text is not None:
        values[spec.text.pyname] = _simple_or_none(spec.text.cls, el.text or "")
    groups: dict[str, dict[str, Any]] = {}
    lists: dict[tuple[str | None, str], list[Any]] = {}
    for child in el:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        pair = spec.by_tag.get(tag)
        if pair is None:
            pair = spec.by_local.get(local_name(tag))
            if pair is None or not _foreign_or_unqualified(tag):
                continue  # a vendor addition we do not understand
        gfs, fs = pair
        if child.get(XSI_NIL) in ("true", "1"):
            continue  # xsi:nil on an optional element (Conlog MonthlyTotals) = absent
        if fs.simple:
            value = _simple_or_none(fs.cls, child.text or "")
        else:
            value = from_xml(fs.cls, child, lenient=True)
        target = values if gfs is None else groups.setdefault(gfs.pyname, {})
        if fs.many:
            lists.setdefault((gfs.pyname if gfs else None, fs.pyname), []).append(value)
        else:
            target.setdefault(fs.pyname, value)  # a repeated single element: first wins
    for (gname, pyname), items in lists.items():
        target = values if gname is None else groups.setdefault(gname, {})
        target[pyname] = tuple(items)
    for fs in spec.sequence:
        if fs.kind is Kind.GROUP:
            assert fs.group_spec is not None
            gvalues = groups.get(fs.pyname)
            if gvalues is None:
                values[fs.pyname] = None  # e.g. a Hexing fault without its BaseResp header
                continue
            _fill_missing(fs.group_spec, gvalues)
            values[fs.pyname] = fs.group_spec.cls(**gvalues)
    _fill_missing(spec, values)
    return spec.cls(**values)


def _simple_or_none(cls: type, raw: str) -> Any:
    if cls is str:
        return raw
    try:
        return parse_simple(cls, raw)
    except BindingError:
        return None


def _foreign_or_unqualified(tag: str) -> bool:
    # Lenient local-name matching only rescues elements outside the XMLVend namespaces (e.g.
    # Conlog's unqualified children); an element of another XMLVend namespace stays unknown.
    if not tag.startswith("{"):
        return True
    uri = tag[1:].partition("}")[0]
    return uri not in _PREFIX_OF


def _fill_missing(spec: ClassSpec, values: dict[str, Any]) -> None:
    # Lenient binding of foreign responses: a required value the server left out becomes
    # None (the dataclass has no default for it).
    for fs in spec.attributes:
        values.setdefault(fs.pyname, None)
    for fs in spec.elements:
        values.setdefault(fs.pyname, () if fs.many else None)


# --------------------------------------------------------------------------------------------
# Rendering


def to_xml(
    value: Any, parent: etree._Element | None, tag: str, declared: type | None = None
) -> etree._Element:
    """Render ``value`` as element ``tag`` (Clark notation), appended to ``parent`` if given.

    ``declared`` is the element's declared type; xsi:type is written when it is abstract or
    differs from the value's class.
    """
    cls = type(value)
    spec = _SPECS.get(cls) or spec_of(cls)
    attrib: dict[str, str] = {}
    if declared is not None and (declared is not cls or declared in _ABSTRACT):
        if spec.qname is None:
            raise BindingError(f"{cls.__name__} has no type name for xsi:type")
        attrib[XSI_TYPE] = qname_text(spec.qname)
    _attributes_into(spec, value, attrib, tag)
    el = etree.Element(tag, attrib) if parent is None else etree.SubElement(parent, tag, attrib)
    _children_into(spec, value, el)
    return el


def render_fields(value: Any, el: etree._Element) -> None:
    """Render the attributes and children of ``value`` (a bound class or group) into ``el``."""
    spec = spec_of(type(value))
    attrib: dict[str, str] = {}
    _attributes_into(spec, value, attrib, el.tag)
    for name, text_value in attrib.items():
        el.set(name, text_value)
    _children_into(spec, value, el)


def _attributes_into(spec: ClassSpec, value: Any, attrib: dict[str, str], tag: str) -> None:
    for fs in spec.attributes:
        v = getattr(value, fs.pyname)
        if v is None:
            if fs.min_occurs:
                raise BindingError(f"attribute {fs.name!r} is required", (tag,))
            continue
        attrib[fs.name] = v if type(v) is str else format_simple(v)


def _children_into(spec: ClassSpec, value: Any, el: etree._Element) -> None:
    if spec.text is not None:
        el.text = format_simple(getattr(value, spec.text.pyname))
    for fs in spec.sequence:
        v = getattr(value, fs.pyname)
        if fs.kind is Kind.GROUP:
            assert fs.group_spec is not None
            if v is None:
                raise BindingError(f"{fs.pyname} is required", (el.tag,))
            _children_into(fs.group_spec, v, el)
            continue
        if fs.many:
            if len(v) < fs.min_occurs:
                raise BindingError(f"{short_name(fs.clark)} needs {fs.min_occurs}+", (el.tag,))
            for item in v:
                _render_child(fs, item, el)
        elif v is None:
            if fs.min_occurs:
                raise BindingError(f"element {short_name(fs.clark)} is required", (el.tag,))
        else:
            _render_child(fs, v, el)


def _render_child(fs: FieldSpec, v: Any, parent: etree._Element) -> None:
    if fs.simple:
        etree.SubElement(parent, fs.clark).text = v if type(v) is str else format_simple(v)
    else:
        to_xml(v, parent, fs.clark, fs.cls)
