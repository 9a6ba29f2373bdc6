"""Deposits recognised from bank alerts: the entry the SMS endpoint, the IMAP reader and
the staff commands call (issue 13 §1; domain in the ``deposits`` package).

Each alert is one named, retry-safe transaction (``deposit_alert``): the same credit
reported twice -- or the transaction retried -- posts once, because the deposit row is
unique on (bank, bank reference). Two reports racing: the loser fails on that constraint and
is run once more, when it sees the winner's row and is recorded as a duplicate.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError

from deposits import queue
from deposits.authenticity import DnsFunc, IncomingAlert, email_alert, sms_alert
from deposits.recording import AlertResult, record_alert
from deposits.settings import DepositSettings
from vending.money import Money
from vending.services.context import Clock, TxnRunner
from vending.storage.database import Txn


class Deposits:
    def __init__(
        self,
        runner: TxnRunner,
        settings: DepositSettings,
        clock: Clock,
        dnsfunc: DnsFunc | None = None,
    ) -> None:
        self._runner = runner
        self.settings = settings
        self._clock = clock
        self._dnsfunc = dnsfunc

    async def receive_sms(self, forwarder: str, text: str) -> AlertResult:
        """A bank SMS handed over by the SMS gateway (``forwarder``: Kannel's ``%p``)."""
        return await self._record(sms_alert(forwarder, text, self.settings.forwarders))

    async def receive_email(self, raw: bytes) -> AlertResult:
        """A bank e-mail as fetched from the mailbox (the whole message)."""
        return await self._record(email_alert(raw, self.settings.book, self._dnsfunc))

    async def _record(self, alert: IncomingAlert) -> AlertResult:
        now = self._clock()
        try:
            return await self._runner.run("deposit_alert", self._txn, alert, now)
        except IntegrityError:
            # Another report of the same credit committed first: now it is a duplicate.
            return await self._runner.run("deposit_alert", self._txn, alert, now)

    def _txn(self, txn: Txn, alert: IncomingAlert, now: datetime) -> AlertResult:
        return record_alert(txn, self.settings, alert, now)

    # --- the manual queue (staff) ---------------------------------------------------------

    async def queue(self, limit: int = 100) -> list[queue.Deposit]:
        return await self._runner.run("deposit_queue", queue.list_deposits, limit=limit)

    async def assign(
        self,
        deposit_id: int,
        client_id: str,
        *,
        actor: str,
        reason: str,
        amount: Money | None = None,
    ) -> queue.Deposit:
        return await self._runner.run(
            "deposit_assign",
            queue.assign,
            self.settings,
            deposit_id,
            client_id,
            actor=actor,
            reason=reason,
            now=self._clock(),
            amount=amount,
        )

    async def reject(self, deposit_id: int, *, actor: str, reason: str) -> queue.Deposit:
        return await self._runner.run(
            "deposit_reject",
            queue.reject,
            deposit_id,
            actor=actor,
            reason=reason,
            now=self._clock(),
        )


__all__ = ["AlertResult", "Deposits"]
