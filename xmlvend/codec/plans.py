"""Per-class compiled renderers and canonical texts (the codec's hot paths, issue 16).

:func:`render_element` writes the same markup as walking the class's
:class:`~xmlvend.codec.binding.ClassSpec` field by field would, and :func:`canonical_text`
the same text as ``repr(canonical_tuple(value))`` (what request fingerprints hash); but the
walk is done once per class: the first value of a class compiles a function that reads its
fields by name, with every spec decision (attribute or element, required, prefix, declared
type, xsi:type text) already taken. A creditVendResp then costs about one call per element
instead of several reflective calls per field.

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

from lxml import etree

from xmlvend.codec.binding import (
    _BINDERS,
    XSI_TYPE,
    BindingError,
    ClassSpec,
    FieldSpec,
    Kind,
    _bind_valid,
    all_groups,
    all_types,
    bind_typed,
    format_simple,
    is_abstract,
    parse_simple,
    registry_listeners,
    short_name,
    spec_of,
)

Renderer = Callable[[Any, str, "type | None"], str]

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
# and everything XML 1.0 cannot carry (what _NOT_XML_CHAR finds).
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
        "Decimal": Decimal,
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
        # As binding.to_xml: xsi:type when the declared type is abstract or another class.
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
        if fs.cls is Decimal:  # amounts: digits, sign and point, nothing to check or escape
            self._emit(
                'x = format(x, "f") if type(x) is Decimal and x.is_finite() else attr_value(x)',
                2,
            )
        else:
            self._emit(
                "x = x if type(x) is str and (x.isalnum() or not _attr_special(x)) "
                "else attr_value(x)",
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


def canonical_tuple(value: Any, *, skip: frozenset[str] = _NO_SKIP) -> Any:
    """A nested tuple that depends only on the XML information content of ``value``: type
    names, field values (decimals by numeric value), never on prefixes or formatting.
    ``skip`` names python fields left out at the top level (e.g. the header's authCred).

    The definition of the canonical form: stored fingerprints hash its repr, so it must
    never change. :func:`canonical_text` is the fast way to that repr."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, Decimal):
        return ("dec", canonical_decimal(value))
    if isinstance(value, tuple):
        return tuple(canonical_tuple(v) for v in value)
    spec = spec_of(type(value))
    out: list[Any] = [spec.qname or type(value).__name__]
    for fs in _all_fields(spec):
        if fs.pyname in skip:
            continue
        v = getattr(value, fs.pyname)
        if fs.kind is Kind.GROUP:
            out.append((fs.pyname, canonical_tuple(v, skip=skip)))
        else:
            out.append((fs.pyname, canonical_tuple(v)))
    return tuple(out)


def canonical_decimal(value: Decimal) -> str:
    if value.is_zero():
        return "0"
    return str(value.normalize())


def _all_fields(spec: ClassSpec) -> list[FieldSpec]:
    text = [] if spec.text is None else [spec.text]
    return [*spec.attributes, *text, *spec.sequence]


# --------------------------------------------------------------------------------------------
# The text of the canonical form (what fingerprints hash)
#
# repr() of the canonical tuple cost more than building it. The same text is written
# directly: constant parts (type names, field names, punctuation) are laid down at compile
# time, every leaf goes through repr() as the tuple's repr would.

_CANONICAL_TEXTS: dict[tuple[type, frozenset[str]], Callable[[Any], str]] = {}


def canonical_text(value: Any, *, skip: frozenset[str] = _NO_SKIP) -> str:
    """``repr(canonical_tuple(value, skip=skip))``, exactly."""
    if type(value) is str:
        return repr(value)
    if value is None or isinstance(value, str | bool | int):
        return repr(value)
    if isinstance(value, Decimal):
        return f"('dec', {canonical_decimal(value)!r})"
    if isinstance(value, tuple):
        items = [canonical_text(v) for v in value]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    cls = type(value)
    text = _CANONICAL_TEXTS.get((cls, skip)) or _compile_canonical_text(cls, skip)
    return text(value)


def _compile_canonical_text(cls: type, skip: frozenset[str]) -> Callable[[Any], str]:
    spec = spec_of(cls)
    fields = [fs for fs in _all_fields(spec) if fs.pyname not in skip]
    lines = ["def text(v):"]
    items = ["{Q}"]  # the type's name: a constant of the namespace, not of the source
    for n, fs in enumerate(fields):
        lines.append(f"    x{n} = {_leaf_text(fs, f'v.{fs.pyname}')}")
        items.append(f"({fs.pyname!r}, {{x{n}}})")
    body = f"{items[0]}," if len(items) == 1 else ", ".join(items)
    lines.append(f'    return f"({body})"')
    namespace = {
        "Q": repr(spec.qname or cls.__name__),
        "Decimal": Decimal,
        "canonical_text": canonical_text,
        "canonical_decimal": canonical_decimal,
        "skip": skip,
        "_get": _CANONICAL_TEXTS.get,
        "_no_skip": _NO_SKIP,
    }
    source = "\n".join(lines) + "\n"
    exec(compile(source, f"<canonical text {cls.__qualname__}>", "exec"), namespace)
    text: Callable[[Any], str] = namespace["text"]
    _CANONICAL_TEXTS[(cls, skip)] = text
    return text


def _leaf_text(fs: FieldSpec, x: str) -> str:
    if fs.kind is Kind.GROUP:
        return f"canonical_text({x}, skip=skip)"
    if fs.many:
        return f"canonical_text({x})"
    if fs.cls is Decimal:
        decimal = "f\"('dec', {canonical_decimal(x)!r})\""
        return f"{decimal} if type(x := {x}) is Decimal else canonical_text(x)"
    if fs.simple:
        return f"repr(x) if type(x := {x}) is str else canonical_text(x)"
    return f"t(x) if (t := _get((type(x := {x}), _no_skip))) is not None else canonical_text(x)"


# --------------------------------------------------------------------------------------------
# Strict binding (input that passed schema validation)
#
# The binder of a class maps one element, whose class is already chosen (binding._bind_valid
# does that from xsi:type), to an instance: attributes by name, children by a tag -> index
# table, values of a group gathered apart and bound when the element is done. Errors are
# those of the spec walk it replaces, with the same paths.

Binder = Callable[[etree._Element], Any]


def compile_binder(cls: type) -> Binder:
    spec = spec_of(cls)
    source, index, names = _BinderSource(spec).source()
    namespace: dict[str, Any] = {
        "C": cls,
        "BindingError": BindingError,
        "XSI_TYPE": XSI_TYPE,
        "parse_simple": parse_simple,
        "short_name": short_name,
        "_bind_valid": _bind_valid,
        "bind_typed": bind_typed,
        "_get": _BINDERS.get,
        "_compile": compile_binder,
        "_index": index.get,
        **names,
    }
    exec(compile(source, f"<bind {cls.__qualname__}>", "exec"), namespace)
    bind: Binder = namespace["bind"]
    _BINDERS[cls] = bind
    return bind


class _BinderSource:
    """The source of ``bind(el)`` for one class."""

    def __init__(self, spec: ClassSpec) -> None:
        self.spec = spec
        self.names: dict[str, Any] = {}  # classes the source refers to, by generated name
        self.index: dict[str, int] = {}  # child tag -> branch

    def _ref(self, value: type) -> str:
        name = f"T{len(self.names)}"
        self.names[name] = value
        return name

    def source(self) -> tuple[str, dict[str, int], dict[str, Any]]:
        spec = self.spec
        lines = ["def bind(el):", "    try:", "        kw = {}"]
        if spec.attributes:
            lines.append("        get = el.get")
        for fs in spec.attributes:
            lines.append(f"        x = get({fs.name!r})")
            lines.append("        if x is not None:")
            lines.append(f"            kw[{fs.pyname!r}] = {self._simple(fs, 'x')}")
        if spec.text is not None:
            text = f"parse_simple({self._ref(spec.text.cls)}, el.text or '')"
            lines.append(f"        kw[{spec.text.pyname!r}] = {text}")
        # (target dict: "kw" or a group's "gN", field) for every child field
        targets: list[tuple[str, FieldSpec]] = []
        groups: list[tuple[str, FieldSpec]] = []
        for fs in spec.sequence:
            if fs.kind is Kind.GROUP:
                assert fs.group_spec is not None
                target = f"g{len(groups)}"
                groups.append((target, fs))
                lines.append(f"        {target} = {{}}")
                targets.extend((target, inner) for inner in fs.group_spec.elements)
            else:
                targets.append(("kw", fs))
        if targets:
            lines += self._children(targets)
        for target, fs in targets:
            if fs.many:
                lists = f"{target}[{fs.pyname!r}]"
                lines.append(f"        if {fs.pyname!r} in {target}:")
                lines.append(f"            {lists} = tuple({lists})")
        for target, fs in groups:
            assert fs.group_spec is not None
            group = self._ref(fs.group_spec.cls)
            lines.append(f"        kw[{fs.pyname!r}] = {group}(**{target})")
        lines += [
            "        return C(**kw)",
            "    except BindingError as exc:",
            "        raise exc.within(el.tag) from None",
            "    except TypeError as exc:  # a required value is missing (dataclass __init__)",
            "        raise BindingError(str(exc), (el.tag,)) from None",
        ]
        return "\n".join(lines) + "\n", self.index, self.names

    def _children(self, targets: list[tuple[str, FieldSpec]]) -> list[str]:
        lines = [
            "        for child in el:",
            "            t = child.tag",
            "            i = _index(t)",
            "            if i is None:",
            "                if isinstance(t, str):",
            '                    raise BindingError(f"unexpected element {short_name(t)}")',
            "                continue",
        ]
        for n, (target, fs) in enumerate(targets):
            self.index[fs.clark] = n
            lines.append(f"            {'if' if n == 0 else 'elif'} i == {n}:")
            if fs.simple:
                value = self._simple(fs, "(child.text or '')")
            else:
                declared = self._ref(fs.cls)
                untyped = f"_bind_valid({declared}, child)"  # abstract: the error it raises
                if not is_abstract(fs.cls):  # the usual child: no xsi:type, its own binder
                    untyped = f"(_get({declared}) or _compile({declared}))(child)"
                typed = f"bind_typed({declared}, child, x, t)"
                value = f"{untyped} if (x := child.get(XSI_TYPE)) is None else {typed}"
            if fs.many:
                lines.append(f"                {target}.setdefault({fs.pyname!r}, []).append(")
                lines.append(f"                    {value}")
                lines.append("                )")
            else:
                lines.append(f"                {target}[{fs.pyname!r}] = {value}")
        return lines

    def _simple(self, fs: FieldSpec, raw: str) -> str:
        if fs.cls is str:
            return raw
        return f"parse_simple({self._ref(fs.cls)}, {raw})"


def _forget() -> None:
    _RENDERERS.clear()
    _CANONICAL_TEXTS.clear()


def compile_all(skips: tuple[frozenset[str], ...] = ()) -> int:
    """Compile every bound class's binder, renderer and canonical text now, and its
    canonical text without each field set of ``skips``: what each class's first use would
    otherwise compile on the thread that meets it (a server's reactor thread, a few ms for a
    request's and its answer's classes). Returns the number of classes."""
    count = 0
    for cls in all_types().values():
        if is_abstract(cls):
            continue
        if cls not in _BINDERS:
            compile_binder(cls)
        if cls not in _RENDERERS:
            _compile_renderer(cls)
        _compile_canonical_texts(cls, skips)
        count += 1
    for group in all_groups():  # rendered and bound inline, but fingerprinted alone too
        _compile_canonical_texts(group, skips)
    return count


def _compile_canonical_texts(cls: type, skips: tuple[frozenset[str], ...]) -> None:
    for skip in (_NO_SKIP, *skips):
        if (cls, skip) not in _CANONICAL_TEXTS:
            _compile_canonical_text(cls, skip)


registry_listeners.append(_forget)
