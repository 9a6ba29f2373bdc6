"""Who acts in the admin suite, as the oversight services see it: a staff or partner user
with a set of permissions and a scope (the whole platform or a subtree of the distribution
network). The web adapter builds it from the logged-in user; the services check the
permission and the scope on every call (never the pages) and record a refusal in the audit
log before they raise :class:`Forbidden`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from vending import audit
from vending.errors import NotAuthorised
from vending.oversight.scope import PLATFORM, Scope
from vending.services.context import Clock, TxnRunner
from vending.storage.database import Txn

# The permissions the oversight screens use (the admin suite's role templates grant them).
TRANSACTIONS_VIEW = "transactions.view"
TRANSACTIONS_EXPORT = "transactions.export"
TRANSACTIONS_REVERSE = "transactions.reverse"
# See a stored answer in clear (PIN, token): what a reprint would show.
TRANSACTIONS_REPRINT = "transactions.reprint"
DASHBOARD_VIEW = "dashboard.view"
ACTIVITY_VIEW = "activity.view"
DEPOSITS_VIEW = "deposits.view"
DEPOSITS_MANAGE = "deposits.manage"
FUND_REQUESTS_VIEW = "fund_requests.view"
FUND_REQUESTS_DECIDE = "fund_requests.decide"
FAULTS_VIEW = "faults.view"
REPORTS_VIEW = "reports.view"

ALL_PERMISSIONS = frozenset(
    {
        TRANSACTIONS_VIEW,
        TRANSACTIONS_EXPORT,
        TRANSACTIONS_REVERSE,
        TRANSACTIONS_REPRINT,
        DASHBOARD_VIEW,
        ACTIVITY_VIEW,
        DEPOSITS_VIEW,
        DEPOSITS_MANAGE,
        FUND_REQUESTS_VIEW,
        FUND_REQUESTS_DECIDE,
        FAULTS_VIEW,
        REPORTS_VIEW,
    }
)


class Forbidden(NotAuthorised):
    """The user may not do this (a permission or the scope says no)."""

    code = "forbidden"


@dataclass(frozen=True)
class Staff:
    """A logged-in admin-suite user as the services need it."""

    name: str
    permissions: frozenset[str] = field(default_factory=frozenset)
    scope: Scope = PLATFORM

    def may(self, permission: str) -> bool:
        return permission in self.permissions

    @property
    def actor(self) -> str:
        """The name audit records and ledger transfers carry."""
        return f"admin:{self.name}"


def _record_refusal(
    txn: Txn, actor: str, action: str, subject: str, details: dict[str, Any], now: datetime
) -> None:
    audit.record(
        txn,
        actor=actor,
        action="forbidden",
        subject=subject,
        details={"action": action, **details},
        now=now,
    )


class Guard:
    """Checks a permission; a refusal is audited (its own transaction) and raised."""

    def __init__(self, runner: TxnRunner, clock: Clock) -> None:
        self._runner = runner
        self._clock = clock

    async def require(self, staff: Staff, permission: str, subject: str = "-") -> None:
        if not staff.may(permission):
            await self.refuse(staff, permission, subject, "missing permission")

    async def refuse(self, staff: Staff, action: str, subject: str, why: str) -> None:
        await self._runner.run(
            "admin_forbidden",
            _record_refusal,
            staff.actor,
            action,
            subject,
            {"why": why, "scope": staff.scope.describe()},
            self._clock(),
        )
        raise Forbidden(f"{staff.name} may not {action} ({why})")


__all__ = [
    "ALL_PERMISSIONS",
    "Forbidden",
    "Guard",
    "Staff",
]
