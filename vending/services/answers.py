"""Answers kept under request keys outside a use case's own transaction: a read-only
request's answer (every request is keyed, so a re-send gets the same bytes and a reused
id is refused) and the fault of a request that failed after its client was told it is
delayed. Both go through :mod:`vending.services.idempotency`."""

from __future__ import annotations

from datetime import datetime

from vending.auth import Principal
from vending.keyring import Keyring
from vending.requests import Processed, RequestKey, StoredResponse
from vending.services import idempotency
from vending.services.context import Clock, TxnRunner
from vending.storage.database import Txn


class Answers:
    def __init__(self, runner: TxnRunner, keyring: Keyring, clock: Clock) -> None:
        self._runner = runner
        self._keyring = keyring
        self._clock = clock

    async def keep(
        self,
        key: RequestKey,
        principal: Principal,
        response: StoredResponse,
        received_at: datetime | None = None,
    ) -> Processed:
        """Keep a read-only answer (the first wins; the principal is re-checked)."""
        now = received_at or self._clock()
        return await self._runner.run("keep_answer", self._keep, key, principal, response, now)

    async def store_late_failure(self, key: RequestKey, response: StoredResponse) -> bool:
        """Store a delayed request's final fault unless an answer is stored. True if stored."""
        return await self._runner.run(
            "store_late_failure", self._late, key, response, self._clock()
        )

    def _keep(
        self,
        txn: Txn,
        key: RequestKey,
        principal: Principal,
        response: StoredResponse,
        now: datetime,
    ) -> Processed:
        return idempotency.keep_answer(txn, self._keyring, key, principal, response, now=now)

    def _late(self, txn: Txn, key: RequestKey, response: StoredResponse, now: datetime) -> bool:
        return idempotency.store_if_unanswered(txn, self._keyring, key, response, now=now)


__all__ = ["Answers"]
