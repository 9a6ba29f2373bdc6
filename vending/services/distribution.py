"""The distribution network (issue 13 §2, §3): what a node sees, the credit it moves, its
limits, commission slabs and fund requests. Every call names the acting node (the
principal's node, resolved by the channel's authentication -- ``node_of`` -- or given by
``evd``; staff act as the operator node) and the domain refuses anything outside that
node's subtree (``distribution.nodes.OutsideSubtree``).

Fund requests are answered to the requester on every channel it may use, all queued in the
transaction of the decision (so a decision that rolls back tells nobody): a notification
(``fund_request.*``, the e-mail side) and, when the requesting node is a merchant, a
webhook event for each of its API keys with a callback URL and a text to its numbers
registered for SMS -- all written by ``distribution.fund_requests`` itself
(``distribution.fund_notices``), so every way of deciding tells the same way; this service
only hands it :attr:`Distribution.notices` (the keyring and the SMS sender).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from distribution import commissions, fund_requests, nodes
from distribution.fund_notices import FundNotices
from distribution.fund_requests import FundRequest
from vending.auth import Principal, revalidate
from vending.errors import NotAuthorised
from vending.keyring import Keyring
from vending.ledger import PostedTransfer
from vending.money import Money
from vending.requests import Claim, Processed, RequestKey, StoredResponse
from vending.services import idempotency
from vending.services.context import Clock, TxnRunner
from vending.storage.database import Txn

# The vendor privilege that lets a node's principal approve or reject the fund requests
# of its subtree (vending.vendors.PRIVILEGES).
APPROVE_PRIVILEGE = "network"


class Distribution:
    def __init__(
        self,
        runner: TxnRunner,
        clock: Clock,
        keyring: Keyring | None = None,
        *,
        sms_sender: str = "12345",
        fund_request_ttl: timedelta = fund_requests.DEFAULT_TTL,
    ) -> None:
        self._runner = runner
        self._clock = clock
        self._keyring = keyring
        self.notices = FundNotices(keyring, sms_sender)
        self._ttl = fund_request_ttl

    # --- the tree ------------------------------------------------------------------------

    async def node_of(self, principal: Principal) -> nodes.Node:
        """The node the principal's merchant is (``NotInNetwork`` if none)."""
        return await self._runner.run(
            "node_of_vendor", lambda txn: nodes.node_of_vendor(txn, principal.vendor_id)
        )

    async def subtree(self, actor_node: str) -> list[nodes.Node]:
        return await self._runner.run("node_subtree", nodes.subtree, actor_node)

    async def transfer_down(
        self, actor_node: str, to: str, amount: Money, *, reason: str, actor: str
    ) -> PostedTransfer:
        return await self._runner.run(
            "node_transfer_down",
            nodes.transfer_down,
            actor_node=actor_node,
            to=to,
            amount=amount,
            reason=reason,
            actor=actor,
            now=self._clock(),
        )

    async def recall(
        self, actor_node: str, from_: str, amount: Money, *, reason: str, actor: str
    ) -> PostedTransfer:
        return await self._runner.run(
            "node_recall",
            nodes.recall,
            actor_node=actor_node,
            from_=from_,
            amount=amount,
            reason=reason,
            actor=actor,
            now=self._clock(),
        )

    async def set_limits(
        self, actor_node: str, code: str, *, actor: str, **limits: Any
    ) -> nodes.Node:
        return await self._runner.run(
            "node_limits",
            nodes.set_limits,
            actor_node=actor_node,
            code=code,
            actor=actor,
            now=self._clock(),
            **limits,
        )

    async def set_slabs(self, data: Mapping[str, Any], *, actor: str) -> commissions.SlabBook:
        return await self._runner.run(
            "commission_slabs", commissions.set_slabs, data, actor=actor, now=self._clock()
        )

    # --- fund requests -------------------------------------------------------------------

    async def ask_funds(
        self, requester: str, amount: Money, reference: str, *, principal: Principal | None = None
    ) -> FundRequest:
        """``requester`` asks its parent for ``amount`` (``principal``: the channel's caller,
        re-checked in the transaction; its node must be ``requester``)."""
        now = self._clock()

        def ask(txn: Txn) -> FundRequest:
            if principal is not None:
                revalidate(txn, principal)
                if nodes.node_of_vendor(txn, principal.vendor_id).code != requester:
                    raise NotAuthorised("a node asks for itself only")
            return fund_requests.ask(
                txn, requester=requester, amount=amount, reference=reference, now=now, ttl=self._ttl
            )

        return await self._runner.run("fund_request_ask", ask)

    async def ask_funds_as(
        self, principal: Principal, amount: Money, reference: str
    ) -> FundRequest:
        """The principal's own node asks (the API, SMS and USSD entry)."""
        now = self._clock()

        def ask(txn: Txn) -> FundRequest:
            revalidate(txn, principal)
            node = nodes.node_of_vendor(txn, principal.vendor_id)
            return fund_requests.ask(
                txn, requester=node.code, amount=amount, reference=reference, now=now, ttl=self._ttl
            )

        return await self._runner.run("fund_request_ask", ask)

    async def ask_funds_once(
        self,
        key: RequestKey,
        principal: Principal,
        amount: Money,
        reference: str,
        render: Callable[[FundRequest], StoredResponse],
    ) -> Processed:
        """The principal's node asks, under a channel's request key (SMS, USSD): the
        request and the channel's answer in one transaction, so a resent message replays
        the answer instead of meeting its own request as a duplicate."""
        now = self._clock()
        if self._keyring is None:
            raise RuntimeError("keyed fund requests need the keyring")
        keyring = self._keyring

        def ask(txn: Txn) -> Processed:
            def change(txn: Txn, claim: Claim) -> FundRequest:
                node = nodes.node_of_vendor(txn, principal.vendor_id)
                return fund_requests.ask(
                    txn,
                    requester=node.code,
                    amount=amount,
                    reference=reference,
                    now=now,
                    ttl=self._ttl,
                )

            return idempotency.run_once(txn, keyring, key, principal, change, render, now=now)

        return await self._runner.run("fund_request_ask", ask)

    async def my_fund_requests(self, principal: Principal, limit: int = 50) -> list[FundRequest]:
        def mine(txn: Txn) -> list[FundRequest]:
            node = nodes.node_of_vendor(txn, principal.vendor_id)
            return fund_requests.mine(txn, node.code, limit=limit)

        return await self._runner.run("fund_request_mine", mine)

    async def fund_request_for(self, principal: Principal, request_id: int) -> FundRequest:
        """One request the principal's node may see: its own or one of its subtree's
        (anything else answers as unknown, so nobody learns other nodes' requests)."""

        def one(txn: Txn) -> FundRequest:
            node = nodes.node_of_vendor(txn, principal.vendor_id)
            request = fund_requests.get_request(txn, request_id)
            if request.requester != node.code:
                try:
                    nodes.node_in_subtree(txn, node.code, request.requester)
                except nodes.OutsideSubtree:
                    raise fund_requests.UnknownFundRequest(
                        f"no fund request {request_id}"
                    ) from None
            return request

        return await self._runner.run("fund_request_get", one)

    async def requests_of(self, requester: str, limit: int = 50) -> list[FundRequest]:
        return await self._runner.run(
            "fund_request_mine", lambda txn: fund_requests.mine(txn, requester, limit=limit)
        )

    async def pending_for(self, actor_node: str) -> list[FundRequest]:
        return await self._runner.run(
            "fund_request_pending", fund_requests.pending_for, actor_node, self._clock()
        )

    async def pending_for_principal(self, principal: Principal) -> list[FundRequest]:
        now = self._clock()

        def pending(txn: Txn) -> list[FundRequest]:
            node = nodes.node_of_vendor(txn, principal.vendor_id)
            return fund_requests.pending_for(txn, node.code, now)

        return await self._runner.run("fund_request_pending", pending)

    def _decide(
        self,
        txn: Txn,
        actor_node: str,
        request_id: int,
        approve: bool,
        reason: str,
        actor: str,
        now: datetime,
    ) -> FundRequest:
        return fund_requests.decide(
            txn,
            actor_node=actor_node,
            request_id=request_id,
            approve=approve,
            reason=reason,
            actor=actor,
            now=now,
            notices=self.notices,
        )

    async def decide(
        self, actor_node: str, request_id: int, *, approve: bool, reason: str, actor: str
    ) -> FundRequest:
        """Staff or ``evd``: decide as ``actor_node``."""
        now = self._clock()
        return await self._runner.run(
            "fund_request_decide",
            self._decide,
            actor_node,
            request_id,
            approve,
            reason,
            actor,
            now,
        )

    async def decide_as(
        self, principal: Principal, request_id: int, *, approve: bool, reason: str
    ) -> FundRequest:
        """A node's principal decides for its subtree: it needs the ``network`` privilege."""
        now = self._clock()

        def decide(txn: Txn) -> FundRequest:
            revalidate(txn, principal)
            if APPROVE_PRIVILEGE not in principal.privileges:
                raise NotAuthorised("deciding fund requests needs the network privilege")
            node = nodes.node_of_vendor(txn, principal.vendor_id)
            actor = f"vendor:{principal.client_id}:{principal.operator_name or '-'}"
            return self._decide(txn, node.code, request_id, approve, reason, actor, now)

        return await self._runner.run("fund_request_decide", decide)

    async def expire_fund_requests(self) -> list[FundRequest]:
        """The sweep (``evd fund expire``, the recovery sweep): expired requests' requesters
        are told."""
        now = self._clock()

        return await self._runner.run(
            "fund_request_expire", fund_requests.expire_due, now=now, notices=self.notices
        )


__all__ = ["APPROVE_PRIVILEGE", "Distribution"]
