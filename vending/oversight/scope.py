"""Whose data a staff or partner user sees: the whole platform (staff) or the subtree of
one node of the distribution network (distributors, dealers, merchants).

The scope is resolved inside every transaction that reads or changes data, so a user never
sees a merchant outside its subtree however the request names it: a sale, deposit or fund
request outside answers exactly as one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, false, true

from distribution import nodes
from vending.storage.database import Txn


@dataclass(frozen=True)
class Scope:
    """``node``: the code of the user's node; None: the whole platform."""

    node: str | None = None

    @property
    def everything(self) -> bool:
        return self.node is None

    def describe(self) -> str:
        return "platform" if self.node is None else f"node:{self.node}"


PLATFORM = Scope()


@dataclass(frozen=True)
class Resolved:
    """A scope resolved in one transaction: the vendors (merchants) and nodes it covers."""

    scope: Scope
    vendor_ids: frozenset[int] | None  # None: every vendor
    node_ids: frozenset[int] | None  # None: every node

    def has_vendor(self, vendor_id: int | None) -> bool:
        if self.vendor_ids is None:
            return True
        return vendor_id is not None and vendor_id in self.vendor_ids

    def vendor_filter(self, column: ColumnElement) -> ColumnElement[bool]:
        """A WHERE clause keeping rows of the scope's vendors only."""
        if self.vendor_ids is None:
            return true()
        if not self.vendor_ids:
            return false()
        return column.in_(sorted(self.vendor_ids))

    def node_filter(self, column: ColumnElement) -> ColumnElement[bool]:
        if self.node_ids is None:
            return true()
        if not self.node_ids:
            return false()
        return column.in_(sorted(self.node_ids))


def resolve(txn: Txn, scope: Scope) -> Resolved:
    """The vendors and nodes below (and at) the scope's node; an unknown node sees nothing."""
    if scope.node is None:
        return Resolved(scope, None, None)
    try:
        below = nodes.subtree(txn, scope.node)
    except nodes.UnknownNode:
        return Resolved(scope, frozenset(), frozenset())
    return Resolved(
        scope,
        frozenset(n.vendor_id for n in below if n.vendor_id is not None),
        frozenset(n.id for n in below),
    )


__all__ = ["PLATFORM", "Resolved", "Scope", "resolve"]
