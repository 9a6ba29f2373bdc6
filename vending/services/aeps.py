"""AEPS at the merchant (issue 14 §6): the agent's daily biometric login, then cash
withdrawal, balance enquiry, mini statement and Aadhaar Pay through the sponsor bank
(:class:`catalogue.interface.AepsBank`, injected).

One request: claim its key, check the agent's login, the Aadhaar (Verhoeff), the IIN and the
limits, record the transaction (the Aadhaar as a keyed hash) -> commit; ask the bank with the
opaque PID block; a final answer (approved: the merchant's wallet credited for CW/AP, with
the withdrawal's commission; declined: 51, 91, 300, 330, 998) is rendered and stored under
the key. No answer in time: one status enquiry at once; still unknown -> a "pending" answer
is stored, and any retry of the request (or its replay) enquires again and replaces the
stored answer with the final one. Nothing moves before the bank approved.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from catalogue import aeps
from catalogue.interface import AepsAnswer, AepsBank, AepsBankRequest, Outcome, ProviderUnavailable
from catalogue.tables import aeps_transactions
from vending.accounts import ensure_house_accounts
from vending.auth import Principal, revalidate
from vending.keyring import Keyring
from vending.ledger import Leg, post_transfer
from vending.money import Money
from vending.requests import Claim, Processed, StoredResponse
from vending.services import idempotency
from vending.services.context import Clock, RequestContext, TxnRunner
from vending.services.results import Outcome as ServiceOutcome
from vending.storage.database import Txn
from vending.storage.schema import accounts

log = logging.getLogger("evd.aeps")
SETTLEMENT = "supplier:AEPS-SPONSOR"


@dataclass(frozen=True)
class AepsRequest:
    ctx: RequestContext
    kind: str
    aadhaar: str
    iin: str
    pid: aeps.PidBlock
    amount: Money | None = None


class AepsService:
    def __init__(
        self,
        runner: TxnRunner,
        keyring: Keyring,
        clock: Clock,
        bank: AepsBank,
        *,
        currency: str = "INR",
    ) -> None:
        self._runner = runner
        self._keyring = keyring
        self._clock = clock
        self._bank = bank
        self._currency = currency

    async def login(self, principal: Principal, pid: aeps.PidBlock) -> bool:
        """The agent's daily biometric login with the sponsor bank."""
        if not await self._bank.login(principal.client_id, pid):
            raise aeps.AepsDeclined("300", "The agent's biometrics did not match")
        now = self._clock()

        def record(txn: Txn) -> None:
            revalidate(txn, principal)
            aeps.record_login(txn, principal.vendor_id, now)

        await self._runner.run("aeps_login", record)
        return True

    async def transact(self, request: AepsRequest, renderer: Any) -> ServiceOutcome:
        if request.kind not in aeps.KINDS:
            raise aeps.InvalidRequest(f"AEPS kind: one of {', '.join(aeps.KINDS)}")
        opened = await self._runner.run("aeps_open", self._open, request, self._clock())
        if isinstance(opened, Processed):
            pending = await self._runner.run("aeps_pending", self._pending_of, request.ctx)
            if pending is None:
                return ServiceOutcome.of(opened)
            return await self._enquire(pending, request.ctx.request, renderer, opened)
        record, _claim = opened
        bank_request = AepsBankRequest(
            record.stan,
            request.kind,
            aeps.check_aadhaar(request.aadhaar),
            request.iin,
            request.amount,
            request.pid,
        )
        try:
            answer = await self._bank.transact(bank_request)
        except ProviderUnavailable:
            answer = AepsAnswer(Outcome.FAILED, response_code="91", message=aeps.DECLINES["91"])
        except Exception as exc:
            log.warning("aeps %s: no answer (%s)", record.stan, type(exc).__name__)
            answer = AepsAnswer(Outcome.UNKNOWN)
        if not answer.outcome.is_final:
            return await self._enquire(record.id, request.ctx.request, renderer, None)
        processed = await self._runner.run(
            "aeps_close",
            self._close,
            record.id,
            answer,
            request.ctx.request,
            renderer,
            self._clock(),
        )
        return ServiceOutcome.of(processed, product=f"AEPS-{request.kind}")

    async def _enquire(
        self, txn_id: int, request: Any, renderer: Any, stored: Processed | None
    ) -> ServiceOutcome:
        record = await self._runner.run("aeps_get", aeps.get_txn, txn_id)
        try:
            answer = await self._bank.status(record.stan)
        except Exception:
            answer = AepsAnswer(Outcome.UNKNOWN)
        processed = await self._runner.run(
            "aeps_close", self._close, txn_id, answer, request, renderer, self._clock()
        )
        if processed is None:
            assert stored is not None
            return ServiceOutcome.of(stored)
        return ServiceOutcome.of(processed)

    # --- transactions ---------------------------------------------------------------------

    def _open(
        self, txn: Txn, request: AepsRequest, now: datetime
    ) -> Processed | tuple[aeps.AepsTxn, Claim]:
        ctx = request.ctx
        claimed = idempotency.claim(txn, self._keyring, ctx.key, ctx.principal, now=now)
        if isinstance(claimed, StoredResponse):
            return Processed(claimed, replayed=True)
        aeps.require_login(txn, ctx.principal.vendor_id, now)
        aadhaar = aeps.check_aadhaar(request.aadhaar)
        iin = aeps.check_iin(request.iin)
        ref = aeps.aadhaar_ref(txn, self._keyring, aadhaar)
        aeps.check_limits(txn, request.kind, ref, request.amount, now)
        record = aeps.open_txn(
            txn,
            request_pk=claimed.request_pk,
            vendor_id=ctx.principal.vendor_id,
            kind=request.kind,
            ref=ref,
            aadhaar=aadhaar,
            iin=iin,
            amount=request.amount,
            currency=self._currency,
            now=now,
        )
        return record, claimed

    def _pending_of(self, txn: Txn, ctx: RequestContext) -> int | None:
        record = idempotency.lookup(txn, self._keyring, ctx.key.client_id, ctx.key.request_id)
        if record is None:
            return None
        row = txn.execute(
            select(aeps_transactions.c.id).where(
                aeps_transactions.c.request_pk == record.request_pk,
                aeps_transactions.c.state == "pending",
            )
        ).first()
        return None if row is None else row.id

    def _close(
        self,
        txn: Txn,
        txn_id: int,
        answer: AepsAnswer,
        request: Any,
        renderer: Any,
        now: datetime,
    ) -> Processed | None:
        record = aeps.get_txn(txn, txn_id)
        if record.state != "pending":
            return None
        claim = self._claim_of(txn, record)
        if answer.outcome is Outcome.SUCCESS:
            commission = None
            transfer_id = None
            if record.kind in aeps.MONEY_KINDS:
                assert record.amount is not None
                commission = aeps.commission_for(record.amount) if record.kind == "CW" else None
                transfer_id = self._credit_merchant(txn, record, commission, now)
            aeps.close_txn(
                txn,
                txn_id,
                "success",
                now,
                rrn=(answer.rrn or "")[:12] or None,
                response_code="00",
                message=answer.message[:200] or "Approved",
                balance=None if answer.balance is None else answer.balance.amount,
                statement=list(answer.statement),
                transfer_id=transfer_id,
                commission=None if commission is None else commission.amount,
            )
        elif answer.outcome is Outcome.FAILED:
            code = answer.response_code or "91"
            aeps.close_txn(
                txn,
                txn_id,
                "declined",
                now,
                rrn=(answer.rrn or "")[:12] or None,
                response_code=code[:4],
                message=aeps.DECLINES.get(code, answer.message)[:200],
            )
        response = renderer.aeps(request, aeps.get_txn(txn, txn_id))
        existing = idempotency.lookup(txn, self._keyring, claim.client_id, claim.request_id)
        if existing is not None and existing.response is not None:
            # A pending answer was stored: the final one replaces it.
            idempotency.withdraw_answer(txn, self._keyring, claim.request_pk, response, now=now)
            return Processed(response, replayed=False)
        return idempotency.complete(txn, self._keyring, claim, response, now=now)

    @staticmethod
    def _claim_of(txn: Txn, record: aeps.AepsTxn) -> Claim:
        from vending.storage.schema import requests

        row = txn.execute(
            select(requests.c.client_id, requests.c.request_id).where(
                requests.c.id == record.request_pk
            )
        ).one()
        return Claim(record.request_pk, row.client_id, row.request_id)

    def _credit_merchant(
        self, txn: Txn, record: aeps.AepsTxn, commission: Money | None, now: datetime
    ) -> int:
        """The merchant handed over cash (or was paid): its wallet is credited from the
        sponsor bank's settlement account, plus the withdrawal's commission from revenue."""
        assert record.amount is not None
        currency = record.amount.currency
        house = ensure_house_accounts(txn, currency)
        settlement = txn.execute(
            select(accounts.c.id).where(accounts.c.code == SETTLEMENT)
        ).scalar_one()
        from vending.vendors import get_vendor_by_id

        vendor_account = get_vendor_by_id(txn, record.vendor_id).account_id
        legs = [
            Leg(settlement, -record.amount, "aeps_settlement"),
            Leg(vendor_account, record.amount, "aeps_cash"),
        ]
        if commission is not None and commission.amount:
            legs += [
                Leg(house["revenue"], -commission, "commission_paid"),
                Leg(vendor_account, commission, "commission"),
            ]
        posted = post_transfer(
            txn,
            kind=f"aeps_{record.kind.lower()}",
            legs=legs,
            description=f"AEPS {record.kind} xxxx{record.aadhaar_last4} STAN {record.stan}",
            created_by=f"aeps:{record.vendor_id}",
            reference=f"request:{record.request_pk}",
            now=now,
        )
        return posted.id


__all__ = ["AepsRequest", "AepsService"]
