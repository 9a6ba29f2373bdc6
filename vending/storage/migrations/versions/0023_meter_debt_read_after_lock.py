"""The sale batch reads its meters' debts after locking the meters (a fix).

``evd_sale_batch_start`` locked the batch's meters and read them with their tariff and debt
in one statement (``... LEFT JOIN meter_debts d ... FOR UPDATE OF m``). When that statement
waits for another transaction holding a meter (another worker's batch selling to the same
meter), PostgreSQL re-reads the locked meter row once it is free, but the joined debt row
stays as it was when the statement began (READ COMMITTED re-checks only the rows it
locks): the batch priced its sale on the debt from before the other sale's recovery, and
its own recovery then found less debt than it meant to recover (an internal error,
"debt of meter ... is lower than ...", seen in the crash campaign) or reported a debt the
meter no longer owed. The meters are now locked by a statement of their own, and read by
the next one, whose snapshot is taken after the locks are granted.

The function's text is 0022's with that one change (:func:`read_after_lock`).

Revision ID: 0023_meter_debt_read_after_lock
Revises: 0022_start_plans_kept
Create Date: 2026-12-06
"""

from __future__ import annotations

from importlib import import_module

from alembic import op

revision = "0023_meter_debt_read_after_lock"
down_revision = "0022_start_plans_kept"
branch_labels = None
depends_on = None

_0022 = import_module("vending.storage.migrations.versions.0022_start_plans_kept")

# The meters' read, as 0020 wrote it: the statement locked the meters and read them.
METERS_READ = "    SELECT coalesce(json_agg(locked ORDER BY locked.id), '[]') INTO v_meters\n"
LOCKED_BY_THE_READ = "        ORDER BY m.id\n        FOR UPDATE OF m\n    ) AS locked;"
# Now: locked by a statement of their own, then read by the next (no lock, no order).
LOCK_FIRST = (
    "    PERFORM 1 FROM meters WHERE msno = ANY(p_meters) ORDER BY id FOR UPDATE;\n"
    "    -- Read by a statement of its own, after the locks (migration 0023).\n"
)


def read_after_lock(function: str) -> str:
    if function.count(METERS_READ) != 1 or function.count(LOCKED_BY_THE_READ) != 1:
        raise RuntimeError("the start function's meter read is not where 0023 expects it")
    return function.replace(METERS_READ, LOCK_FIRST + METERS_READ).replace(
        LOCKED_BY_THE_READ, "    ) AS locked;"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(read_after_lock(_0022.start_function()))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_0022.start_function())
