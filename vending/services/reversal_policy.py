"""Which sales a reversal advice may still refund (issue 10 §3).

A delivered PIN is value: the buyer keeps it. So a PIN voucher sale is reversible only
while nothing says it was delivered -- not confirmed by the vendor (confirmation advice),
never reprinted -- and only within the configured window after the sale. Electricity keeps
the standard's behaviour (a completed sale is reversed on the vendor's advice, its token
cancelled) within the same window. A refused reversal is answered "not reversed" with
the reason, and nothing moves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from vending.sales import Sale


@dataclass(frozen=True)
class ReversalPolicy:
    window: timedelta = timedelta(minutes=5)

    def refusal(self, sale: Sale, *, reprints: int, now: datetime) -> str | None:
        """Why ``sale`` may not be reversed now, or None when it may (state aside: the
        caller answers reversed, failed and pending sales itself)."""
        age = now - sale.created_at
        if age > self.window:
            minutes = self.window.total_seconds() / 60
            return (
                f"Not reversed: sale {sale.receipt_no} is older than the reversal window "
                f"({minutes:g} min)"
            )
        if sale.product_kind == "voucher":
            if sale.confirmed_at is not None:
                return (
                    f"Not reversed: sale {sale.receipt_no} was confirmed; a delivered PIN "
                    "cannot be refunded"
                )
            if reprints > 0:
                return (
                    f"Not reversed: the PIN of sale {sale.receipt_no} was reprinted; a "
                    "delivered PIN cannot be refunded"
                )
        return None


__all__ = ["ReversalPolicy"]
