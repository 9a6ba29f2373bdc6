"""The sale batch chooses its PINs by a statement on the vouchers alone (issue 16).

``evd_sale_batch_start`` chose a voucher product's PINs and read what the batch needs of them
(batch number, supplier code) in one statement joining three tables, written as dynamic SQL
so that it is planned with the actual values (a generic plan could sort every available
voucher, migration 0022). PostgreSQL planned that join again on every call: 0.44 ms of
planning per voucher batch to run 0.20 ms of statement, the largest planning cost of a
batch (``pg_stat_statements`` with ``track_planning``; docs/PERFORMANCE.md, session 13).

Now the choice stays dynamic but reads the vouchers alone (its plan: the available-PIN
index in order, as before; about a quarter of the join's planning), and what the batch reads
of the chosen PINs is a static statement by id, whose generic plan PL/pgSQL keeps. The rows
come back as before: the dated PINs by expiry then id, then those without expiry by id.

The function's text is 0023's with that one change (:func:`chosen_then_read`).

Revision ID: 0024_pins_chosen_then_read
Revises: 0023_meter_debt_read_after_lock
Create Date: 2026-12-07
"""

from __future__ import annotations

from importlib import import_module

from alembic import op

revision = "0024_pins_chosen_then_read"
down_revision = "0023_meter_debt_read_after_lock"
branch_labels = None
depends_on = None

_0022 = import_module("vending.storage.migrations.versions.0022_start_plans_kept")
_0023 = import_module("vending.storage.migrations.versions.0023_meter_debt_read_after_lock")

# Where 0020 chose and read the PINs in one statement (and the loose ones in another).
CHOSEN_AND_READ_FROM = (
    "        EXECUTE $q$\n"
    "            SELECT coalesce(json_agg(r ORDER BY r.expiry, r.id), '[]'), count(*)\n"
)
CHOSEN_AND_READ_TO = "        -- The stock level as the low-stock check would count it"
CHOSEN_THEN_READ = """\
        -- Chosen by a statement on the vouchers alone (planned with the actual values),
        -- then read by id (a static statement: its plan is kept). Migration 0024.
        EXECUTE $q$
            SELECT coalesce(array_agg(x.id ORDER BY x.expiry, x.id), '{}')
            FROM (
                SELECT v.id, v.expiry FROM vouchers v
                WHERE v.product_id = $1 AND v.state = 'available' AND v.expiry >= $2
                ORDER BY v.expiry, v.id
                LIMIT $3
                FOR UPDATE SKIP LOCKED
            ) AS x
        $q$ INTO v_pins USING p_products[i], p_days[i], p_counts[i];
        v_found := cardinality(v_pins);
        IF v_found < p_counts[i] THEN
            EXECUTE $q$
                SELECT coalesce(array_agg(x.id ORDER BY x.id), '{}')
                FROM (
                    SELECT v.id FROM vouchers v
                    WHERE v.product_id = $1 AND v.state = 'available' AND v.expiry IS NULL
                    ORDER BY v.id
                    LIMIT $2
                    FOR UPDATE SKIP LOCKED
                ) AS x
            $q$ INTO v_loose_pins USING p_products[i], p_counts[i] - v_found;
            v_pins := v_pins || v_loose_pins;
        END IF;
        -- Dated PINs by expiry then id, then those without expiry by id (NULLS LAST).
        SELECT coalesce(json_agg(r ORDER BY r.expiry, r.id), '[]') INTO v_rows
        FROM (
{columns_and_joins}            WHERE v.id = ANY(v_pins)
        ) AS r;
"""
# What a batch reads of its PINs -- 0020's column list and joins, taken from the statement
# this revision replaces (one copy of them), one level less indented.
READ_FROM = "\n                SELECT v.id, v.supplier_id"
READ_TO = "\n                WHERE v.product_id = $1 AND v.state = 'available' AND v.expiry >= $2"
# The variables: the two JSON documents and the second count become the chosen ids.
DECLARED = "    v_loose json;\n    v_found integer;\n    v_more_found integer;\n"
DECLARED_NOW = "    v_pins bigint[];\n    v_loose_pins bigint[];\n    v_found integer;\n"
ROWS = "'rows', (v_rows::jsonb || v_loose::jsonb),"
ROWS_NOW = "'rows', v_rows,"


def chosen_then_read(function: str) -> str:
    start = function.find(CHOSEN_AND_READ_FROM)
    end = function.find(CHOSEN_AND_READ_TO)
    if (
        function.count(CHOSEN_AND_READ_FROM) != 1
        or function.count(CHOSEN_AND_READ_TO) != 1
        or not 0 < start < end
        or function.count(DECLARED) != 1
        or function.count(ROWS) != 1
    ):
        raise RuntimeError("the start function's PIN selection is not where 0024 expects it")
    replaced = function[start:end]
    if replaced.count(READ_FROM) != 1 or replaced.count(READ_TO) != 1:
        raise RuntimeError("the start function's PIN columns are not where 0024 expects them")
    columns = replaced[replaced.index(READ_FROM) + 1 : replaced.index(READ_TO) + 1]
    columns_and_joins = "".join(line[4:] for line in columns.splitlines(keepends=True))
    block = CHOSEN_THEN_READ.replace("{columns_and_joins}", columns_and_joins)
    changed = function[:start] + block + function[end:]
    return changed.replace(DECLARED, DECLARED_NOW).replace(ROWS, ROWS_NOW)


def _previous() -> str:
    return _0023.read_after_lock(_0022.start_function())


def start_function() -> str:
    """The start function as this revision creates it (for a later one to change)."""
    return chosen_then_read(_previous())


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(start_function())


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_previous())
