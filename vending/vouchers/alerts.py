"""Stock alerts: low stock per product (once per crossing) and batches expiring soon.

An alert is a row in the notifications outbox, written in the transaction that makes it
true, plus the outbox's log line after the commit. Low stock is raised when a product's
sellable vouchers fall to its threshold or below, and re-armed only when stock is back
above it (an import or a release), so a product selling its last fifty PINs raises one
alert, not fifty.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from vending import audit, outbox
from vending.errors import InvalidRequest
from vending.products import get_product
from vending.storage.database import Txn
from vending.storage.schema import products
from vending.vouchers.tables import stock_thresholds, voucher_batches, vouchers

log = logging.getLogger(__name__)

LOW_STOCK = "stock.low"
EXPIRING_SOON = "stock.expiring"


def sellable(today: date):  # type: ignore[no-untyped-def]
    """The condition of a voucher that can be sold on ``today``."""
    return and_(
        vouchers.c.state == "available",
        or_(vouchers.c.expiry.is_(None), vouchers.c.expiry >= today),
    )


# Prebuilt: every voucher sale checks its product's threshold (refresh_low_stock). The
# PINs are counted from the far end of the available-PIN index (latest expiry first; a
# backward scan): sales take the earliest-expiring PINs, so from the start a count up to the
# threshold walked over every PIN sold since the last VACUUM (migration 0021 says more).
_COUNT_UP_TO = select(func.count()).select_from(
    select(vouchers.c.id)
    .where(vouchers.c.product_id == bindparam("p_product"), sellable(bindparam("p_today")))
    .order_by(vouchers.c.product_id.desc(), vouchers.c.expiry.desc(), vouchers.c.id.desc())
    .limit(bindparam("p_limit"))
    .subquery()
)
_THRESHOLD = select(
    stock_thresholds.c.low_stock_threshold, stock_thresholds.c.low_stock_alerted_at
).where(stock_thresholds.c.product_id == bindparam("p_product"))

# PostgreSQL: _THRESHOLD and _COUNT_UP_TO (limit: the threshold + 1) as one statement.
_LEVEL_SQL = """
SELECT t.low_stock_threshold, t.low_stock_alerted_at,
       (SELECT count(*) FROM (
            SELECT v.id FROM vouchers AS v
            WHERE v.product_id = t.product_id AND v.state = 'available'
              AND (v.expiry IS NULL OR v.expiry >= %(today)s)
            ORDER BY v.product_id DESC, v.expiry DESC, v.id DESC
            LIMIT t.low_stock_threshold + 1
        ) AS up_to) AS remaining
