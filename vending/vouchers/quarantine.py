"""Taking vouchers out of stock and putting them back, after a person's review.

A reversed sale quarantines its PIN automatically (``selling.reverse_voucher_sale``); an
operator quarantines stock a supplier reports lost or stolen; ``release`` returns
quarantined vouchers to stock. Every change is audited with the operator's reason.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_, select, update

from vending import audit
from vending.errors import InvalidRequest
from vending.storage.database import Txn
from vending.vouchers import alerts
from vending.vouchers.errors import UnknownVoucher, VoucherStateError
from vending.vouchers.suppliers import get_supplier
from vending.vouchers.tables import voucher_batches, vouchers


def _find(txn: Txn, supplier_id: int, serials: list[str]) -> dict[str, tuple[int, int, str]]:
    """serial → (voucher id, product id, state); raises UnknownVoucher naming the missing."""
    found = {
        row.serial_no: (row.id, row.product_id, row.state)
        for row in txn.execute(
            select(
                vouchers.c.id, vouchers.c.product_id, vouchers.c.state, vouchers.c.serial_no
            ).where(vouchers.c.supplier_id == supplier_id, vouchers.c.serial_no.in_(serials))
        )
    }
    missing = [serial for serial in serials if serial not in found]
    if missing:
        raise UnknownVoucher(f"no voucher with serial number {', '.join(missing[:10])}")
    return found


def release_vouchers(
    txn: Txn,
    *,
    supplier_code: str,
    serials: list[str],
    reason: str,
    actor: str,
    now: datetime,
) -> int:
    """Return quarantined vouchers to stock (all of them or none); how many."""
    if not serials:
        raise InvalidRequest("name at least one serial number")
    if not reason.strip():
        raise InvalidRequest("give the reason for the release (it is audited)")
    supplier = get_supplier(txn, supplier_code)
    found = _find(txn, supplier.id, serials)
    wrong = [serial for serial, (_id, _p, state) in found.items() if state != "quarantined"]
    if wrong:
        raise VoucherStateError(f"not quarantined: {', '.join(sorted(wrong)[:10])}")
    # A PIN that went out in a sale's answer (a reversed sale) may still be held by its
    # buyer: selling it again would sell the same value twice. It stays quarantined.
    delivered = sorted(
        txn.execute(
            select(vouchers.c.serial_no).where(
                vouchers.c.id.in_([voucher_id for voucher_id, _p, _s in found.values()]),
                vouchers.c.sale_id.is_not(None),
            )
        ).scalars()
    )
    if delivered:
        raise VoucherStateError(
            "delivered in a sale that was reversed (its buyer may still hold the PIN), never "
            f"returned to stock: {', '.join(delivered[:10])}"
        )
    for serial, (voucher_id, _product_id, _state) in found.items():
        txn.execute(
            update(vouchers)
            .where(vouchers.c.id == voucher_id, vouchers.c.state == "quarantined")
            .values(state="available", sale_id=None, state_changed_at=now, state_reason=reason)
        )
        audit.record(
            txn,
            actor=actor,
            action="voucher.release",
            subject=f"voucher:{voucher_id}",
            details={"supplier": supplier_code, "serial_no": serial, "reason": reason[:200]},
            now=now,
        )
    for product_id in {product_id for _id, product_id, _state in found.values()}:
        alerts.refresh_low_stock(txn, product_id, now=now)
    return len(found)


def quarantine_vouchers(
    txn: Txn,
    *,
    supplier_code: str,
    reason: str,
    actor: str,
    serials: list[str] | None = None,
    batch_no: str | None = None,
    now: datetime,
) -> int:
    """Withdraw available vouchers, by serial number or a whole batch; how many."""
    if bool(serials) == (batch_no is not None):
        raise InvalidRequest("name serial numbers or a batch, not both")
    if not reason.strip():
        raise InvalidRequest("give the reason for the quarantine (it is audited)")
    supplier = get_supplier(txn, supplier_code)
    if serials:
        found = _find(txn, supplier.id, serials)
        wrong = [serial for serial, (_id, _p, state) in found.items() if state != "available"]
        if wrong:
            raise VoucherStateError(f"not in stock: {', '.join(sorted(wrong)[:10])}")
        condition = vouchers.c.id.in_([voucher_id for voucher_id, _p, _s in found.values()])
        subject = f"supplier:{supplier_code} serials:{len(serials)}"
    else:
        batches = txn.execute(
            select(voucher_batches.c.import_id, voucher_batches.c.seq).where(
                voucher_batches.c.supplier_id == supplier.id,
                voucher_batches.c.batch_no == batch_no,
            )
        ).all()
        if not batches:
            raise UnknownVoucher(f"{supplier_code} has no batch {batch_no!r}")
        condition = or_(
            *(
                and_(vouchers.c.import_id == b.import_id, vouchers.c.batch_seq == b.seq)
                for b in batches
            )
        )
        subject = f"supplier:{supplier_code} batch:{batch_no}"
    affected = txn.execute(
        select(vouchers.c.product_id).where(condition, vouchers.c.state == "available").distinct()
    ).scalars()
    product_ids = set(affected)
    count = txn.execute(
        update(vouchers)
        .where(condition, vouchers.c.state == "available")
        .values(state="quarantined", state_changed_at=now, state_reason=reason[:200])
    ).rowcount
    audit.record(
        txn,
        actor=actor,
        action="voucher.quarantine",
        subject=subject,
        details={"count": count, "serials": (serials or [])[:50], "reason": reason[:200]},
        now=now,
    )
    for product_id in product_ids:
        alerts.refresh_low_stock(txn, product_id, now=now)
    return count
