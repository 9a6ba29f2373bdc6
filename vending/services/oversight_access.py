"""Who acts on the oversight services, and the guard they call.

The services take any *actor* that has a ``username``, its ``permissions``, ``node_code``
(a partner's node: its scope is that node's subtree; None for platform staff), an
``actor`` name for audit records and ``can(permission)``: the admin suite's logged-in user
is one. The guard has the admin suite's interface (``require``, ``deny``): a refusal is
written to the audit log in a transaction of its own, then :class:`Forbidden` is raised.
The composer may pass the admin suite's own access service as the guard."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from staff.roles import Forbidden
from vending import audit
from vending.oversight.scope import Scope
from vending.services.context import Clock, TxnRunner
from vending.storage.database import Txn

# The permissions the oversight screens use (the admin suite's role templates grant them).
DASHBOARD_VIEW = "dashboard.view"
TRANSACTIONS_VIEW = "transactions.view"
TRANSACTIONS_REVERSE = "transactions.reverse"
# See a stored answer in clear (PIN, token): what a reprint would show.
TRANSACTIONS_REPRINT = "transactions.reprint"
MONITORING_VIEW = "monitoring.view"
DEPOSITS_VIEW = "deposits.view"
DEPOSITS_MANAGE = "deposits.manage"
FUND_REQUESTS_DECIDE = "fundrequests.decide"
FAULTS_VIEW = "faults.view"
REPORTS_VIEW = "reports.view"
POINTS_VIEW = "points.view"
POINTS_ADJUST = "points.adjust"

ALL_PERMISSIONS = frozenset(
    {
        DASHBOARD_VIEW,
        TRANSACTIONS_VIEW,
        TRANSACTIONS_REVERSE,
        TRANSACTIONS_REPRINT,
        MONITORING_VIEW,
        DEPOSITS_VIEW,
        DEPOSITS_MANAGE,
        FUND_REQUESTS_DECIDE,
        FAULTS_VIEW,
        REPORTS_VIEW,
        POINTS_VIEW,
        POINTS_ADJUST,
    }
)


class Actor(Protocol):
    @property
    def username(self) -> str: ...
    @property
    def permissions(self) -> frozenset[str]: ...
    @property
    def node_code(self) -> str | None: ...
    @property
    def actor(self) -> str: ...
    def can(self, permission: str) -> bool: ...


class AccessGuard(Protocol):
    async def require(self, actor: Actor, permission: str, subject: str = "") -> None: ...
    async def deny(self, actor: Actor, action: str, subject: str, reason: str) -> None: ...


@dataclass(frozen=True)
class Staff:
    """A user as the oversight services need it (tests and tools build one directly)."""

    username: str
    permissions: frozenset[str] = field(default_factory=frozenset)
    node_code: str | None = None

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    @property
    def actor(self) -> str:
        return f"staff:{self.username}"[:64]


def scope_of(actor: Actor) -> Scope:
    return Scope(actor.node_code)


def _deny(txn: Txn, actor: str, action: str, subject: str, reason: str, node: str | None,
          now: datetime) -> None:  # fmt: skip
    audit.record(
        txn,
        actor=actor,
        action="forbidden",
        subject=subject[:120],
        details={"attempted": action, "reason": reason, "node": node},
        now=now,
    )


class Guard:
    """The guard of the oversight services when no other is given."""

    def __init__(self, runner: TxnRunner, clock: Clock) -> None:
        self._runner = runner
        self._clock = clock

    async def require(self, actor: Actor, permission: str, subject: str = "") -> None:
        if not actor.can(permission):
            await self.deny(actor, permission, subject or permission, "missing permission")

    async def deny(self, actor: Actor, action: str, subject: str, reason: str) -> None:
        await self._runner.run(
            "admin_forbidden",
            _deny,
            actor.actor,
            action,
            subject,
            reason,
            actor.node_code,
            self._clock(),
        )
        raise Forbidden(f"you may not {action.replace('.', ' ')} {subject}".strip())


__all__ = [
    "ALL_PERMISSIONS",
    "AccessGuard",
    "Actor",
    "Forbidden",
    "Guard",
    "Staff",
    "scope_of",
]
