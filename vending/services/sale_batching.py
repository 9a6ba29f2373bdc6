"""Which transactions are sales that may share a batch, and the rows each will lock.

The per-worker batcher (``xmlvend.transport.batching.BatchingRunner``, PostgreSQL only,
config ``[sales] batching``) asks :func:`sale_locks` about every transaction it is given:
a voucher sale and an embedded electricity vend are batched (their own transaction
functions, unchanged, run inside :func:`vending.sale_batch.run_sale_batch`); anything else
-- an upstream route's hold and settle, advices, reversals, reads -- runs on its own as
before.
"""

from __future__ import annotations

from typing import Any

from vending.sale_batch import SaleLocks

# The transaction names of the sales (vending.services.voucher_sales, utilities.service).
VOUCHER_SALE = "sell_voucher"
ELECTRICITY_SALE = "utility_credit_vend"


def sale_locks(desc: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> SaleLocks | None:
    """The locks of a batchable sale's transaction, or None when it is not one."""
    if desc == VOUCHER_SALE:
        request, now = args[0], args[2]
        ctx = request.ctx
        return SaleLocks(
            account_id=ctx.principal.account_id,
            key=ctx.key,
            principal=ctx.principal,
            now=now,
            voucher_product=request.product_code,
        )
    if desc == ELECTRICITY_SALE:
        ctx, purchase = args[0], args[1]
        return SaleLocks(
            account_id=ctx.principal.account_id,
            meter_number=purchase.meter.msno,
            key=ctx.key,
            principal=ctx.principal,
            now=kwargs.get("now"),
        )
    return None


__all__ = ["ELECTRICITY_SALE", "VOUCHER_SALE", "sale_locks"]
