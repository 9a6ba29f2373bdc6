"""The typed model agrees with the XSDs (the source of truth for names, namespaces, order and
occurrence): every bound complexType has the XSD's attributes, element sequence, child
namespaces, occurrences, simple/complex child types and abstractness."""

from __future__ import annotations

from decimal import Decimal

import pytest
from codec_xsd_model import xsd_global_elements, xsd_types

from xmlvend.codec import messages
from xmlvend.codec.binding import Kind, all_types, is_abstract, spec_of, type_qname
from xmlvend.codec.namespaces import XSD

_SIMPLE = {Decimal: (XSD, "decimal"), bool: (XSD, "boolean"), int: (XSD, "integer")}
_BOUND = sorted(all_types().items(), key=lambda kv: kv[0])


@pytest.mark.parametrize(("qname", "cls"), _BOUND, ids=[q[1] for q, _ in _BOUND])
def test_bound_type_matches_xsd(qname: tuple[str, str], cls: type) -> None:
    xsd = xsd_types().get(qname)
    assert xsd is not None, f"{qname} is bound but not in the XSDs"
    spec = spec_of(cls)
    assert is_abstract(cls) == xsd.abstract
    assert {f.name: bool(f.min_occurs) for f in spec.attributes} == xsd.attributes
    mine = []
    for f in spec.sequence:
        mine.extend(f.group_spec.elements if f.kind is Kind.GROUP else [f])  # type: ignore[union-attr]
    assert [f.clark for f in mine] == [e.clark for e in xsd.elements]
    for field, element in zip(mine, xsd.elements, strict=True):
        assert (field.min_occurs, field.max_occurs) == (element.min_occurs, element.max_occurs), (
            field.clark
        )
        if field.simple:
            assert element.type not in xsd_types(), f"{field.clark} is complex in the XSD"
            if field.cls in _SIMPLE:
                assert element.type == _SIMPLE[field.cls], field.clark
            else:  # str: any XSD simple type except numbers and booleans
                assert element.type[1] not in ("decimal", "boolean", "integer"), field.clark
        else:
            assert type_qname(field.cls) == element.type, field.clark


def test_xsd_base_type_chain_is_the_python_class_chain() -> None:
    for qname, cls in all_types().items():
        base = xsd_types()[qname].base
        if base is None:
            continue
        parent = all_types().get(base)
        if parent is not None:
            assert issubclass(cls, parent), f"{qname} should extend {base}"


def test_message_catalogue_matches_xsd_global_elements() -> None:
    globals_ = xsd_global_elements()
    for tag, (declared, _op) in messages.REQUEST_ELEMENTS.items():
        assert globals_[tag] == type_qname(declared), tag
    for tag, declared in messages.RESPONSE_ELEMENTS.items():
        assert globals_[tag] == type_qname(declared), tag
    # Every request element of the XSDs is either implemented or recognised as unsupported.
    for tag in globals_:
        if tag.endswith("Req"):
            assert tag in messages.REQUEST_ELEMENTS or tag in messages.UNSUPPORTED_REQUEST_ELEMENTS