FROM stock_thresholds AS t
WHERE t.product_id = %(product)s
"""


def count_sellable(txn: Txn, product_id: int, today: date, *, limit: int | None = None) -> int:
    """Sellable vouchers of a product, counting at most ``limit`` (an index range scan)."""
    if limit is not None:
        params = {"p_product": product_id, "p_today": today, "p_limit": limit}
        return int(txn.execute(_COUNT_UP_TO, params).scalar_one())
    query = select(vouchers.c.id).where(vouchers.c.product_id == product_id, sellable(today))
    return int(txn.execute(select(func.count()).select_from(query.subquery())).scalar_one())


def ensure_threshold(txn: Txn, product_id: int, threshold: int) -> None:
    """Give a product its threshold row (``threshold``) unless it has one."""
    insert = pg_insert if txn.is_postgres else sqlite_insert
    txn.execute(
        insert(stock_thresholds)
        .values(product_id=product_id, low_stock_threshold=threshold)
        .on_conflict_do_nothing(index_elements=["product_id"])
    )


def set_threshold(
    txn: Txn, product_code: str, threshold: int, *, actor: str, now: datetime
) -> None:
    if threshold < 0:
        raise InvalidRequest("the low-stock threshold cannot be negative")
    product = get_product(txn, product_code)
    if product.kind != "voucher":
        raise InvalidRequest(f"{product_code} is not a voucher product")
    ensure_threshold(txn, product.id, threshold)
    txn.execute(
        update(stock_thresholds)
        .where(stock_thresholds.c.product_id == product.id)
        .values(low_stock_threshold=threshold)
    )
    audit.record(
        txn,
        actor=actor,
        action="stock.threshold",
        subject=product_code,
        details={"low_stock_threshold": threshold},
        now=now,
    )
    refresh_low_stock(txn, product.id, now=now)


def refresh_low_stock(
    txn: Txn, product_id: int, *, today: date | None = None, now: datetime
) -> bool:
    """Raise the low-stock alert of a product that crossed its threshold, or re-arm it
    once stock is back above; True when an alert was raised."""
    today = today or now.date()
    if txn.is_postgres:
        # The threshold and the count up to it in one statement (a sale batch checks
        # every voucher product it sold from).
        level = txn.conn.exec_driver_sql(
            _LEVEL_SQL, {"product": product_id, "today": today}
        ).first()
        if level is None:
            return False
        threshold, alerted_at, remaining = level
    else:
        row = txn.execute(_THRESHOLD, {"p_product": product_id}).first()
        if row is None:
            return False
        threshold, alerted_at = row.low_stock_threshold, row.low_stock_alerted_at
        remaining = count_sellable(txn, product_id, today, limit=threshold + 1)
    low = remaining <= threshold
    if low and alerted_at is None:
        # Conditional: of two sales crossing the threshold together, one raises the alert.
        raised = txn.execute(
            update(stock_thresholds)
            .where(
                stock_thresholds.c.product_id == product_id,
                stock_thresholds.c.low_stock_alerted_at.is_(None),
            )
            .values(low_stock_alerted_at=now)
        ).rowcount
        if raised == 1:
            code = txn.execute(select(products.c.code).where(products.c.id == product_id)).scalar()
            outbox.notify(
                txn,
                kind=LOW_STOCK,
                subject=f"low stock: {code}",
                payload={"product": code, "remaining": remaining, "threshold": threshold},
                now=now,
            )
            return True
    elif not low and alerted_at is not None:
        txn.execute(
            update(stock_thresholds)
            .where(stock_thresholds.c.product_id == product_id)
            .values(low_stock_alerted_at=None)
        )
    return False


@dataclass(frozen=True)
class ExpiringBatch:
    import_id: int
    batch_seq: int
    batch_no: str
    product_code: str
    count: int
    earliest_expiry: date


def expiring_batches(txn: Txn, *, days: int, today: date) -> list[ExpiringBatch]:
    """Batches with sellable vouchers whose expiry falls within ``days`` of ``today``."""
    horizon = today + timedelta(days=days)
    grouped = (
        select(
            vouchers.c.import_id,
            vouchers.c.batch_seq,
            func.count().label("count"),
            func.min(vouchers.c.expiry).label("earliest"),
        )
        .where(
            vouchers.c.state == "available",
            vouchers.c.expiry >= today,
            vouchers.c.expiry <= horizon,
        )
        .group_by(vouchers.c.import_id, vouchers.c.batch_seq)
        .subquery()
    )
    rows = txn.execute(
        select(
            grouped.c.import_id,
            grouped.c.batch_seq,
            voucher_batches.c.batch_no,
            products.c.code,
            grouped.c.count,
            grouped.c.earliest,
        )
        .join(
            voucher_batches,
            and_(
                voucher_batches.c.import_id == grouped.c.import_id,
                voucher_batches.c.seq == grouped.c.batch_seq,
            ),
        )
        .join(products, products.c.id == voucher_batches.c.product_id)
        .order_by(grouped.c.earliest, products.c.code, voucher_batches.c.batch_no)
    )
    return [
        ExpiringBatch(
            row.import_id, row.batch_seq, row.batch_no, row.code, int(row.count), row.earliest
        )
        for row in rows
    ]


def raise_expiring_alerts(
    txn: Txn, *, days: int, today: date | None = None, now: datetime
) -> list[ExpiringBatch]:
    """Notify once per batch that has sellable vouchers expiring within ``days``."""
    today = today or now.date()
    raised = []
    for batch in expiring_batches(txn, days=days, today=today):
        updated = txn.execute(
            update(voucher_batches)
            .where(
                voucher_batches.c.import_id == batch.import_id,
                voucher_batches.c.seq == batch.batch_seq,
                voucher_batches.c.expiry_alerted_at.is_(None),
            )
            .values(expiry_alerted_at=now)
        ).rowcount
        if updated:
            outbox.notify(
                txn,
                kind=EXPIRING_SOON,
                subject=f"expiring soon: {batch.product_code} batch {batch.batch_no}",
                payload={
                    "product": batch.product_code,
                    "batch": batch.batch_no,
                    "import": batch.import_id,
                    "count": batch.count,
                    "earliest_expiry": batch.earliest_expiry.isoformat(),
                },
                now=now,
            )
            raised.append(batch)
    return raised
