"""The sale batch's start function keeps its statements' plans (issue 16).

``evd_sale_batch_start`` (migrations 0020, 0021) counts a voucher product's stock by dynamic
SQL (``EXECUTE``), which PostgreSQL plans again on every call: 0.12 ms of planning per
batch to run a 0.03 ms count, at the voucher peak (``pg_stat_statements`` with
``track_planning``; docs/PERFORMANCE.md, session 12). Its plan does not depend on the
values: it walks the available-PIN index backwards and stops at its limit
(tests/vouchers/test_vouchers_stock_count.py checks the generic plan on a table whose
first rows are all gone). So the count is written as static SQL, whose plan PL/pgSQL keeps
per connection, and the function runs with ``plan_cache_mode = force_generic_plan``: left
to choose, PostgreSQL would plan again each call anyway, because a generic plan's cost,
estimated for an unknown LIMIT (a tenth of the table), always looks higher than a custom
plan's for the batch's few rows. The function's other static statements (claims, locks,
principals, ids) take arrays and ids and had generic plans already, but for the ids'
(planned again each call for its ``generate_series`` bound: 0.04 ms per batch).

The PIN selections stay dynamic, planned with the actual values: on the same test table
their generic plan sorted the product's available PINs in some runs (with some samples of
the statistics), as 0020 feared.

The count's text is 0021's; only ``EXECUTE $q$ ... $q$ INTO ... USING ...`` becomes
``SELECT ... INTO ...`` with the arguments in place of ``$1``.. (:func:`static`).

Revision ID: 0022_start_plans_kept
Revises: 0021_stock_count_far_end
Create Date: 2026-12-06
"""

from __future__ import annotations

import importlib
import re

from alembic import op

revision = "0022_start_plans_kept"
down_revision = "0021_stock_count_far_end"
branch_labels = None
depends_on = None

_0021 = importlib.import_module("vending.storage.migrations.versions.0021_stock_count_far_end")

HEADER = "RETURNS json LANGUAGE plpgsql AS $$"
GENERIC_HEADER = "RETURNS json LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$"

_DYNAMIC = re.compile(
    r"EXECUTE \$q\$\n(?P<body>.*?)\n\s*\$q\$ INTO (?P<into>[^\n]*?)\s+USING (?P<using>[^;]*);",
    re.DOTALL,
)
_PARAMETER = re.compile(r"\$(\d)\b")


def _static(match: re.Match[str]) -> str:
    body, into = match.group("body"), match.group("into")
    arguments = [a.strip() for a in " ".join(match.group("using").split()).split(", ")]
    # The SELECT list ends at the first FROM (each statement selects from a subquery).
    select, found, rest = body.partition("FROM (")
    if not select.lstrip().startswith("SELECT") or not found:
        raise RuntimeError(f"not a SELECT ... FROM ( where 0022 expects one: {select!r}")
    text = match.string
    pad = " " * (match.start() - text.rfind("\n", 0, match.start()) - 1)  # the EXECUTE's
    statement = f"{select.strip()}\n{pad}INTO {into}\n{pad}FROM ({rest}"

    def argument(number: re.Match[str]) -> str:
        return arguments[int(number.group(1)) - 1]

    return _PARAMETER.sub(argument, statement).strip() + ";"


def _count_static(match: re.Match[str]) -> str:
    return _static(match) if match.group("into") == "v_sellable" else match.group(0)


def static(function: str) -> str:
    """``function`` with its stock count written as static SQL and run on kept plans."""
    if len(_DYNAMIC.findall(function)) != 3:
        raise RuntimeError("0021's start function does not have the three EXECUTEs 0022 expects")
    changed = _DYNAMIC.sub(_count_static, function)
    if changed.count("EXECUTE $q$") != 2 or "INTO v_sellable\n" not in changed:
        raise RuntimeError("0021's stock count is not as 0022 expects")
    if changed.count(HEADER) != 1:
        raise RuntimeError("0021's start function header is not as 0022 expects")
    return changed.replace(HEADER, GENERIC_HEADER)


def start_function() -> str:
    """0022's ``evd_sale_batch_start``."""
    return static(_0021.start_function(_0021.FROM_THE_FAR_END))


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(start_function())


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_0021.start_function(_0021.FROM_THE_FAR_END))
