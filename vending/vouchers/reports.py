"""Stock reports: levels per product and per-batch reconciliation, valued at face and cost.

Every voucher of a batch is in exactly one bucket: sold, quarantined, expired (available
but past its expiry) or remaining (sellable), so ``imported`` must equal their sum; a
batch where it does not is flagged (rows lost or added outside the importer). ``reversed``
counts reversals over the batch's life: a reversed PIN is quarantined, and may have been
released and sold again since.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, func, or_, select

from vending.money import Money
from vending.storage.database import Txn
from vending.storage.schema import products
from vending.vouchers.tables import (
    stock_imports,
    stock_thresholds,
    suppliers,
    voucher_batches,
    vouchers,
)


@dataclass(frozen=True)
class StockLevel:
    product_code: str
    name: str
    network: str
    face_value: Money
    # Sellable now; of these, expiring within the report's horizon.
    sellable: int
    expiring_soon: int
    expired: int
    quarantined: int
    sold: int
    threshold: int | None

    @property
    def low(self) -> bool:
        return self.threshold is not None and self.sellable <= self.threshold


def stock_levels(txn: Txn, *, today: date, expiring_days: int) -> list[StockLevel]:
    """Every voucher product, with its stock counted by state."""
    horizon = today + timedelta(days=expiring_days)
    bucket = case(
        (vouchers.c.state != "available", vouchers.c.state),
        (vouchers.c.expiry < today, "expired"),
        (vouchers.c.expiry <= horizon, "soon"),
        else_="sellable",
    ).label("bucket")
    counts: dict[int, dict[str, int]] = {}
    for row in txn.execute(
        select(vouchers.c.product_id, bucket, func.count().label("count")).group_by(
            vouchers.c.product_id, bucket
        )
    ):
        counts.setdefault(row.product_id, {})[row.bucket] = int(row.count)
    thresholds = dict(
        txn.execute(
            select(stock_thresholds.c.product_id, stock_thresholds.c.low_stock_threshold)
        ).all()
    )
    levels = []
    for row in txn.execute(
        select(products).where(products.c.kind == "voucher").order_by(products.c.code)
    ):
        by_bucket = counts.get(row.id, {})
        attributes = dict(row.attributes or {})
        levels.append(
            StockLevel(
                product_code=row.code,
                name=row.name,
                network=str(attributes.get("network") or attributes.get("brand") or ""),
                face_value=Money(int(row.face_value or 0), row.currency),
                sellable=by_bucket.get("sellable", 0) + by_bucket.get("soon", 0),
                expiring_soon=by_bucket.get("soon", 0),
                expired=by_bucket.get("expired", 0),
                quarantined=by_bucket.get("quarantined", 0),
                sold=by_bucket.get("sold", 0),
                threshold=thresholds.get(row.id),
            )
        )
    return levels


@dataclass(frozen=True)
class BatchReconciliation:
    supplier_code: str
    import_id: int
    imported_at: datetime
    batch_no: str
    product_code: str
    earliest_expiry: date | None
    # Unit values at import time.
    face_value: Money
    cost_price: Money
    imported: int
    sold: int
    reversed: int
    quarantined: int
    expired: int
    remaining: int

    @property
    def accounted(self) -> int:
        return self.sold + self.quarantined + self.expired + self.remaining

    @property
    def balanced(self) -> bool:
        return self.accounted == self.imported

    def at_face(self, count: int) -> Money:
        return Money(self.face_value.amount * count, self.face_value.currency)

    def at_cost(self, count: int) -> Money:
        return Money(self.cost_price.amount * count, self.cost_price.currency)


def batch_reconciliation(
    txn: Txn, *, today: date, supplier_code: str | None = None
) -> list[BatchReconciliation]:
    """One line per imported batch, oldest import first."""
    available = vouchers.c.state == "available"

    def count_where(condition):  # type: ignore[no-untyped-def]
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    counted = (
        select(
            vouchers.c.import_id,
            vouchers.c.batch_seq,
            count_where(vouchers.c.state == "sold").label("sold"),
            count_where(vouchers.c.state == "quarantined").label("quarantined"),
            count_where(and_(available, vouchers.c.expiry < today)).label("expired"),
            count_where(
                and_(available, or_(vouchers.c.expiry.is_(None), vouchers.c.expiry >= today))
            ).label("remaining"),
            func.coalesce(func.sum(vouchers.c.reversal_count), 0).label("reversed"),
        )
        .group_by(vouchers.c.import_id, vouchers.c.batch_seq)
        .subquery()
    )
    query = (
        select(
            suppliers.c.code.label("supplier_code"),
            voucher_batches.c.import_id,
            stock_imports.c.imported_at,
            voucher_batches.c.batch_no,
            products.c.code.label("product_code"),
            voucher_batches.c.earliest_expiry,
            voucher_batches.c.face_value,
            voucher_batches.c.cost_price,
            voucher_batches.c.currency,
            voucher_batches.c.row_count,
            counted.c.sold,
            counted.c.reversed,
            counted.c.quarantined,
            counted.c.expired,
            counted.c.remaining,
        )
        .select_from(voucher_batches)
        .join(stock_imports, stock_imports.c.id == voucher_batches.c.import_id)
        .join(suppliers, suppliers.c.id == voucher_batches.c.supplier_id)
        .join(products, products.c.id == voucher_batches.c.product_id)
        .outerjoin(
            counted,
            and_(
                counted.c.import_id == voucher_batches.c.import_id,
                counted.c.batch_seq == voucher_batches.c.seq,
            ),
        )
        .order_by(voucher_batches.c.import_id, voucher_batches.c.seq)
    )
    if supplier_code is not None:
        query = query.where(suppliers.c.code == supplier_code)
    return [
        BatchReconciliation(
            supplier_code=row.supplier_code,
            import_id=row.import_id,
            imported_at=row.imported_at,
            batch_no=row.batch_no,
            product_code=row.product_code,
            earliest_expiry=row.earliest_expiry,
            face_value=Money(int(row.face_value), row.currency),
            cost_price=Money(int(row.cost_price), row.currency),
            imported=int(row.row_count),
            sold=int(row.sold or 0),
            reversed=int(row.reversed or 0),
            quarantined=int(row.quarantined or 0),
            expired=int(row.expired or 0),
            remaining=int(row.remaining or 0),
        )
        for row in txn.execute(query)
    ]


@dataclass(frozen=True)
class StockImport:
    id: int
    supplier_code: str
    file_name: str
    signer_fingerprint: str | None
    row_count: int
    face_total: Money
    cost_total: Money
    imported_by: str
    imported_at: datetime


def list_imports(txn: Txn, *, limit: int = 100) -> list[StockImport]:
    """The latest stock files imported, newest first."""
    rows = txn.execute(
        select(stock_imports, suppliers.c.code.label("supplier_code"))
        .join(suppliers, suppliers.c.id == stock_imports.c.supplier_id)
        .order_by(stock_imports.c.id.desc())
        .limit(limit)
    )
    return [
        StockImport(
            id=int(r.id),
            supplier_code=r.supplier_code,
            file_name=r.file_name,
            signer_fingerprint=r.signer_fingerprint,
            row_count=int(r.row_count),
            face_total=Money(int(r.face_total), r.currency),
            cost_total=Money(int(r.cost_total), r.currency),
            imported_by=r.imported_by,
            imported_at=r.imported_at,
        )
        for r in rows
    ]
