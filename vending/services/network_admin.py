"""The distribution network as the admin suite manages it (issue 15 §3, "Hierarchy"):
distributors, dealers and merchants (the network's nodes), their limits and status, credit
moved to and from them with a reason (one balanced ledger transfer each, through
``distribution.nodes``; four-eyes above the configured amount), and a merchant's operators
and API keys.

Every call names the acting user. Staff act as the network's root (the operator node);
a partner acts as its own node and reaches only the nodes below it: a node outside is
refused with 403 and an audit record (``StaffAccess.guarded``), the same answer whether
or not it exists, so guessing codes or ids tells nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from distribution import nodes
from distribution.nodes import Node, OutsideSubtree
from staff import users
from staff.users import StaffUser
from vending import api_keys, vendors
from vending.errors import InvalidAmount, InvalidRequest
from vending.money import Money
from vending.passwords import PasswordPolicyError, check_policy, hash_password
from vending.services.approvals import Approval, ApprovalKind, FourEyes, Outcome
from vending.services.context import Clock, TxnRunner
from vending.services.staff import StaffAccess
from vending.storage.database import Txn

CREDIT_KIND = "network.credit"


@dataclass(frozen=True)
class NodeDetail:
    node: Node
    parent: Node | None
    children: list[Node]
    daily_sale_limit: Money | None
    vendor_client_id: str | None
    vendor_blocked: bool
    operators: list[vendors.Operator]
    api_keys: list[api_keys.ApiKey]
    users: list[StaffUser]
    # The actor's own node: it can see it, not manage it (that is its parent's business).
    own: bool


root_code = nodes.root_code


def acting_node(txn: Txn, actor: StaffUser) -> str:
    """The node ``actor`` acts as: its own (partner), else the root (staff)."""
    if actor.is_partner:
        assert actor.node_code is not None
        return actor.node_code
    code = root_code(txn)
    if code is None:
        raise InvalidRequest("the distribution network has no operator node yet")
    return code


def visible_node(txn: Txn, actor: StaffUser, code: str) -> Node:
    """``code`` when the actor may see it (its own node or below); OutsideSubtree else."""
    scope = acting_node(txn, actor)
    if code == scope:
        return nodes.get_node(txn, code)
    return nodes.node_in_subtree(txn, scope, code)


def _network(txn: Txn, actor: StaffUser) -> list[Node]:
    if not actor.is_partner and root_code(txn) is None:
        return []
    return nodes.subtree(txn, acting_node(txn, actor))


def _vendor_client_id(txn: Txn, node: Node) -> str | None:
    if node.vendor_id is None:
        return None
    return vendors.get_vendor_by_id(txn, node.vendor_id).client_id


def _detail(txn: Txn, actor: StaffUser, code: str) -> NodeDetail:
    node = visible_node(txn, actor, code)
    scope = acting_node(txn, actor)
    parent = None
    if node.parent_id is not None and node.code != scope:
        parent = next(iter(nodes.ancestors(txn, node)), None)
    children = [n for n in nodes.subtree(txn, code) if n.parent_id == node.id]
    client_id = _vendor_client_id(txn, node)
    return NodeDetail(
        node=node,
        parent=parent,
        children=children,
        daily_sale_limit=nodes.get_daily_sale_limit(txn, code),
        vendor_client_id=client_id,
        vendor_blocked=client_id is not None and vendors.get_vendor(txn, client_id).blocked,
        operators=[] if client_id is None else vendors.list_operators(txn, client_id),
        api_keys=[] if client_id is None else api_keys.list_api_keys(txn, client_id),
        users=users.list_users(txn, {node.id}),
        own=node.code == scope,
    )


def _create(txn: Txn, actor: StaffUser, now: datetime, **fields: Any) -> Node:
    return nodes.create_node(
        txn, actor_node=acting_node(txn, actor), actor=actor.actor, now=now, **fields
    )


def _status(txn: Txn, actor: StaffUser, code: str, status: str, now: datetime) -> Node:
    node = nodes.set_status(
        txn,
        actor_node=acting_node(txn, actor),
        code=code,
        status=status,
        actor=actor.actor,
        now=now,
    )
    client_id = _vendor_client_id(txn, node)
    if client_id is not None:
        # A merchant's node shares its vendor's account: blocking it stops its sales too.
        vendors.set_vendor_blocked(
            txn,
            client_id,
            status != "active",
            actor=actor.actor,
            reason=f"network node {code} {status}",
            now=now,
        )
    return node


def _limits(txn: Txn, actor: StaffUser, code: str, credit: str, daily: str, now: datetime) -> Node:
    node = nodes.node_in_subtree(txn, acting_node(txn, actor), code)
    return nodes.set_limits(
        txn,
        actor_node=acting_node(txn, actor),
        code=code,
        credit_limit=_money(credit, node.currency),
        daily_sale_limit=_money(daily, node.currency),
        actor=actor.actor,
        now=now,
    )


def _money(text: str, currency: str) -> Money | None:
    text = text.strip()
    if not text:
        return None
    try:
        return Money.parse(text, currency)
    except (ValueError, ArithmeticError) as exc:
        raise InvalidAmount(f"not an amount of {currency}: {text!r}") from exc


def _merchant(txn: Txn, actor: StaffUser, code: str) -> str:
    """The vendor (client id) of a merchant node strictly below the actor -- or the actor's
    own node when it is the merchant (a merchant user manages its own operators)."""
    node = visible_node(txn, actor, code)
    client_id = _vendor_client_id(txn, node)
    if client_id is None:
        raise InvalidRequest(f"{code} is not a merchant: it has no operators")
    return client_id


def _operator_in(txn: Txn, client_id: str, operator_id: int) -> vendors.Operator:
    for operator in vendors.list_operators(txn, client_id):
        if operator.id == operator_id:
            return operator
    raise OutsideSubtree(f"operator {operator_id} is not one of {client_id}'s")


class NetworkAdmin:
    def __init__(
        self,
        runner: TxnRunner,
        clock: Clock,
        access: StaffAccess,
        four_eyes: FourEyes,
        *,
        password_log_n: int = 14,
    ) -> None:
        self._runner = runner
        self._clock = clock
        self._access = access
        self._four_eyes = four_eyes
        self._log_n = password_log_n
        four_eyes.register(
            ApprovalKind(
                CREDIT_KIND,
                "hierarchy.credit",
                self._execute_credit,
                "credit or debit a node of the network",
            )
        )

    async def network(self, actor: StaffUser) -> list[Node]:
        return await self._access.guarded(
            actor, "hierarchy.view", "network", "admin_network", _network, actor
        )

    async def node(self, actor: StaffUser, code: str) -> NodeDetail:
        return await self._access.guarded(
            actor, "hierarchy.view", f"node:{code}", "admin_node", _detail, actor, code
        )

    async def create_node(
        self,
        actor: StaffUser,
        *,
        parent: str,
        code: str,
        name: str,
        credit_limit: str = "",
        vendor_client_id: str = "",
    ) -> Node:
        code, name = code.strip(), name.strip()
        if actor.is_partner and vendor_client_id.strip():
            # Which vendor a merchant node sells as is the operator's decision: a partner
            # could otherwise claim a vendor that is not (yet) in anyone's network.
            await self._access.deny(
                actor, "hierarchy.manage", f"node:{parent}", "only staff link a merchant's vendor"
            )
        if not code or len(code) > 32 or not name or len(name) > 80:
            raise InvalidRequest("a node has a code (1-32 characters) and a name (1-80)")

        def create(txn: Txn) -> Node:
            currency = visible_node(txn, actor, parent).currency
            return _create(
                txn,
                actor,
                self._clock(),
                parent=parent,
                code=code,
                name=name,
                credit_limit=_money(credit_limit, currency),
                vendor_client_id=vendor_client_id.strip() or None,
            )

        return await self._access.guarded(
            actor, "hierarchy.manage", f"node:{parent}", "admin_node_create", create
        )

    async def set_status(self, actor: StaffUser, code: str, status: str) -> Node:
        return await self._access.guarded(
            actor,
            "hierarchy.block",
            f"node:{code}",
            "admin_node_status",
            _status,
            actor,
            code,
            status,
            self._clock(),
        )

    async def set_limits(
        self, actor: StaffUser, code: str, *, credit_limit: str, daily_sale_limit: str
    ) -> Node:
        return await self._access.guarded(
            actor,
            "hierarchy.manage",
            f"node:{code}",
            "admin_node_limits",
            _limits,
            actor,
            code,
            credit_limit,
            daily_sale_limit,
            self._clock(),
        )

    # --- credit and debit (four-eyes above the threshold) ---

    async def move_credit(
        self, actor: StaffUser, code: str, *, direction: str, amount: str, reason: str
    ) -> Outcome:
        """``direction`` credit (the acting node's account → the node's) or debit (back);
        one balanced transfer, or a pending approval above the four-eyes threshold."""
        if direction not in ("credit", "debit"):
            raise InvalidRequest("direction is credit or debit")
        reason = reason.strip()
        if not reason or len(reason) > 160:
            raise InvalidRequest("a reason (1-160 characters) is required")

        def prepare(txn: Txn) -> tuple[str, Node]:
            scope = acting_node(txn, actor)
            return scope, nodes.node_in_subtree(txn, scope, code)

        scope, node = await self._access.guarded(
            actor, "hierarchy.credit", f"node:{code}", "admin_credit_check", prepare
        )
        money = _money(amount, node.currency)
        if money is None or money.amount <= 0:
            raise InvalidAmount("the amount must be positive")
        return await self._four_eyes.submit(
            actor,
            CREDIT_KIND,
            subject=f"node:{code}",
            summary=f"{direction} {node.code} {money.format()} {money.currency}: {reason}",
            payload={
                "actor_node": scope,
                "node": code,
                "direction": direction,
                "amount": money.amount,
                "currency": money.currency,
                "reason": reason,
                "requested_by": actor.actor,
            },
            amount=money,
        )

    async def _execute_credit(
        self, payload: dict[str, Any], actor: StaffUser, approval: Approval | None
    ) -> dict[str, Any]:
        money = Money(int(payload["amount"]), payload["currency"])
        reason = payload["reason"]
        if approval is not None:
            reason = f"{reason} (asked by {payload['requested_by']}, approval {approval.id})"
        fn = nodes.transfer_down if payload["direction"] == "credit" else nodes.recall
        target = (
            {"to": payload["node"]}
            if payload["direction"] == "credit"
            else {"from_": payload["node"]}
        )

        def move(txn: Txn) -> int:
            # The approver must reach the node too (a partner approver: its own subtree).
            visible_node(txn, actor, payload["node"])
            posted = fn(
                txn,
                actor_node=payload["actor_node"],
                amount=money,
                reason=reason,
                actor=actor.actor,
                now=self._clock(),
                **target,
            )
            return int(posted.id)

        transfer_id = await self._access.guarded(
            actor, "hierarchy.credit", f"node:{payload['node']}", "admin_credit_move", move
        )
        return {"transfer_id": transfer_id, "amount": money.format(), "currency": money.currency}

    # --- a merchant's operators and API keys ---

    async def create_operator(
        self, actor: StaffUser, code: str, *, name: str, password: str
    ) -> vendors.Operator:
        try:
            check_policy(password)
        except PasswordPolicyError as exc:
            raise InvalidRequest(str(exc)) from None
        # Scope first: no hashing for a node the actor may not touch.
        await self._access.guarded(
            actor,
            "operators.manage",
            f"node:{code}",
            "admin_operator_scope",
            _merchant,
            actor,
            code,
        )
        hashed = await self._access.hash_call(partial(hash_password, log_n=self._log_n), password)

        def create(txn: Txn) -> vendors.Operator:
            client_id = _merchant(txn, actor, code)
            return vendors.create_operator(
                txn,
                name=name.strip(),
                password_hash=hashed,
                vendor_client_id=client_id,
                actor=actor.actor,
                now=self._clock(),
            )

        return await self._access.guarded(
            actor, "operators.manage", f"node:{code}", "admin_operator_create", create
        )

    async def set_operator_blocked(
        self, actor: StaffUser, code: str, operator_id: int, blocked: bool
    ) -> None:
        def change(txn: Txn) -> None:
            operator = _operator_in(txn, _merchant(txn, actor, code), operator_id)
            vendors.set_operator_blocked(
                txn, operator.id, blocked, actor=actor.actor, now=self._clock()
            )

        await self._access.guarded(
            actor, "operators.manage", f"operator:{operator_id}", "admin_operator_block", change
        )

    async def create_api_key(
        self, actor: StaffUser, code: str, *, operator_name: str, label: str
    ) -> tuple[api_keys.ApiKey, str]:
        def create(txn: Txn) -> tuple[api_keys.ApiKey, str]:
            client_id = _merchant(txn, actor, code)
            return api_keys.create_api_key(
                txn,
                vendor_client_id=client_id,
                operator_name=operator_name.strip(),
                label=label.strip(),
                actor=actor.actor,
                now=self._clock(),
            )

        return await self._access.guarded(
            actor, "operators.manage", f"node:{code}", "admin_api_key_create", create
        )

    async def revoke_api_key(self, actor: StaffUser, code: str, key_id: int) -> None:
        def revoke(txn: Txn) -> None:
            client_id = _merchant(txn, actor, code)
            if key_id not in {k.id for k in api_keys.list_api_keys(txn, client_id)}:
                raise OutsideSubtree(f"API key {key_id} is not one of {client_id}'s")
            api_keys.revoke_api_key(txn, key_id, actor=actor.actor, now=self._clock())

        await self._access.guarded(
            actor, "operators.manage", f"api_key:{key_id}", "admin_api_key_revoke", revoke
        )


__all__ = ["CREDIT_KIND", "NetworkAdmin", "NodeDetail", "acting_node", "root_code", "visible_node"]
