"""Per-class compiled renderers and canonical forms (the codec's hot paths, issue 16).

:func:`render_element` writes the same markup, and :func:`canonical_tuple` builds the same
nested tuple, as walking the class's :class:`~xmlvend.codec.binding.ClassSpec` field by field
would; but the walk is done once per class: the first value of a class compiles a function
that reads its fields by name, with every spec decision (attribute or element, required,
prefix, declared type, xsi:type text) already taken. A creditVendResp then costs about one
call per element instead of several reflective calls per field.

The generated source is built only from the specs (python identifiers and XML names of our
own model), never from message content; values reach the functions as arguments.

What the functions must keep exactly (tests pin the bytes and the fingerprints):

* attribute and element order, ``xsi:type`` whenever the declared type is abstract or not
  the value's class, ``<x/>`` for an element without children and for an empty simple
  element, ``<x></x>`` for empty simpleContent;
* the BindingError raised for a missing required value, a short sequence, a value XML
  cannot carry, a non-finite decimal, in the same order of checks;
* escaping: strings that need none (the usual ones) are written as they are, after one
  regex search; the others take the general path (check, then ``str.translate``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from xmlvend.codec.binding import (
    BindingError,
    ClassSpec,
    FieldSpec,
    Kind,
    format_simple,
    is_abstract,
    registry_listeners,
    spec_of,
)

Renderer = Callable[[Any, str, "type | None"], str]
Canonicaliser = Callable[[Any], Any]

_ATTR_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\t": "&#9;",
        "\n": "&#10;",
        "\r": "&#13;",
    }
)
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_NOT_XML_CHAR = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _checked(value: str) -> str:
    if _NOT_XML_CHAR.search(value):
        raise BindingError(f"{value!r} contains characters XML cannot carry")
    return value


# Characters outside these classes make a string take the general path: the escaped ones
# and everything XML 1.0 cannot carry (the complement of binding._NOT_XML_CHAR).
_XML_CHARS = "\ue000-\ufffd\U00010000-\U0010ffff"
_ATTR_SPECIAL = re.compile(f"[^\x20\x21\x23-\x25\x27-\x3b\x3d\x3f-\ud7ff{_XML_CHARS}]").search
_TEXT_SPECIAL = re.compile(f"[^\x09\x0a\x20-\x25\x27-\x3b\x3d\x3f-\ud7ff{_XML_CHARS}]").search


def attr_value(value: Any) -> str:
    """An attribute value as written between double quotes (the general path)."""
    if type(value) is Decimal:
        return format_simple(value)  # digits, sign and point: nothing to check or escape
    raw = value if type(value) is str else format_simple(value)
    if raw.isalnum() or not _ATTR_SPECIAL(raw):
        return raw
    return _checked(raw).translate(_ATTR_ESCAPES)


def text_value(value: Any) -> str:
    """Character content of an element (the general path)."""
    if type(value) is Decimal:
        return format_simple(value)
    raw = value if type(value) is str else format_simple(value)
    if raw.isalnum() or not _TEXT_SPECIAL(raw):
        return raw
    return _checked(raw).translate(_TEXT_ESCAPES)


def simple_element(value: Any, qtag: str) -> str:
    """A simple-typed child element; ``<q/>`` when its text is empty."""
    raw = value if type(value) is str else format_simple(value)
    if not raw:
        return f"<{qtag}/>"
    return f"<{qtag}>{text_value(raw)}</{qtag}>"


# --------------------------------------------------------------------------------------------
# Rendering

_RENDERERS: dict[type, Renderer] = {}


def render_element(value: Any, qtag: str, declared: type | None) -> str:
    """The markup of ``value`` as element ``qtag`` ('prefix:local')."""
    cls = type(value)
    render = _RENDERERS.get(cls) or _compile_renderer(cls)
    return render(value, qtag, declared)


def _compile_renderer(cls: type) -> Renderer:
    spec = spec_of(cls)
    source = _RendererSource(spec).source()
    namespace = {
        "BindingError": BindingError,
        "C": cls,
        "attr_value": attr_value,
        "text_value": text_value,
        "simple_element": simple_element,
        "format_simple": format_simple,
        "_attr_special": _ATTR_SPECIAL,
        "_text_special": _TEXT_SPECIAL,
        "_get": _RENDERERS.get,
        "_compile": _compile_renderer,
        **_declared_types(spec),
    }
    exec(compile(source, f"<render {cls.__qualname__}>", "exec"), namespace)
    render: Renderer = namespace["render"]
    _RENDERERS[cls] = render
    return render


def _declared_types(spec: ClassSpec) -> dict[str, type]:
    found: dict[str, type] = {}
    for fs in _sequence_fields(spec):
        if fs.kind is Kind.ELEMENT and not fs.simple:
            found[_declared_name(fs)] = fs.cls
    return found


def _sequence_fields(spec: ClassSpec) -> list[FieldSpec]:
    fields = []
    for fs in spec.sequence:
        fields.append(fs)
        if fs.group_spec is not None:
            fields.extend(_sequence_fields(fs.group_spec))
    return fields


def _declared_name(fs: FieldSpec) -> str:
    return f"D_{fs.cls.__name__}_{id(fs.cls):x}"


class _RendererSource:
    """The source of ``render(v, qtag, declared) -> str`` for one class."""

    def __init__(self, spec: ClassSpec) -> None:
        self.spec = spec
        self.lines: list[str] = []
        self.parts: list[str] = []  # expressions of the children's markup, in order
        self.counter = 0

    def _name(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def _emit(self, line: str, depth: int = 1) -> None:
        self.lines.append("    " * depth + line)

    def source(self) -> str:
        spec = self.spec
        self._emit("def render(v, qtag, declared):", 0)
        self._xsi_type()
        attributes = [self._attribute(fs) for fs in spec.attributes]
        opening = "<{qtag}{xsi}" + "".join(f"{{{a}}}" for a in attributes)
        if spec.text is not None:
            self._emit(f"t = text_value(format_simple(v.{spec.text.pyname}))")
        self._children(spec, "v", 1)
        children = "".join(f"{{{p}}}" for p in self.parts)
        if spec.text is not None:
            self._emit(f'return f"{opening}>{{t}}{children}</{{qtag}}>"')
        elif not self.parts:
            self._emit(f'return f"{opening}/>"')
        else:
            self._emit(f'c = f"{children}"')
            self._emit(f'return f"{opening}>{{c}}</{{qtag}}>" if c else f"{opening}/>"')
        return "\n".join(self.lines) + "\n"

    def _xsi_type(self) -> None:
        spec = self.spec
        # As binding.render_text: xsi:type when the declared type is abstract or another class.
        if is_abstract(spec.cls):
            self._emit("if declared is None:")
        else:
            self._emit("if declared is None or declared is C:")
        self._emit('xsi = ""', 2)
        self._emit("else:")
        if spec.xsi_text is None:
            message = f"{spec.cls.__name__} has no type name for xsi:type"
            self._emit(f"raise BindingError({message!r})", 2)
        else:
            self._emit(f"xsi = {' xsi:type=' + chr(34) + spec.xsi_text + chr(34)!r}", 2)

    def _attribute(self, fs: FieldSpec) -> str:
        var = self._name("a")
        self._emit(f"x = v.{fs.pyname}")
        self._emit("if x is None:")
        if fs.min_occurs:
            message = f"attribute {fs.name!r} is required"
            self._emit(f"raise BindingError({message!r}, (qtag,))", 2)
        else:
            self._emit(f'{var} = ""', 2)
        self._emit("else:")
        self._emit(
            "x = x if type(x) is str and (x.isalnum() or not _attr_special(x)) else attr_value(x)",
            2,
        )
        self._emit(f"{var} = {' ' + fs.name + '=' + chr(34)!r} + x + {chr(34)!r}", 2)
        return var

    def _children(self, spec: ClassSpec, owner: str, depth: int) -> None:
        for fs in spec.sequence:
            if fs.kind is Kind.GROUP:
                assert fs.group_spec is not None
                group = self._name("g")
                self._emit(f"{group} = {owner}.{fs.pyname}", depth)
                self._emit(f"if {group} is None:", depth)
                message = f"{fs.pyname} is required"
                self._emit(f"raise BindingError({message!r}, (qtag,))", depth + 1)
                if fs.group_spec.text is not None:
                    var = self._name("t")
                    text = f"text_value(format_simple({group}.{fs.group_spec.text.pyname}))"
                    self._emit(f"{var} = {text}", depth)
                    self.parts.append(var)
                self._children(fs.group_spec, group, depth)
            else:
                self._element(fs, owner, depth)

    def _element(self, fs: FieldSpec, owner: str, depth: int) -> None:
        var = self._name("c")
        self.parts.append(var)
        self._emit(f"x = {owner}.{fs.pyname}", depth)
        qtag = fs.qtag
        if qtag is None:
            message = f"{fs.clark} is outside the codec namespaces"
            self._emit(f"raise BindingError({message!r})", depth)
            return
        if fs.many:
            self._emit(f"if len(x) < {fs.min_occurs}:", depth)
            message = f"{qtag} needs {fs.min_occurs}+"
            self._emit(f"raise BindingError({message!r}, (qtag,))", depth + 1)
            self._emit(f'{var} = "".join([{self._markup(fs, "i")} for i in x])', depth)
            return
        self._emit("if x is None:", depth)
        if fs.min_occurs:
            message = f"element {qtag} is required"
            self._emit(f"raise BindingError({message!r}, (qtag,))", depth + 1)
        else:
            self._emit(f'{var} = ""', depth + 1)
        self._emit("else:", depth)
        if fs.simple:
            # The usual string needs no escaping: written without a call.
            self._emit(
                "if type(x) is str and x and (x.isalnum() or not _text_special(x)):", depth + 1
            )
            self._emit(f"{var} = {'<' + qtag + '>'!r} + x + {'</' + qtag + '>'!r}", depth + 2)
            self._emit("else:", depth + 1)
            self._emit(f"{var} = simple_element(x, {qtag!r})", depth + 2)
        else:
            self._emit(f"{var} = {self._markup(fs, 'x')}", depth + 1)

    def _markup(self, fs: FieldSpec, item: str) -> str:
        if fs.simple:
            return f"simple_element({item}, {fs.qtag!r})"
        declared = _declared_name(fs)
        return f"(_get(type({item})) or _compile(type({item})))({item}, {fs.qtag!r}, {declared})"


# --------------------------------------------------------------------------------------------
# Canonical value form (fingerprints)

_NO_SKIP: frozenset[str] = frozenset()
_CANONICALISERS: dict[tuple[type, frozenset[str]], Canonicaliser] = {}


def canonical_tuple(value: Any, *, skip: frozenset[str] = _NO_SKIP) -> Any:
    """A nested tuple that depends only on the XML information content of ``value``: type
    names, field values (decimals by numeric value), never on prefixes or formatting.
    ``skip`` names python fields left out at the top level and in its groups (e.g. the
    header's authCred). The form is what stored fingerprints were computed from: it must
    never change."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, Decimal):
        return ("dec", canonical_decimal(value))
    if isinstance(value, tuple):
        return tuple(canonical_tuple(v) for v in value)
    cls = type(value)
    canon = _CANONICALISERS.get((cls, skip)) or _compile_canonicaliser(cls, skip)
    return canon(value)


def canonical_decimal(value: Decimal) -> str:
    if value.is_zero():
        return "0"
    return str(value.normalize())


def _compile_canonicaliser(cls: type, skip: frozenset[str]) -> Canonicaliser:
    spec = spec_of(cls)
    lines = ["def canon(v):", "    return ("]
    lines.append(f"        {spec.qname or cls.__name__!r},")
    fields = [*spec.attributes, *([spec.text] if spec.text is not None else []), *spec.sequence]
    for fs in fields:
        if fs.pyname in skip:
            continue
        lines.append(f"        ({fs.pyname!r}, {_canonical_expr(fs, skip)}),")
    lines.append("    )")
    namespace = {
        "Decimal": Decimal,
        "canonical_tuple": canonical_tuple,
        "canonical_decimal": canonical_decimal,
        "skip": skip,
        "_get": _CANONICALISERS.get,
        "_no_skip": _NO_SKIP,
    }
    source = "\n".join(lines) + "\n"
    exec(compile(source, f"<canonical {cls.__qualname__}>", "exec"), namespace)
    canon: Canonicaliser = namespace["canon"]
    _CANONICALISERS[(cls, skip)] = canon
    return canon


def _canonical_expr(fs: FieldSpec, skip: frozenset[str]) -> str:
    x = f"v.{fs.pyname}"
    if fs.kind is Kind.GROUP:
        return f"canonical_tuple({x}, skip=skip)"
    if fs.many:
        return f"canonical_tuple({x})"
    if fs.cls is Decimal:
        decimal = '("dec", canonical_decimal(x))'
        return f"({decimal} if type(x := {x}) is Decimal else canonical_tuple(x))"
    if fs.simple:
        return f"(x if type(x := {x}) is str or x is None else canonical_tuple(x))"
    return f"(c(x) if (c := _get((type(x := {x}), _no_skip))) is not None else canonical_tuple(x))"


def _forget() -> None:
    _RENDERERS.clear()
    _CANONICALISERS.clear()


registry_listeners.append(_forget)
