"""Reward points (issue 13 §4): the holder's balance and statement, redemption into its own
account, the rules, and the expiry sweep. Points are earned by the sale path itself
(``distribution.selling``), in each sale's transaction; see ``distribution.rewards``.

A channel's principal holds points as a consumer when a consumer's wallet pays
(``Principal.consumer_id``), else as its merchant (the vendor).
"""

from __future__ import annotations

from datetime import datetime

from distribution import rewards
from vending.auth import Principal, revalidate
from vending.services.context import Clock, TxnRunner
from vending.storage.database import Txn


def holder_of(txn: Txn, principal: Principal) -> rewards.Holder:
    if principal.consumer_id is not None:
        return rewards.holder_for(txn, "consumer", principal.consumer_id)
    return rewards.holder_for(txn, "merchant", principal.vendor_id)


class Rewards:
    def __init__(self, runner: TxnRunner, clock: Clock) -> None:
        self._runner = runner
        self._clock = clock

    async def balance(self, principal: Principal) -> rewards.PointsBalance:
        now = self._clock()
        return await self._runner.run(
            "points_balance",
            lambda txn: rewards.balance(txn, holder_of(txn, principal), now=now),
        )

    async def statement(
        self, principal: Principal, *, before: int | None = None, limit: int = 50
    ) -> list[rewards.Move]:
        return await self._runner.run(
            "points_statement",
            lambda txn: rewards.statement(
                txn, holder_of(txn, principal), before=before, limit=limit
            ),
        )

    async def redeem(self, principal: Principal, points: int, reference: str) -> rewards.Redemption:
        """Redeem ``points`` into the principal's account (wallet or sales account); the same
        ``reference`` again answers the first redemption."""
        now = self._clock()

        def redeem(txn: Txn) -> rewards.Redemption:
            revalidate(txn, principal)
            return rewards.redeem(
                txn, holder_of(txn, principal), points=points, reference=reference, now=now
            )

        return await self._runner.run("points_redeem", redeem)

    # --- staff and evd -------------------------------------------------------------------

    async def balance_of(self, kind: str, holder_id: int) -> rewards.PointsBalance:
        now = self._clock()
        return await self._runner.run(
            "points_balance",
            lambda txn: rewards.balance(txn, rewards.holder_for(txn, kind, holder_id), now=now),
        )

    async def statement_of(self, kind: str, holder_id: int, limit: int = 50) -> list[rewards.Move]:
        return await self._runner.run(
            "points_statement",
            lambda txn: rewards.statement(
                txn, rewards.holder_for(txn, kind, holder_id), limit=limit
            ),
        )

    async def redeem_for(
        self, kind: str, holder_id: int, points: int, reference: str
    ) -> rewards.Redemption:
        now = self._clock()
        return await self._runner.run(
            "points_redeem",
            lambda txn: rewards.redeem(
                txn,
                rewards.holder_for(txn, kind, holder_id),
                points=points,
                reference=reference,
                now=now,
            ),
        )

    async def set_rule(
        self,
        product_code: str,
        holder: str,
        *,
        per_amount: int,
        point_value: int,
        valid_days: int,
        actor: str,
    ) -> rewards.Rule:
        return await self._runner.run(
            "points_rule",
            rewards.set_rule,
            product_code=product_code,
            holder=holder,
            per_amount=per_amount,
            point_value=point_value,
            valid_days=valid_days,
            actor=actor,
            now=self._clock(),
        )

    async def rules(self) -> list[rewards.Rule]:
        return await self._runner.run("points_rules", rewards.list_rules)

    async def expire(self, now: datetime | None = None) -> int:
        """The expiry sweep: what is left of every lot past its date (by the clock)."""
        at = self._clock() if now is None else now
        return await self._runner.run("points_expire", lambda txn: rewards.expire(txn, now=at))


__all__ = ["Rewards", "holder_of"]
