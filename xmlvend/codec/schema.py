"""Our XMLVend 2.1 schema set (``wsdl/``): loading, compiling and serving it.

The four XSDs (base, revenue, meter and our extension namespace) and the WSDL live in the
``wsdl`` data package. This module

* reads them through :mod:`importlib.resources` (works from a wheel or a zip as well as from
  a checkout) -- :func:`schema_files`;
* compiles them with lxml into one validator that knows every global element of every
  namespace -- :func:`strict_schema`, or :func:`compile_schema` for a modified file set
  (the codec's lenient input variant);
* produces the documents the server publishes: the WSDL with the real endpoint, the
  schemaLocations pointing back at the server and only the implemented operations
  (:func:`wsdl_document`), and each XSD with its imports rewritten the same way
  (:func:`schema_document`).

Schema imports are resolved from the package only: no network, no filesystem lookups.
"""

from __future__ import annotations

import functools
import importlib.resources
import threading
from collections.abc import Collection, Mapping
from typing import Final

from lxml import etree

from xmlvend.codec.namespaces import BASE, EXT, METER, REVENUE, SOAP_BIND, WSDL, XSD

__all__ = [
    "SCHEMA_FILES",
    "SCHEMA_NAMESPACES",
    "SERVICE_NS",
    "WSDL_FILE",
    "compile_schema",
    "schema_document",
    "schema_files",
    "strict_schema",
    "wsdl_document",
    "wsdl_operations",
]

SERVICE_NS: Final = "http://www.nrs.eskom.co.za/xmlvend/service/2.1"
WSDL_FILE: Final = "xmlvend.wsdl"

# Namespace -> file name, in dependency order (each file only imports earlier ones).
SCHEMA_NAMESPACES: Final[Mapping[str, str]] = {
    BASE: "base.xsd",
    REVENUE: "revenue.xsd",
    METER: "meter.xsd",
    EXT: "evd-ext.xsd",
}
SCHEMA_FILES: Final[tuple[str, ...]] = tuple(SCHEMA_NAMESPACES.values())

# Imports are resolved under this made-up URL scheme so that libxml2 never has a real
# file or http URL to fall back on; the resolver below answers every request from memory.
_PACKAGE_URL: Final = "xmlvend-schema:///"

# Elements of the XSD language whose schemaLocation points at another schema document.
_SCHEMA_REF_TAGS: Final = frozenset(f"{{{XSD}}}{tag}" for tag in ("import", "include", "redefine"))

_WSDL_NSMAP: Final = {"wsdl": WSDL, "soap": SOAP_BIND, "xs": XSD}


class _UnknownSchemaError(LookupError):
    """A schema document referred to a schemaLocation that is not one of our files."""


# --------------------------------------------------------------------------------------
# Reading the package
# --------------------------------------------------------------------------------------


@functools.cache
def _package_bytes() -> Mapping[str, bytes]:
    root = importlib.resources.files("wsdl")
    return {name: root.joinpath(name).read_bytes() for name in (*SCHEMA_FILES, WSDL_FILE)}


def schema_files() -> dict[str, bytes]:
    """The XSDs of ``wsdl/`` as ``{file name: content}`` (base, revenue, meter, evd-ext).

    A fresh dict each call, so callers may edit it (e.g. to derive a lenient variant and
    hand it to :func:`compile_schema`) without touching the cached originals.
    """
    files = _package_bytes()
    return {name: files[name] for name in SCHEMA_FILES}


# --------------------------------------------------------------------------------------
# Compiling
# --------------------------------------------------------------------------------------


class _InMemoryResolver(etree.Resolver):
    """Answers schema imports from a fixed ``{file name: bytes}`` map."""

    def __init__(self, files: Mapping[str, bytes]) -> None:
        super().__init__()
        self._files = files

    def resolve(self, system_url: str, public_id: str, context: object) -> object:
        name = system_url.rsplit("/", 1)[-1]
        content = self._files.get(name)
        if content is None:
            # Refuse rather than return None: None would let libxml2 try the filesystem.
            raise _UnknownSchemaError(f"schema import of unknown document {system_url!r}")
        return self.resolve_string(content, context, base_url=_PACKAGE_URL + name)


