"""Nodes of the distribution network, and credit moved between them.

Every action names the node that acts (``actor_node``): it may see and manage only its own
subtree, checked here on every call (the services pass the node the principal is). Credit
moves down (``transfer_down``: parent's account → a descendant's) and is recalled up
(``recall``: a descendant's account → the actor's), each one balanced ledger transfer; the
ledger's conditional debit keeps every account above its credit limit, so no transfer can
take a node below its limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update

from distribution.tables import NODE_STATUSES, distribution_nodes
from vending import audit
from vending.accounts import create_account, set_credit_limit
from vending.errors import InvalidAmount, InvalidRequest, NotAuthorised, VendingError
from vending.ledger import Leg, PostedTransfer, post_transfer
from vending.money import Money
from vending.storage.database import Txn
from vending.storage.schema import accounts
from vending.vendors import get_vendor

# Level names, root first; the deepest level holds the retailers (merchants).
LEVELS = ("operator", "super_distributor", "distributor", "dealer", "retailer")


class OutsideSubtree(VendingError):
    """The node is not in the acting node's subtree."""

    code = "outside_subtree"


class UnknownNode(InvalidRequest):
    """No such node."""


@dataclass(frozen=True)
class Node:
    id: int
    code: str
    name: str
    parent_id: int | None
    level: int
    account_id: int
    vendor_id: int | None
    status: str
    currency: str
    balance: Money
    credit_limit: Money | None
    # Sale-time limits (enforced by distribution.selling): None / empty: no limit.
    daily_sale_limit: Money | None = None
    allowed_products: tuple[str, ...] = ()
    allowed_channels: tuple[str, ...] = ()
    territory: str = ""
    kyc_ref: str = ""

    @property
    def level_name(self) -> str:
        return LEVELS[self.level] if self.level < len(LEVELS) else f"level{self.level}"


def _query():  # type: ignore[no-untyped-def]
    return select(
        distribution_nodes,
        accounts.c.currency,
        accounts.c.balance,
        accounts.c.credit_limit,
    ).join(accounts, accounts.c.id == distribution_nodes.c.account_id)


def _node(row: Row) -> Node:
    return Node(
        id=int(row.id),
        code=row.code,
        name=row.name,
        parent_id=row.parent_id,
        level=int(row.level),
        account_id=int(row.account_id),
        vendor_id=row.vendor_id,
        status=row.status,
        currency=row.currency,
        balance=Money(int(row.balance), row.currency),
        credit_limit=None
        if row.credit_limit is None
        else Money(int(row.credit_limit), row.currency),
        daily_sale_limit=None
        if row.daily_sale_limit is None
        else Money(int(row.daily_sale_limit), row.currency),
        allowed_products=tuple(_items(row.allowed_products)),
        allowed_channels=tuple(_items(row.allowed_channels)),
        territory=row.territory,
        kyc_ref=row.kyc_ref,
    )


def _items(text: str) -> list[str]:
    return [item for item in text.replace(",", " ").split() if item]


class NotInNetwork(NotAuthorised):
    """The caller is not a node of the distribution network."""


def node_of_vendor(txn: Txn, vendor_id: int) -> Node:
    """The node a merchant (vendor) is: the acting node of its principal."""
    row = txn.execute(_query().where(distribution_nodes.c.vendor_id == vendor_id)).first()
    if row is None:
        raise NotInNetwork("this account is not part of the distribution network")
    return _node(row)


# Channel names a node may be limited to (the request keys' channels).
CHANNELS = ("xmlvend", "json", "sms", "ussd")
_UNSET: Any = object()


