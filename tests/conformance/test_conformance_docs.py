"""docs/CONFORMANCE.md is generated where it matters: the catalogue and the meter roles in
it are the code's, and the kit's default meters are our demo meters (utilities/demo.py,
docs/TEST-METERS.md), not numbers of its own."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tools.conformance.catalogue import CATALOGUE, CATEGORIES, catalogue_markdown, select
from tools.conformance.profile import METER_ROLES, meter_roles_markdown
from utilities.demo import TEST_METERS
from vending.cli.main import main

DOCS = Path(__file__).resolve().parents[2] / "docs"

# What each role's demo meter is for, as utilities/demo.py describes its outcome.
ROLE_OUTCOMES = {
    "normal": "normal sale",
    "blocked": "blocked meter",
    "unknown": "unknown meter",
    "check_digit": "check digit",
    "key_change": "key change due",
    "fbe": "FBE due",
    "debt": "debt outstanding",
    "service_charge": "service charge due",
    "slow": "slow upstream",
    "upstream_failure": "upstream failure",
    "sgc_restricted": "not authorised",
}


def section(text: str, name: str) -> str:
    match = re.search(rf"<!-- {name}:begin[^\n]*-->\n(.*?)<!-- {name}:end -->", text, re.S)
    assert match, f"docs/CONFORMANCE.md lacks the {name} markers"
    return match.group(1)


def test_the_catalogue_in_the_docs_is_the_code() -> None:
    doc = (DOCS / "CONFORMANCE.md").read_text()
    assert section(doc, "catalogue") == catalogue_markdown(), (
        "docs/CONFORMANCE.md is out of date: paste `evd conformance --list` between the "
        "catalogue markers"
    )
    assert section(doc, "meters") == meter_roles_markdown()


def test_list_prints_the_catalogue(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conformance", "--list"]) == 0
    assert capsys.readouterr().out == catalogue_markdown()


def test_default_meters_are_the_demo_meters() -> None:
    demo = {meter.msno: meter for meter in TEST_METERS}
    test_meters_doc = (DOCS / "TEST-METERS.md").read_text()
    for role in METER_ROLES:
        assert role.default in demo, f"{role.name}: {role.default} is not a demo meter"
        outcome = demo[role.default].outcome
        assert ROLE_OUTCOMES[role.name].lower() in outcome.lower(), (role.name, outcome)
        assert role.default in test_meters_doc, f"TEST-METERS.md does not list {role.default}"
    assert set(ROLE_OUTCOMES) == {role.name for role in METER_ROLES}


def test_catalogue_is_well_formed() -> None:
    ids = [case.id for case in CATALOGUE]
    assert len(ids) == len(set(ids))
    for case in CATALOGUE:
        assert re.fullmatch(r"[A-Z]{2}-\d{3}", case.id), case.id
        assert case.category in CATEGORIES, case.id
        assert case.title and case.sends and case.expects, case.id
        assert 0 < case.budget <= 60
    assert all(any(c.category == name for c in CATALOGUE) for name in CATEGORIES)


def test_select_by_id_and_category() -> None:
    assert [c.id for c in select(["cv-001", "FT-002"])] == ["CV-001", "FT-002"]
    assert {c.category for c in select(["tls"])} == {"tls"}
    assert len(select(None)) == len(CATALOGUE)
    with pytest.raises(ValueError, match="XX-999"):
        select(["XX-999"])
