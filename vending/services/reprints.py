"""Reprints: the vendor's last sales for a meter or a voucher product, each the original
answer byte for byte (original request id, date, receipt, token or PIN), oldest first.

Only completed sales made through the asking channel whose answer was not a failure are
reprinted: a reversed sale is never reprinted (its PIN or token is void). A reprint shows
a PIN again, so it counts as a delivery: a reprinted voucher sale can no longer be
reversed (``sales.reprint_count``, :mod:`vending.services.reversal_policy`).
"""

from __future__ import annotations

from dataclasses import dataclass

from vending.auth import revalidate
from vending.keyring import Keyring
from vending.sales import count_reprint, recent_sales
from vending.services import idempotency
from vending.services.context import RequestContext, TxnRunner
from vending.services.errors import NothingToReprint
from vending.storage.database import Txn


@dataclass(frozen=True)
class ReprintRequest:
    """``target``: a meter number or a voucher product code; ``limit``: how many sales."""

    ctx: RequestContext
    target: str
    limit: int = 5


class Reprints:
    def __init__(self, runner: TxnRunner, keyring: Keyring) -> None:
        self._runner = runner
        self._keyring = keyring

    async def originals(self, request: ReprintRequest) -> list[bytes]:
        """The original answers (oldest first). Raises NothingToReprint when there are none."""
        originals = await self._runner.run("reprint", self._originals, request)
        if not originals:
            raise NothingToReprint(
                f"no transactions of this vendor found for {request.target} to reprint"
            )
        return originals

    def _originals(self, txn: Txn, request: ReprintRequest) -> list[bytes]:
        principal = request.ctx.principal
        revalidate(txn, principal)
        originals: list[bytes] = []
        reprinted: list[int] = []
        for sale in recent_sales(
            txn, target=request.target, vendor_id=principal.vendor_id, limit=request.limit
        ):
            record = idempotency.lookup_by_pk(txn, self._keyring, sale.request_pk)
            if (
                record is None
                or record.channel != request.ctx.channel
                or record.response is None
                or record.response.http_status != 200
            ):
                continue
            originals.append(record.response.body)
            reprinted.append(sale.id)
        count_reprint(txn, reprinted)
        return list(reversed(originals))


__all__ = ["ReprintRequest", "Reprints"]