def set_limits(
    txn: Txn,
    *,
    actor_node: str,
    code: str,
    daily_sale_limit: Money | None = _UNSET,
    allowed_products: list[str] | None = None,
    allowed_channels: list[str] | None = None,
    credit_limit: Money | None = _UNSET,
    territory: str | None = None,
    kyc_ref: str | None = None,
    actor: str,
    now: datetime,
) -> Node:
    """Set a subtree node's limits (only what is given changes; an empty list lifts a
    product/channel restriction, ``None`` for a limit lifts it)."""
    node = node_in_subtree(txn, actor_node, code)
    values: dict[str, Any] = {}
    if daily_sale_limit is not _UNSET:
        if daily_sale_limit is not None and (
            daily_sale_limit.currency != node.currency or daily_sale_limit.amount < 0
        ):
            raise InvalidAmount(f"the daily sale limit must be >= 0 {node.currency}")
        values["daily_sale_limit"] = None if daily_sale_limit is None else daily_sale_limit.amount
    if allowed_products is not None:
        text = " ".join(allowed_products)
        if len(text) > 400:
            raise InvalidRequest("too many allowed products")
        values["allowed_products"] = text
    if allowed_channels is not None:
        unknown = set(allowed_channels) - set(CHANNELS)
        if unknown:
            raise InvalidRequest(f"channels are among {', '.join(CHANNELS)}")
        values["allowed_channels"] = " ".join(allowed_channels)
    if territory is not None:
        values["territory"] = territory[:80]
    if kyc_ref is not None:
        values["kyc_ref"] = kyc_ref[:64]
    if values:
        txn.execute(
            update(distribution_nodes).where(distribution_nodes.c.id == node.id).values(**values)
        )
    if credit_limit is not _UNSET:
        set_credit_limit(txn, node.account_id, credit_limit)
        values["credit_limit"] = None if credit_limit is None else credit_limit.amount
    audit.record(txn, actor=actor, action="node.limits", subject=code, details=values, now=now)
    return get_node(txn, code)


def get_node(txn: Txn, code: str) -> Node:
    row = txn.execute(_query().where(distribution_nodes.c.code == code)).first()
    if row is None:
        raise UnknownNode(f"no node {code!r}")
    return _node(row)


def _get_by_id(txn: Txn, node_id: int) -> Node:
    row = txn.execute(_query().where(distribution_nodes.c.id == node_id)).first()
    if row is None:
        raise UnknownNode(f"no node {node_id}")
    return _node(row)


def ancestors(txn: Txn, node: Node) -> list[Node]:
    """The node's ancestors, nearest first."""
    found: list[Node] = []
    parent_id = node.parent_id
    while parent_id is not None:
        parent = _get_by_id(txn, parent_id)
        found.append(parent)
        parent_id = parent.parent_id
    return found


def subtree(txn: Txn, actor_code: str) -> list[Node]:
    """The acting node and every node below it, breadth first."""
    root = get_node(txn, actor_code)
    nodes, frontier = [root], [root.id]
    while frontier:
        rows = txn.execute(
            _query()
            .where(distribution_nodes.c.parent_id.in_(frontier))
            .order_by(distribution_nodes.c.id)
        ).all()
        children = [_node(row) for row in rows]
        nodes += children
        frontier = [child.id for child in children]
    return nodes


def node_in_subtree(txn: Txn, actor_code: str, code: str) -> Node:
    """``code`` when it is strictly below ``actor_code``; :class:`OutsideSubtree` else --
    the same answer for a node that does not exist, so nobody learns codes outside."""
    actor = get_node(txn, actor_code)
    try:
        node = get_node(txn, code)
    except UnknownNode:
        raise OutsideSubtree(f"{code} is not in the subtree of {actor_code}") from None
    if actor.id not in {a.id for a in ancestors(txn, node)}:
        raise OutsideSubtree(f"{code} is not in the subtree of {actor_code}")
    return node


def create_root(
    txn: Txn, *, code: str, name: str, currency: str, actor: str, now: datetime
) -> Node:
    if txn.execute(
        select(distribution_nodes.c.id).where(distribution_nodes.c.parent_id.is_(None))
    ).first():
        raise InvalidRequest("the network already has its operator node")
    return _insert(txn, None, 0, code, name, currency, None, None, actor, now)


def create_node(
    txn: Txn,
    *,
    actor_node: str,
    parent: str,
    code: str,
    name: str,
    credit_limit: Money | None = None,
    vendor_client_id: str | None = None,
    max_depth: int = len(LEVELS) - 1,
    actor: str,
    now: datetime,
) -> Node:
    """A node under ``parent`` (the acting node itself or one of its subtree)."""
    parent_node = (
        get_node(txn, parent) if parent == actor_node else node_in_subtree(txn, actor_node, parent)
    )
    level = parent_node.level + 1
    if level > max_depth:
        raise InvalidRequest(f"the network is at most {max_depth} levels below the operator")
    return _insert(
        txn,
        parent_node.id,
        level,
        code,
        name,
        parent_node.currency,
        credit_limit,
        vendor_client_id,
        actor,
        now,
    )


