"""Lists written as PostgreSQL array literals (vending.storage.array_literals) read back as
the same values psycopg2's own adaptation gives, whatever the text holds (quotes,
backslashes, braces, commas, "NULL", whitespace, any Unicode)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vending.storage.array_literals import array_literal, with_array_literals
from vending.storage.database import Database, Txn


def test_literals_of_each_type() -> None:
    at = datetime(2026, 3, 1, 12, 0, 5, 123, tzinfo=UTC)
    assert array_literal([1, None, -2]) == "{1,NULL,-2}"
    assert array_literal(['a"b\\c', "NULL", "", " x,{}"]) == r'{"a\"b\\c","NULL",""," x,{}"}'
    assert array_literal([b"\x00\xff", b""]) == r'{"\\x00ff","\\x"}'
    assert array_literal([at, date(2026, 3, 1)]) == (
        '{"2026-03-01T12:00:05.000123+00:00","2026-03-01"}'
    )
    assert array_literal([True, False, Decimal("1.50")]) == "{t,f,1.50}"
    assert array_literal([]) == "{}"


def test_anything_else_is_left_to_the_driver() -> None:
    assert array_literal([1, 2.5]) is None
    assert array_literal([Decimal("NaN")]) is None
    assert array_literal([[1, 2]]) is None
    params = {"a": [1, 2], "b": [object()], "n": 3, "t": (1, 2)}
    out = with_array_literals(params)
    assert out["a"] == "{1,2}" and out["b"] is params["b"] and out["n"] == 3
    assert out["t"] == (1, 2)  # a tuple is psycopg2's row syntax, not an array


TEXT = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]))
TIMES = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
# (element type, values): each list is sent both ways and must read back the same.
CASES = st.one_of(
    st.tuples(st.just("text"), st.lists(st.none() | TEXT, max_size=6)),
    st.tuples(
        st.just("bigint"), st.lists(st.none() | st.integers(-(2**63), 2**63 - 1), max_size=6)
    ),
    st.tuples(st.just("bytea"), st.lists(st.none() | st.binary(max_size=40), max_size=6)),
    st.tuples(st.just("timestamptz"), st.lists(st.none() | TIMES, max_size=6)),
    st.tuples(st.just("date"), st.lists(st.none() | st.dates(), max_size=6)),
    st.tuples(st.just("boolean"), st.lists(st.none() | st.booleans(), max_size=6)),
    st.tuples(
        st.just("numeric"),
        st.lists(
            st.none() | st.decimals(allow_nan=False, allow_infinity=False, places=2), max_size=6
        ),
    ),
)


def _read_back(txn: Txn, kind: str, value: Any) -> Any:
    row = txn.conn.exec_driver_sql(f"SELECT %(v)s::{kind}[]", {"v": value}).one()
    return [bytes(v) if isinstance(v, memoryview) else v for v in row[0]]


@pytest.mark.postgres
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=CASES)
def test_a_literal_reads_back_as_the_drivers_own_array(
    pg_database: Database, case: tuple[str, list[Any]]
) -> None:
    kind, values = case
    literal = array_literal(values)
    assert literal is not None

    def both(txn: Txn) -> tuple[Any, Any]:
        return _read_back(txn, kind, values), _read_back(txn, kind, literal)

    native, ours = pg_database.run_txn("literal", both)
    assert ours == native
    if kind == "timestamptz":
        assert all(a is None or a - b == timedelta(0) for a, b in zip(ours, values, strict=True))
