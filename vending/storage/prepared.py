"""Server-side prepared statements for the sale batch's write script (PostgreSQL).

Why: a batch's writes are ten-odd ``INSERT ... FROM unnest(...)`` / ``UPDATE ... FROM
unnest(...)`` statements sent as one query string. Sent as SQL text, PostgreSQL parses and
plans each of them again for every batch: about as much of its CPU per batch as executing a
small batch's rows (docs/PERFORMANCE.md). Prepared once per connection, a batch sends
``EXECUTE name(arrays)`` instead and the plan is reused.

A statement is prepared under a name derived from its text (the first table or function it
names and a digest of the text, e.g. ``sales__3f2a...``), so the
same text is prepared once per connection whatever builds it; the names a connection has
prepared are kept in its pool record's ``info`` (cleared when the connection is replaced,
as are the server's prepared statements); an engine made with ``prepare_statements=False``
gives its connections no such record, and statements go as text. ``PREPARE`` is not
transactional: a statement prepared in a batch that then rolls back stays prepared, as
recorded.

Parameters are psycopg2's ``%(name)s``; a cast right after one (``%(ids)s::bigint[]``)
gives the parameter its type in the PREPARE and is repeated in the EXECUTE's argument, so
that a value psycopg2 renders untyped (an array of NULLs, ``'{}'``) converts as it would in
the statement itself.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from sqlalchemy.engine import Connection

# The names prepared on a connection, in its pool record's info.
PREPARED_NAMES = "_evd_prepared"
# More statement shapes than this on one connection are sent as text: the shapes come from
# code, not data, so this is only a guard against a bug preparing without bound.
MAX_PREPARED = 256

# A psycopg2 parameter with an optional cast: %(name)s or %(name)s::type[] (a type name of
# one word or one of SQL's several-word names, optionally with a length or precision).
_PARAMETER = re.compile(
    r"%\((\w+)\)s"
    r"(::(?:(?:timestamp|time) with(?:out)? time zone|double precision|character varying|\w+)"
    r"(?:\(\d+(?:,\s*\d+)?\))?(?:\[\])*)?",
    re.IGNORECASE,
)

_LABEL = re.compile(r"(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|SELECT)\s+\"?([A-Za-z_]\w*)", re.I)


class Prepared:
    """One statement's prepared form: its name, its PREPARE and its EXECUTE text."""

    __slots__ = ("execute", "name", "prepare")

    def __init__(self, statement: str) -> None:
        order: dict[str, int] = {}
        arguments: list[str] = []

        def number(match: re.Match[str]) -> str:
            name, cast = match.group(1), match.group(2) or ""
            if name not in order:
                order[name] = len(order) + 1
                arguments.append(f"%({name})s{cast}")
            return f"${order[name]}{cast}"

        body = _PARAMETER.sub(number, statement)
        # Readable where statements are listed (pg_prepared_statements, pg_stat_activity):
        # the first table or function the statement names, then a digest of its text.
        named = _LABEL.search(statement)
        label = named.group(1).lower()[:40] if named else "statement"
        # Of the numbered text: the same statement is the same prepared statement wherever
        # a script put it (its parameters' names carry their position in the script).
        digest = hashlib.blake2b(body.encode(), digest_size=8).hexdigest()
        self.name = f"{label}__{digest}"
        self.prepare = f"PREPARE {self.name} AS {body}"
        listed = f"({', '.join(arguments)})" if arguments else ""
        self.execute = f"EXECUTE {self.name}{listed}"


_BY_TEXT: dict[str, Prepared] = {}


def prepared(statement: str) -> Prepared:
    """The prepared form of ``statement`` (built once per process)."""
    found = _BY_TEXT.get(statement)
    if found is None:
        found = Prepared(statement)
        if len(_BY_TEXT) < MAX_PREPARED * 4:
            _BY_TEXT[statement] = found
    return found


def as_executes(conn: Connection, statements: Sequence[str]) -> list[str]:
    """``statements`` as ``EXECUTE``s of statements prepared on ``conn``'s connection,
    preparing (in the current transaction) those it has not prepared yet. Unchanged on a
    connection that does not prepare (``[database] prepare_statements = false``: the engine
    gives its connections no set of names) and past :data:`MAX_PREPARED` names."""
    done: set[str] | None = conn.info.get(PREPARED_NAMES)
    if done is None:
        return list(statements)
    texts = []
    for statement in statements:
        form = prepared(statement)
        if form.name not in done and len(done) < MAX_PREPARED:
            # One PREPARE per round trip (once per connection and statement): a failed
            # one is then surely not prepared, so what is recorded is what the server has.
            conn.exec_driver_sql(form.prepare)
            done.add(form.name)
        texts.append(form.execute if form.name in done else statement)
    return texts


__all__ = ["MAX_PREPARED", "PREPARED_NAMES", "Prepared", "as_executes", "prepared"]