def _secure_parser(resolver: etree.Resolver | None = None) -> etree.XMLParser:
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    if resolver is not None:
        parser.resolvers.add(resolver)
    return parser


def _driver_document(names: Collection[str]) -> bytes:
    """A schema that only imports every namespace, so one validator covers them all."""
    by_name = {name: ns for ns, name in SCHEMA_NAMESPACES.items()}
    root = etree.Element(f"{{{XSD}}}schema", nsmap={"xs": XSD})
    for name in names:
        etree.SubElement(root, f"{{{XSD}}}import", namespace=by_name[name], schemaLocation=name)
    return etree.tostring(root)


def compile_schema(files: Mapping[str, bytes]) -> etree.XMLSchema:
    """Compile a complete schema set given as ``{file name: content}``.

    ``files`` must hold the four names of :data:`SCHEMA_FILES` (typically
    :func:`schema_files`, possibly edited). The result validates any single global element
    of any of the four namespaces. Raises :class:`lxml.etree.XMLSchemaParseError` if the set
    does not compile, including when a file imports anything but these four (such imports
    are refused, never looked up on disk or the network).
    """
    missing = [name for name in SCHEMA_FILES if name not in files]
    if missing:
        raise KeyError(f"schema set lacks {', '.join(missing)}")
    # lxml swaps libxml2's process-wide external entity loader around every parse and
    # compilation and restores what it found; a parse or compilation ending in another
    # thread can therefore restore libxml2's own loader in the middle of ours, and the
    # remaining imports fail with only a warning: a validator without whole namespaces
    # ("No matching global declaration" for m:updateMeterKeyReq). Compilations take turns,
    # and one that logged anything (a clean one logs nothing) is done again.
    with _COMPILING:
        for _ in range(_ATTEMPTS):
            parser = _secure_parser(_InMemoryResolver(files))
            driver = etree.fromstring(
                _driver_document(SCHEMA_FILES), parser, base_url=_PACKAGE_URL + "driver.xsd"
            )
            schema = etree.XMLSchema(driver)
            if not len(schema.error_log):
                return schema
    raise RuntimeError(f"the XMLVend schema set did not compile cleanly: {schema.error_log}")


_COMPILING = threading.Lock()
_ATTEMPTS = 3


@functools.cache
def strict_schema() -> etree.XMLSchema:
    """The standard-conformant validator for every XMLVend 2.1 and extension element.

    Compiled once per process. Use it for what we emit (responses, fault details); input
    is better checked against the codec's lenient variant. Like every lxml validator it
    keeps ``error_log`` state, so share it only within one thread.
    """
    return compile_schema(schema_files())


# --------------------------------------------------------------------------------------
# Publishing
# --------------------------------------------------------------------------------------


def _rewrite_schema_locations(root: etree._Element, schema_base_url: str) -> None:
    """Point every import of one of our XSDs at ``schema_base_url + file name``."""
    for el in root.iter(*_SCHEMA_REF_TAGS):
        location = el.get("schemaLocation")
        if location is None:
            continue
        # Keep only the last path segment so the rewrite also works on an already
        # rewritten document (absolute or query-style URL).
        name = location.rsplit("/", 1)[-1].rsplit("=", 1)[-1]
        if name in SCHEMA_NAMESPACES.values():
            el.set("schemaLocation", schema_base_url + name)


def _serialize(root: etree._Element) -> bytes:
    return etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")