def _insert(
    txn: Txn,
    parent_id: int | None,
    level: int,
    code: str,
    name: str,
    currency: str,
    credit_limit: Money | None,
    vendor_client_id: str | None,
    actor: str,
    now: datetime,
) -> Node:
    if txn.execute(
        select(distribution_nodes.c.id).where(distribution_nodes.c.code == code)
    ).first():
        raise InvalidRequest(f"node {code!r} already exists")
    vendor_id = None
    if vendor_client_id is not None:
        vendor = get_vendor(txn, vendor_client_id)
        if vendor.currency != currency:
            raise InvalidRequest(f"vendor {vendor_client_id} trades in {vendor.currency}")
        account_id, vendor_id = vendor.account_id, vendor.id
    else:
        account_id = create_account(
            txn,
            code=f"node:{code}",
            kind="house" if parent_id is None else "vendor",
            name=f"{name} ({LEVELS[min(level, len(LEVELS) - 1)]})",
            currency=currency,
            credit_limit=None if parent_id is None else (credit_limit or Money(0, currency)),
            now=now,
        ).id
    txn.execute(
        insert(distribution_nodes).values(
            code=code,
            name=name,
            parent_id=parent_id,
            level=level,
            account_id=account_id,
            vendor_id=vendor_id,
            status="active",
            created_at=now,
        )
    )
    audit.record(
        txn,
        actor=actor,
        action="node.create",
        subject=code,
        details={"parent_id": parent_id, "level": level},
        now=now,
    )
    return get_node(txn, code)


def set_status(
    txn: Txn, *, actor_node: str, code: str, status: str, actor: str, now: datetime
) -> Node:
    if status not in NODE_STATUSES:
        raise InvalidRequest(f"status is one of {', '.join(NODE_STATUSES)}")
    node = node_in_subtree(txn, actor_node, code)
    txn.execute(
        update(distribution_nodes).where(distribution_nodes.c.id == node.id).values(status=status)
    )
    audit.record(
        txn,
        actor=actor,
        action="node.status",
        subject=code,
        details={"status": status},
        now=now,
    )
    return get_node(txn, code)


def _move(
    txn: Txn,
    *,
    kind: str,
    source: Node,
    target: Node,
    amount: Money,
    reason: str,
    actor: str,
    now: datetime,
) -> PostedTransfer:
    if amount.amount <= 0:
        raise InvalidAmount("the amount must be positive")
    if amount.currency != source.currency:
        raise InvalidRequest(f"the network trades in {source.currency}")
    for node in (source, target):
        if node.status != "active":
            raise InvalidRequest(f"node {node.code} is {node.status}")
    if not reason.strip():
        raise InvalidRequest("a reason is required")
    posted = post_transfer(
        txn,
        kind=kind,
        legs=[Leg(source.account_id, -amount, kind), Leg(target.account_id, amount, kind)],
        description=f"{kind.replace('_', ' ')} {source.code} -> {target.code}: {reason}"[:200],
        created_by=actor,
        now=now,
    )
    audit.record(
        txn,
        actor=actor,
        action=f"node.{kind}",
        subject=f"{source.code}->{target.code}",
        details={"amount": amount.amount, "currency": amount.currency, "reason": reason},
        now=now,
    )
    return posted


def transfer_down(
    txn: Txn,
    *,
    actor_node: str,
    to: str,
    amount: Money,
    reason: str,
    actor: str,
    now: datetime,
) -> PostedTransfer:
    """Credit from the acting node's account to a node of its subtree."""
    source = get_node(txn, actor_node)
    target = node_in_subtree(txn, actor_node, to)
    return _move(
        txn,
        kind="credit_transfer",
        source=source,
        target=target,
        amount=amount,
        reason=reason,
        actor=actor,
        now=now,
    )


def recall(
    txn: Txn,
    *,
    actor_node: str,
    from_: str,
    amount: Money,
    reason: str,
    actor: str,
    now: datetime,
) -> PostedTransfer:
    """Credit back from a node of the acting node's subtree to the acting node."""
    source = node_in_subtree(txn, actor_node, from_)
    target = get_node(txn, actor_node)
    return _move(
        txn,
        kind="credit_recall",
        source=source,
        target=target,
        amount=amount,
        reason=reason,
        actor=actor,
        now=now,
    )
