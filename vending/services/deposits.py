"""Deposits recognised from bank alerts: the entry the SMS endpoint, the IMAP reader and
the staff commands call (issue 13 §1; domain in the ``deposits`` package).

Each alert is one named, retry-safe transaction (``deposit_alert``): the same credit
reported twice -- or the transaction retried -- posts once, because the deposit row is
unique on (bank, bank reference). Two reports racing: the loser fails on that constraint and
is run once more, when it sees the winner's row and is recorded as a duplicate.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from deposits import queue, slips
from deposits.authenticity import DnsFunc, IncomingAlert, email_alert, sms_alert
from deposits.recording import AlertResult, record_alert, record_alerts
from deposits.settings import DepositSettings
from vending.auth import revalidate
from vending.keyring import Keyring
from vending.money import Money
from vending.requests import Processed
from vending.services import idempotency
from vending.services.context import Clock, RequestContext, TxnRunner
from vending.services.errors import DepositsOff, NoDepositSlips
from vending.services.results import Outcome
from vending.storage.database import Txn

log = logging.getLogger("evd.deposits")


class Deposits:
    def __init__(
        self,
        runner: TxnRunner,
        settings: DepositSettings,
        clock: Clock,
        dnsfunc: DnsFunc | None = None,
        keyring: Keyring | None = None,
    ) -> None:
        self._runner = runner
        self.settings = settings
        self._clock = clock
        self._dnsfunc = dnsfunc
        # Deposit slips store their answers under their request keys (needs the keyring).
        self._keyring = keyring

    async def receive_sms(self, forwarder: str, text: str) -> AlertResult:
        """A bank SMS handed over by the SMS gateway (``forwarder``: Kannel's ``%p``)."""
        return await self._record(sms_alert(forwarder, text, self.settings.forwarders))

    async def receive_email(self, raw: bytes) -> AlertResult:
        """A bank e-mail as fetched from the mailbox (the whole message)."""
        return await self._record(email_alert(raw, self.settings.book, self._dnsfunc))

    async def receive_emails(self, raws: list[bytes]) -> list[AlertResult]:
        """A mailbox poll's bank e-mails: one transaction for the batch (merchants matched
        set-based, each alert in its own savepoint; :func:`deposits.recording.record_alerts`).
        Should the batch fail as a whole, each alert is recorded alone."""
        alerts = [email_alert(raw, self.settings.book, self._dnsfunc) for raw in raws]
        if not alerts:
            return []
        try:
            return await self._runner.run(
                "deposit_alerts", record_alerts, self.settings, alerts, self._clock()
            )
        except Exception as error:
            log.warning("deposit batch of %d failed (%s): one by one", len(alerts), error)
        return [await self._record(alert) for alert in alerts]

    async def _record(self, alert: IncomingAlert) -> AlertResult:
        now = self._clock()
        try:
            return await self._runner.run("deposit_alert", self._txn, alert, now)
        except IntegrityError:
            # Another report of the same credit committed first: now it is a duplicate.
            return await self._runner.run("deposit_alert", self._txn, alert, now)

    def _txn(self, txn: Txn, alert: IncomingAlert, now: datetime) -> AlertResult:
        return record_alert(txn, self.settings, alert, now)

    # --- deposit slips (XMLVend depositReq / reprintDepReq) ---------------------------------

    async def deposit_slip(self, ctx: RequestContext, renderer: Any) -> Outcome:
        """A new slip: the vendor's takings since its previous slip, the reference the
        matcher knows it by, the operator's account in its currency; claimed and stored
        under the request key (a re-sent request gets the same slip, no second one)."""
        if self._keyring is None:
            raise DepositsOff("deposit slips are not offered here")
        processed = await self._runner.run("deposit_slip", self._slip, ctx, renderer)
        return Outcome.of(processed)

    def _slip(self, txn: Txn, ctx: RequestContext, renderer: Any) -> Processed:
        assert self._keyring is not None
        now = self._clock()
        account = self.settings.accounts.get(ctx.principal.currency)

        def change(txn: Txn, claim: Any) -> slips.DepositSlip:
            if account is None:
                raise DepositsOff(f"no operator account for deposits in {ctx.principal.currency}")
            return slips.issue_slip(txn, ctx.principal, claim.request_pk, account, now=now)

        return idempotency.run_once(
            txn,
            self._keyring,
            ctx.key,
            ctx.principal,
            change,
            lambda slip: renderer.deposit_slip(ctx.request, slip),
            now=now,
        )

    async def slip_originals(self, ctx: RequestContext, limit: int) -> list[bytes]:
        """The vendor's last ``limit`` slips as first answered (oldest first), through
        the asking channel; :class:`NoDepositSlips` when there are none."""
        if self._keyring is None:
            raise DepositsOff("deposit slips are not offered here")
        found = await self._runner.run("deposit_slip_reprint", self._originals, ctx, limit)
        if not found:
            raise NoDepositSlips("no deposit slips of this vendor found to reprint")
        return found

    def _originals(self, txn: Txn, ctx: RequestContext, limit: int) -> list[bytes]:
        assert self._keyring is not None
        revalidate(txn, ctx.principal)
        out = []
        for request_pk in slips.recent_slip_requests(txn, ctx.principal.vendor_id, limit):
            record = idempotency.lookup_by_pk(txn, self._keyring, request_pk)
            if (
                record is not None
                and record.channel == ctx.channel
                and record.response is not None
                and record.response.http_status == 200
            ):
                out.append(record.response.body)
        return out

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
