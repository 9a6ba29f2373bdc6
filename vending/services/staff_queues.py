"""The work queues of the admin suite: the deposits manual queue (assign, reject), fund
requests (approve, reject with a reason) and customer fault reports. Each change goes
through the owning domain's function, which writes its own audit record in the same
transaction; the scope decides what a user sees and may act on."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from deposits import queue
from deposits.settings import DepositSettings
from distribution import fund_requests, nodes
from distribution.fund_notices import FundNotices
from distribution.tables import distribution_nodes
from utilities.faults.reports import FaultRecord, close_fault_report, list_fault_reports
from vending.errors import InvalidRequest
from vending.money import Money
from vending.oversight.scope import Scope, resolve
from vending.services.context import Clock, TxnRunner
from vending.services.oversight_access import (
    DEPOSITS_MANAGE,
    DEPOSITS_VIEW,
    FAULTS_VIEW,
    FUND_REQUESTS_DECIDE,
    AccessGuard,
    Actor,
    Guard,
    scope_of,
)
from vending.storage.database import Txn


def _acting_node(txn: Txn, scope: Scope) -> str | None:
    """The node a user acts as: its own, or (staff) the operator's root node; None when
    the network has no root yet."""
    if scope.node is not None:
        return scope.node
    return txn.execute(
        select(distribution_nodes.c.code).where(distribution_nodes.c.parent_id.is_(None))
    ).scalar()


def _pending(txn: Txn, scope: Scope, now: datetime) -> list[fund_requests.FundRequest]:
    node = _acting_node(txn, scope)
    return [] if node is None else fund_requests.pending_for(txn, node, now)


def _decide(txn: Txn, scope: Scope, **decision: Any) -> fund_requests.FundRequest:
    """``fund_requests.decide`` (``decision``: its keywords but the node) as the user's
    acting node."""
    node = _acting_node(txn, scope)
    if node is None:
        raise InvalidRequest("the distribution network has no operator node")
    return fund_requests.decide(txn, actor_node=node, **decision)


def _faults(txn: Txn, scope: Scope, open_only: bool, limit: int) -> list[FaultRecord]:
    resolved = resolve(txn, scope)
    found = list_fault_reports(
        txn, open_only=open_only, limit=limit if scope.node is None else 1000
    )
    return [f for f in found if resolved.has_vendor(f.vendor_id)][:limit]


class StaffQueues:
    def __init__(
        self,
        runner: TxnRunner,
        clock: Clock,
        deposit_settings: DepositSettings | None,
        guard: AccessGuard | None = None,
        *,
        fund_notices: FundNotices,
    ) -> None:
        self._runner = runner
        self._clock = clock
        self._deposit_settings = deposit_settings
        self._fund_notices = fund_notices
        self.guard: AccessGuard = guard or Guard(runner, clock)

    # --- deposits ---------------------------------------------------------------------------

    async def _platform_only(self, staff: Actor, action: str, subject: str) -> None:
        # Queued deposits belong to no merchant yet: only platform staff may see them.
        if scope_of(staff).node is not None:
            await self.guard.deny(staff, action, subject, "platform staff only")

    async def deposits(self, staff: Actor, limit: int = 100) -> list[queue.Deposit]:
        await self.guard.require(staff, DEPOSITS_VIEW, "deposits")
        await self._platform_only(staff, DEPOSITS_VIEW, "deposits")
        return await self._runner.run("admin_deposit_queue", queue.list_deposits, limit=limit)

    async def assign_deposit(
        self,
        staff: Actor,
        deposit_id: int,
        client_id: str,
        *,
        reason: str,
        amount: Money | None = None,
    ) -> queue.Deposit:
        """Credit a queued deposit to ``client_id`` (``amount``: corrected by staff when two
        reports disagreed)."""
        subject = f"deposit:{deposit_id}"
        await self.guard.require(staff, DEPOSITS_MANAGE, subject)
        await self._platform_only(staff, DEPOSITS_MANAGE, subject)
        return await self._runner.run(
            "admin_deposit_assign",
            queue.assign,
            self._settings(),
            deposit_id,
            client_id.strip(),
            actor=staff.actor,
            reason=reason,
            now=self._clock(),
            amount=amount,
        )

    async def reject_deposit(self, staff: Actor, deposit_id: int, *, reason: str) -> queue.Deposit:
        subject = f"deposit:{deposit_id}"
        await self.guard.require(staff, DEPOSITS_MANAGE, subject)
        await self._platform_only(staff, DEPOSITS_MANAGE, subject)
        return await self._runner.run(
            "admin_deposit_reject",
            queue.reject,
            deposit_id,
            actor=staff.actor,
            reason=reason,
            now=self._clock(),
        )

    def _settings(self) -> DepositSettings:
        if self._deposit_settings is None:
            raise InvalidRequest("deposits are not configured (deposits.settings_file)")
        return self._deposit_settings

    # --- fund requests ----------------------------------------------------------------------

    async def fund_requests(self, staff: Actor) -> list[fund_requests.FundRequest]:
        """Unexpired pending requests from below the user's node (staff: the whole network)."""
        await self.guard.require(staff, FUND_REQUESTS_DECIDE, "fund_requests")
        return await self._runner.run(
            "admin_fund_requests", _pending, scope_of(staff), self._clock()
        )

    async def decide_fund_request(
        self, staff: Actor, request_id: int, *, approve: bool, reason: str
    ) -> fund_requests.FundRequest:
        """Approve (the transfer down) or reject with a reason; a request from outside the
        user's subtree is refused (403, audited) as :class:`nodes.OutsideSubtree`."""
        subject = f"fund_request:{request_id}"
        await self.guard.require(staff, FUND_REQUESTS_DECIDE, subject)
        try:
            return await self._runner.run(
                "admin_fund_request_decide",
                _decide,
                scope_of(staff),
                request_id=request_id,
                approve=approve,
                reason=reason,
                actor=staff.actor,
                now=self._clock(),
                notices=self._fund_notices,
            )
        except nodes.OutsideSubtree:
            await self.guard.deny(staff, FUND_REQUESTS_DECIDE, subject, "outside the subtree")
            raise  # unreachable: refuse raises

    # --- fault reports ----------------------------------------------------------------------

    async def fault_reports(
        self, staff: Actor, *, open_only: bool = True, limit: int = 100
    ) -> list[FaultRecord]:
        await self.guard.require(staff, FAULTS_VIEW, "fault_reports")
        return await self._runner.run(
            "admin_fault_reports", _faults, scope_of(staff), open_only, limit
        )

    async def close_fault_report(
        self, staff: Actor, ref_no: str, *, resolution: str
    ) -> FaultRecord:
        await self.guard.require(staff, FAULTS_VIEW, f"fault_report:{ref_no}")
        await self._platform_only(staff, FAULTS_VIEW, f"fault_report:{ref_no}")
        return await self._runner.run(
            "admin_fault_close",
            close_fault_report,
            ref_no,
            resolution=resolution,
            actor=staff.actor,
            now=self._clock(),
        )


__all__ = ["StaffQueues"]
