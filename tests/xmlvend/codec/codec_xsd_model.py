"""Reads the complexTypes of our XSDs into a comparable model (test helper).

Effective content of each complexType: attributes (name -> required) and the element sequence
(Clark name, type QName, minOccurs, maxOccurs) including what it inherits through
complexContent/extension. An element of an xs:choice counts as optional.
"""

from __future__ import annotations

import dataclasses
from functools import cache

from lxml import etree

from xmlvend.codec.namespaces import XSD
from xmlvend.codec.schema import schema_files

XS = f"{{{XSD}}}"


@dataclasses.dataclass
class XsdElement:
    clark: str
    type: tuple[str, str]
    min_occurs: int
    max_occurs: int | None


@dataclasses.dataclass
class XsdType:
    qname: tuple[str, str]
    abstract: bool
    base: tuple[str, str] | None
    attributes: dict[str, bool]  # name -> required
    elements: list[XsdElement]


def _qname(el: etree._Element, value: str) -> tuple[str, str]:
    prefix, _, local = value.rpartition(":")
    return el.nsmap[prefix or None], local


@cache
def xsd_types() -> dict[tuple[str, str], XsdType]:
    raw: dict[tuple[str, str], tuple[etree._Element, str]] = {}
    for content in schema_files().values():
        root = etree.fromstring(content)
        tns = root.get("targetNamespace")
        for ct in root.iterfind(f"{XS}complexType"):
            raw[(tns, ct.get("name"))] = (ct, tns)
    resolved: dict[tuple[str, str], XsdType] = {}

    def resolve(key: tuple[str, str]) -> XsdType:
        if key in resolved:
            return resolved[key]
        ct, tns = raw[key]
        attributes: dict[str, bool] = {}
        elements: list[XsdElement] = []
        base = None
        holder = ct
        ext = ct.find(f"{XS}complexContent/{XS}extension")
        if ext is not None:
            base = _qname(ext, ext.get("base"))
            if base in raw:
                parent = resolve(base)
                attributes.update(parent.attributes)
                elements.extend(parent.elements)
            holder = ext
        for node in holder.iter(f"{XS}element", f"{XS}attribute"):
            if node.tag == f"{XS}attribute":
                attributes[node.get("name")] = node.get("use") == "required"
                continue
            in_choice = node.getparent().tag == f"{XS}choice"
            max_raw = node.get("maxOccurs", "1")
            elements.append(
                XsdElement(
                    clark=f"{{{tns}}}{node.get('name')}",
                    type=_qname(node, node.get("type")),
                    min_occurs=0 if in_choice else int(node.get("minOccurs", "1")),
                    max_occurs=None if max_raw == "unbounded" else int(max_raw),
                )
            )
        t = XsdType(key, ct.get("abstract") == "true", base, attributes, elements)
        resolved[key] = t
        return t

    for key in raw:
        resolve(key)
    return resolved


@cache
def xsd_global_elements() -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for content in schema_files().values():
        root = etree.fromstring(content)
        tns = root.get("targetNamespace")
        for el in root.iterfind(f"{XS}element"):
            out[f"{{{tns}}}{el.get('name')}"] = _qname(el, el.get("type"))
    return out
