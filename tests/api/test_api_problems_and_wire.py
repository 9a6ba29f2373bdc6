"""The JSON API's problem table agrees with XMLVend's fault table; wire parsing is strict."""

from __future__ import annotations

import json

import pytest

from jsonapi import wire
from jsonapi.problems import (
    INTERNAL,
    PROBLEM_TABLE,
    UTILITY_TYPES,
    ApiProblem,
    problem_for,
    problem_type_for,
)
from utilities import errors as utility_errors
from vending import errors as core
from vending.money import Money
from xmlvend.server.faults import fault_for


def _instances() -> list[BaseException]:
    found: list[BaseException] = []
    for klass in PROBLEM_TABLE:
        try:
            found.append(klass("a message"))
        except TypeError:
            continue
    for name in dir(utility_errors):
        klass = getattr(utility_errors, name)
        if isinstance(klass, type) and issubclass(klass, utility_errors.UtilityError):
            try:
                found.append(klass("a message"))
            except TypeError:
                continue
    return found


@pytest.mark.parametrize("error", _instances(), ids=lambda e: type(e).__name__)
def test_every_problem_names_the_fault_class_xmlvend_answers_for_the_same_failure(
    error: BaseException,
) -> None:
    kind = problem_type_for(error)
    if kind.fault_class is None or type(error).__module__ in (
        "vending.consumers",
        "vending.api_keys",
    ):  # JSON-only failures: not found; consumers and API keys (no XMLVend counterpart)
        return
    assert kind.fault_class == fault_for(error).fault_class, type(error).__name__


def test_problem_types_are_stable_uris_and_details_never_leak_internals() -> None:
    assert UTILITY_TYPES["UnknownMeterEx"].uri == "/api/v1/problems/unknown-meter"
    assert problem_type_for(core.InsufficientFunds("x")).uri == (
        "/api/v1/problems/insufficient-funds"
    )
    problem = problem_for(RuntimeError("password=hunter2 in a traceback"), "abc123")
    body = json.loads(problem.body())
    assert problem.type is INTERNAL and problem.internal
    assert "hunter2" not in problem.body().decode() and "abc123" in body["detail"]
    assert set(body) == {"type", "title", "status", "detail", "fault_class"}


def test_amounts_are_decimal_strings_with_the_currency_digits() -> None:
    assert wire.money("100.00", "ZAR") == Money(10000, "ZAR")
    assert wire.money("5", "ZAR") == Money(500, "ZAR")
    for bad in ("1.005", "-1.00", "1e3", "0.00", " 1", "1,00", "", "100.000"):
        with pytest.raises(ApiProblem):
            wire.money(bad, "ZAR")


def test_bodies_must_be_one_object_without_duplicates_or_unknown_fields() -> None:
    assert wire.load_object(b'{"a": "1"}') == {"a": "1"}
    for bad in (b"[]", b"{", b'{"a": 1, "a": 2}', b'{"a": NaN}', b"\xff"):
        with pytest.raises(ApiProblem):
            wire.load_object(bad)
    with pytest.raises(ApiProblem, match="unknown field"):
        wire.fields({"a": "x", "b": "y"}, required=("a",))
    with pytest.raises(ApiProblem, match="must be a non-empty string"):
        wire.fields({"a": 5}, required=("a",))
    assert wire.canonical({"b": 1, "a": 2}) == b'{"a":2,"b":1}'


def test_idempotency_keys_dates_and_cursors() -> None:
    assert wire.idempotency_key(b"3f1c-77") == "3f1c-77"
    for bad in (b"", b"has space", b"x" * 60, "é".encode()):
        with pytest.raises(ApiProblem):
            wire.idempotency_key(bad)
    with pytest.raises(ApiProblem, match="required"):
        wire.idempotency_key(None)
    assert wire.idempotency_key(None, required=False) is None
    assert wire.parse_instant("2026-11-22", "from").isoformat() == "2026-11-22T00:00:00+00:00"
    assert wire.parse_instant("2026-11-22T12:00:00+02:00", "from").hour == 10
    with pytest.raises(ApiProblem, match="time zone"):
        wire.parse_instant("2026-11-22T12:00:00", "from")
    with pytest.raises(ApiProblem):
        wire.cursor("-1")
    with pytest.raises(ApiProblem):
        wire.limit("101")
