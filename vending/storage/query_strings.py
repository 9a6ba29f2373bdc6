"""Several statements as one PostgreSQL query string: one round trip.

psycopg2 interpolates parameters on the client, so ``;``-separated statements go as one
simple query, run in order in the transaction; an error stops the rest (a COMMIT at its end
included). Each statement's ``%(name)s`` parameters are renamed apart by a prefix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

_PARAM = re.compile(r"%\((\w+)\)s")

Statement = tuple[str, Mapping[str, Any]]


def with_prefix(
    statement: str, params: Mapping[str, Any], prefix: str
) -> tuple[str, dict[str, Any]]:
    """``statement`` and ``params`` with every parameter name prefixed by ``prefix``."""
    text = _PARAM.sub(lambda m: f"%({prefix}{m.group(1)})s", statement)
    return text, {prefix + name: value for name, value in params.items()}


def one_query(statements: Sequence[Statement]) -> tuple[str, dict[str, Any]]:
    """``statements`` (at least one) as one query string and its parameters."""
    if len(statements) == 1:
        return statements[0][0], dict(statements[0][1])
    texts: list[str] = []
    params: dict[str, Any] = {}
    for n, (statement, values) in enumerate(statements):
        text, renamed = with_prefix(statement, values, f"q{n}_")
        texts.append(text)
        params.update(renamed)
    return ";\n".join(texts), params


__all__ = ["Statement", "one_query", "with_prefix"]
