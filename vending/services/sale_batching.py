"""Which transactions are sales that may share a batch, and the rows each will lock.

The per-worker batcher (``xmlvend.transport.batching.BatchingRunner``, PostgreSQL only,
config ``[sales] batching``) asks :func:`sale_locks` about every transaction it is given:
a voucher sale, an embedded electricity vend and an upstream route's hold are batched (their
own transaction functions, unchanged, run inside :func:`vending.sale_batch.run_sale_batch`).
The upstream route's settles and refunds are batched in a second lane of the worker
(:func:`settle_locks`, :func:`utilities.routed_sales.run_settle_batch`); anything else --
advices, reversals, reads -- runs on its own as before.
"""

from __future__ import annotations

from typing import Any

from utilities.routed_sales import FAIL, HOLD, SETTLE
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
    if desc == HOLD:
        # An upstream route's hold: claim, re-check, debit into suspense, the pending sale
        # and its upstream_vends row (an id the batch fetches); no meter of ours to lock.
        ctx, now = args[0], args[2]
        return SaleLocks(
            account_id=ctx.principal.account_id,
            key=ctx.key,
            principal=ctx.principal,
            now=now,
            tables=("upstream_vends",),
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


_SETTLES = frozenset({SETTLE, FAIL})


def settle_locks(desc: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> SaleLocks | None:
    """An upstream route's settle or refund (batched by its own lane: it has no request key
    to claim, and locks its accounts itself), or None."""
    return SaleLocks() if desc in _SETTLES else None


__all__ = ["ELECTRICITY_SALE", "VOUCHER_SALE", "sale_locks", "settle_locks"]
