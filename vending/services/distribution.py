"""The distribution network (issue 13 §2): what a node sees and the credit it moves. Every
call names the acting node (the principal's node, resolved by the channel's
authentication; staff act as the operator node) and the domain refuses anything outside
that node's subtree (``distribution.nodes.OutsideSubtree``)."""

from __future__ import annotations

from distribution import nodes
from vending.ledger import PostedTransfer
from vending.money import Money
from vending.services.context import Clock, TxnRunner


class Distribution:
    def __init__(self, runner: TxnRunner, clock: Clock) -> None:
        self._runner = runner
        self._clock = clock

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


__all__ = ["Distribution"]
