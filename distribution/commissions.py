"""Commission slabs per product and network level, and the legs that pay every ancestor of
the selling merchant (issue 13 §4).

A slab is an amount band ``[min, max)`` of the sale with a flat amount or a percentage,
and an optional cap. The legs credit each ancestor's account and debit the operator's
revenue account by the same total, so they join the sale's own balanced transfer; a
reversal of that transfer (``ledger.reverse_transfer``) mirrors them. The slabs live in
the ``commission_slabs`` table (``set_slabs``, ``evd network slabs``); the sale path
(``distribution.selling``) reads a product's slabs and adds these legs to the sale's own
transfer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise
from typing import Any

from sqlalchemy import bindparam, delete, insert, select

from distribution import nodes
from distribution.tables import commission_slabs, distribution_nodes
from vending import audit
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


# --- the slabs in the database ---------------------------------------------------------------

_SLABS_OF = select(commission_slabs).where(commission_slabs.c.product_code == bindparam("p"))


def load_book(txn: Txn, product: str) -> SlabBook:
    """The slabs of one product (an empty book when it pays no commission)."""
    found: dict[tuple[str, int], list[Slab]] = {}
    for row in txn.execute(_SLABS_OF, {"p": product}):
        found.setdefault((product, int(row.level)), []).append(
            Slab(
                minimum=int(row.min_amount),
                maximum=None if row.max_amount is None else int(row.max_amount),
                kind=row.kind,
                value=Decimal(row.value),
                cap=None if row.cap is None else int(row.cap),
            )
        )
    return SlabBook(
        {key: tuple(sorted(slabs, key=lambda s: s.minimum)) for key, slabs in found.items()}
    )


def set_slabs(txn: Txn, data: Mapping[str, Any], *, actor: str, now: datetime) -> SlabBook:
    """Replace the slabs of every product named in ``data`` (format of
    :meth:`SlabBook.from_mapping`; a product mapped to ``{}`` pays nothing any more)."""
    book = SlabBook.from_mapping(data)
    for product in data:
        if not 1 <= len(product) <= 32:
            raise InvalidRequest(f"bad product code {product!r}")
        txn.execute(delete(commission_slabs).where(commission_slabs.c.product_code == product))
    rows = [
        {
            "product_code": product,
            "level": level,
            "min_amount": slab.minimum,
            "max_amount": slab.maximum,
            "kind": slab.kind,
            "value": str(slab.value),
            "cap": slab.cap,
        }
        for (product, level), slabs in book.slabs.items()
        for slab in slabs
    ]
    if rows:
        txn.execute(insert(commission_slabs), rows)
    audit.record(
        txn,
        actor=actor,
        action="network.slabs",
        subject=",".join(sorted(data))[:120],
        details={"bands": len(rows)},
        now=now,
    )
    return book


_CHAIN_STEP = select(
    distribution_nodes.c.id,
    distribution_nodes.c.parent_id,
    distribution_nodes.c.level,
    distribution_nodes.c.account_id,
).where(distribution_nodes.c.id == bindparam("id"))


def chain_legs(
    txn: Txn,
    book: SlabBook,
    *,
    parent_id: int | None,
    product: str,
    amount: Money,
    revenue_account: int,
) -> list[Leg]:
    """:func:`ancestor_commission_legs` from the seller's parent id up (the sale path has
    the seller's row already; each step reads only the columns it needs)."""
    legs: list[Leg] = []
    total = 0
    while parent_id is not None:
        row = txn.execute(_CHAIN_STEP, {"id": parent_id}).one()
        parent_id = row.parent_id
        if parent_id is None:
            break  # the operator keeps the margin itself
        earned = book.commission(product, int(row.level), amount)
        if earned.amount:
            legs.append(Leg(int(row.account_id), earned, "commission"))
            total += earned.amount
    if total:
        legs.append(Leg(revenue_account, Money(-total, amount.currency), "commission"))
    return legs