def schema_document(name: str, schema_base_url: str = "") -> bytes:
    """One of our XSDs, e.g. ``"base.xsd"``, with imports pointing at ``schema_base_url``.

    With ``schema_base_url="http://host/xmlvend?xsd="`` the revenue schema imports
    ``http://host/xmlvend?xsd=base.xsd``. An empty base returns the file unchanged.
    Raises :class:`KeyError` for names that are not one of :data:`SCHEMA_FILES`.
    """
    content = schema_files()[name]  # KeyError for unknown names, as documented
    if not schema_base_url:
        return content
    root = etree.fromstring(content, _secure_parser())
    _rewrite_schema_locations(root, schema_base_url)
    return _serialize(root)


@functools.cache
def wsdl_operations() -> Mapping[str, tuple[str, str]]:
    """Operation name -> (request element, response element), both in Clark notation.

    Read from the WSDL, so the server can map the element it dispatched on to the
    operation it has to advertise.
    """
    root = etree.fromstring(_package_bytes()[WSDL_FILE], _secure_parser())
    elements: dict[str, str] = {}
    for message in root.iterfind("wsdl:message", _WSDL_NSMAP):
        part = message.find("wsdl:part", _WSDL_NSMAP)
        if part is not None:
            elements[message.get("name", "")] = _clark(part, part.get("element", ""))
    result: dict[str, tuple[str, str]] = {}
    for op in root.iterfind("wsdl:portType/wsdl:operation", _WSDL_NSMAP):
        in_msg = op.find("wsdl:input", _WSDL_NSMAP)
        out_msg = op.find("wsdl:output", _WSDL_NSMAP)
        if in_msg is None or out_msg is None:
            raise RuntimeError(f"{WSDL_FILE}: operation {op.get('name')} lacks input/output")
        result[op.get("name", "")] = (
            elements[_local(in_msg.get("message", ""))],
            elements[_local(out_msg.get("message", ""))],
        )
    return result


def _local(qname: str) -> str:
    return qname.rsplit(":", 1)[-1]


def _clark(context: etree._Element, qname: str) -> str:
    prefix, _, local = qname.rpartition(":")
    return f"{{{context.nsmap[prefix or None]}}}{local}"


def wsdl_document(
    endpoint_url: str,
    operations: Collection[str] | None = None,
    schema_base_url: str = "",
) -> bytes:
    """The WSDL as served to clients.

    ``endpoint_url`` replaces the placeholder soap:address. ``schema_base_url`` is
    prepended to each imported XSD's file name (see :func:`schema_document`); empty keeps
    the relative names. If ``operations`` is given, the portType and binding keep only
    those operations and messages no longer used are dropped, so the document advertises
    exactly what the server implements. Unknown operation names raise :class:`ValueError`.
    """
    root = etree.fromstring(_package_bytes()[WSDL_FILE], _secure_parser())

    for address in root.iterfind("wsdl:service/wsdl:port/soap:address", _WSDL_NSMAP):
        address.set("location", endpoint_url)

    types = root.find("wsdl:types", _WSDL_NSMAP)
    if types is not None and schema_base_url:
        _rewrite_schema_locations(types, schema_base_url)

    if operations is not None:
        _keep_operations(root, set(operations))

    return _serialize(root)


def _keep_operations(root: etree._Element, wanted: set[str]) -> None:
    known = set(wsdl_operations())
    unknown = wanted - known
    if unknown:
        raise ValueError(f"unknown XMLVend operation(s): {', '.join(sorted(unknown))}")

    for path in ("wsdl:portType/wsdl:operation", "wsdl:binding/wsdl:operation"):
        for op in root.findall(path, _WSDL_NSMAP):
            if op.get("name") not in wanted:
                op.getparent().remove(op)

    used = {
        _local(ref.get("message", ""))
        for ref in root.iterfind("wsdl:portType/wsdl:operation/*[@message]", _WSDL_NSMAP)
    }
    for message in root.findall("wsdl:message", _WSDL_NSMAP):
        if message.get("name") not in used:
            root.remove(message)
