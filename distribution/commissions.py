"""Commission slabs per product and network level, and the legs that pay every ancestor of
the selling merchant (issue 13 §4).

A slab is an amount band ``[min, max)`` of the sale with a flat amount or a percentage,
and an optional cap. The legs credit each ancestor's account and debit the operator's
revenue account by the same total, so they join the sale's own balanced transfer; a
reversal of that transfer (``ledger.reverse_transfer``) mirrors them. NOT YET WIRED into
``vending.sales.record_sale``: the sale path needs a hook for extra legs (see
docs/DEPOSITS.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise
from typing import Any

from distribution import nodes
from vending.errors import InvalidRequest
from vending.ledger import Leg
from vending.money import Money
from vending.storage.database import Txn


@dataclass(frozen=True)
class Slab:
    minimum: int  # minor units, inclusive
    maximum: int | None  # exclusive; None: no upper bound
    kind: str  # flat or percentage
    value: Decimal  # minor units (flat) or percent
    cap: int | None = None  # minor units

    def commission(self, amount: Money) -> Money:
        if self.kind == "flat":
            minor = int(self.value)
        else:
            minor = int((Decimal(amount.amount) * self.value / 100).quantize(1, ROUND_HALF_UP))
        if self.cap is not None:
            minor = min(minor, self.cap)
        return Money(minor, amount.currency)


@dataclass(frozen=True)
class SlabBook:
    # (product code, level) -> slabs in ascending bands
    slabs: Mapping[tuple[str, int], tuple[Slab, ...]]

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> SlabBook:
        """``{"AIRTIME-10": {"1": [{"min": 0, "max": 100000, "percent": "0.5", "cap": 200}]}}``
        (levels as in ``nodes.LEVELS``; amounts in minor units)."""
        slabs: dict[tuple[str, int], tuple[Slab, ...]] = {}
        for product, levels in data.items():
            for level, bands in levels.items():
                parsed = []
                for band in bands:
                    if ("flat" in band) == ("percent" in band):
                        raise InvalidRequest(f"{product}/{level}: one of flat or percent")
                    kind = "flat" if "flat" in band else "percentage"
                    parsed.append(
                        Slab(
                            minimum=int(band.get("min", 0)),
                            maximum=None if band.get("max") is None else int(band["max"]),
                            kind=kind,
                            value=Decimal(str(band.get("flat", band.get("percent")))),
                            cap=None if band.get("cap") is None else int(band["cap"]),
                        )
                    )
                parsed.sort(key=lambda s: s.minimum)
                for lower, upper in pairwise(parsed):
                    if lower.maximum is None or lower.maximum > upper.minimum:
                        raise InvalidRequest(f"{product}/{level}: bands overlap")
                slabs[(product, int(level))] = tuple(parsed)
        return cls(slabs)

    def commission(self, product: str, level: int, amount: Money) -> Money:
        for slab in self.slabs.get((product, level), ()):
            if amount.amount >= slab.minimum and (
                slab.maximum is None or amount.amount < slab.maximum
            ):
                return slab.commission(amount)
        return Money(0, amount.currency)


def ancestor_commission_legs(
    txn: Txn, book: SlabBook, *, seller: str, product: str, amount: Money, revenue_account: int
) -> list[Leg]:
    """The legs paying every ancestor of ``seller`` (below the operator) its slab for this
    sale, funded from ``revenue_account``; empty when nobody earns anything."""
    seller_node = nodes.get_node(txn, seller)
    legs: list[Leg] = []
    total = 0
    for ancestor in nodes.ancestors(txn, seller_node):
        if ancestor.parent_id is None:
            continue  # the operator keeps the margin itself
        earned = book.commission(product, ancestor.level, amount)
        if earned.amount:
            legs.append(Leg(ancestor.account_id, earned, "commission"))
            total += earned.amount
    if total:
        legs.append(Leg(revenue_account, Money(-total, amount.currency), "commission"))
    return legs
