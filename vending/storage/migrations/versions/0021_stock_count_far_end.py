"""The sale batch's stock count reads a voucher product's PINs from the far end (issue 16).

``evd_sale_batch_start`` (migration 0020) counts a voucher product's sellable PINs up to the
low-stock threshold + 1 beyond the batch's own. It read them from the start of the table,
where the PINs already sold lie (sales take the earliest-expiring PINs first, and the import
writes them in that order): a sequential scan over every PIN sold since the last VACUUM, on
every batch -- 2.0 ms of PostgreSQL per batch at the voucher peak (pg_stat_statements), the
largest single statement of a voucher sale, and growing with the day's sales. The count now
reads the available-PIN index backwards (latest expiry and PINs that never expire first),
where no sale has been, and stops at its limit: the same number, a few index pages.

Only the count's statement changes; the rest of the function is 0020's, taken from there.

Revision ID: 0021_stock_count_far_end
Revises: 0020_sale_batch_start
Create Date: 2026-12-06
"""

from __future__ import annotations

import importlib

from alembic import op

revision = "0021_stock_count_far_end"
down_revision = "0020_sale_batch_start"
branch_labels = None
depends_on = None

_FIRST = importlib.import_module("vending.storage.migrations.versions.0020_sale_batch_start").START

FROM_THE_START = """
                SELECT count(*) FROM (
                    SELECT 1 FROM vouchers
                    WHERE product_id = $1 AND state = 'available'
                      AND (expiry IS NULL OR expiry >= $2)
                    LIMIT $3
                ) AS s
"""

# ORDER BY the index's columns, descending: a backward scan of ix_vouchers_available.
FROM_THE_FAR_END = FROM_THE_START.replace(
    "\n                    LIMIT $3",
    "\n                    ORDER BY product_id DESC, expiry DESC, id DESC"
    "\n                    LIMIT $3",
)


def start_function(count: str) -> str:
    """0020's ``evd_sale_batch_start`` with its stock count written as ``count``."""
    if _FIRST.count(FROM_THE_START) != 1:
        raise RuntimeError("migration 0020's stock count is not where 0021 expects it")
    return _FIRST.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1).replace(
        FROM_THE_START, count
    )


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(start_function(FROM_THE_FAR_END))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(start_function(FROM_THE_START))
