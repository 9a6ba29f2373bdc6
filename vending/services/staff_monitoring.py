"""The dashboard, user activity with its unusual-activity flags, and reports, for the admin
suite: each one transaction at the one clock's instant, within the user's scope."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from vending.oversight import monitoring, reports
from vending.oversight.scope import Scope, resolve
from vending.services.context import Clock, TxnRunner
from vending.services.oversight_access import (
    DASHBOARD_VIEW,
    MONITORING_VIEW,
    REPORTS_VIEW,
    AccessGuard,
    Actor,
    Guard,
    scope_of,
)
from vending.storage.database import Txn

# The longest time range an activity query may cover (keeps one query bounded).
MAX_RANGE = timedelta(days=92)


def _dashboard(txn: Txn, scope: Scope, now: datetime, window: int) -> monitoring.Dashboard:
    return monitoring.dashboard(txn, resolve(txn, scope), now, window_seconds=window)


def _activity(txn: Txn, scope: Scope, **kwargs: object) -> list[monitoring.ActivityRow]:
    return monitoring.activity(txn, resolve(txn, scope), **kwargs)  # type: ignore[arg-type]


def _logins(
    txn: Txn, scope: Scope, start: datetime, end: datetime
) -> list[monitoring.LoginActivity]:
    return monitoring.failed_logins(txn, resolve(txn, scope), start=start, end=end)


def _flags(
    txn: Txn,
    scope: Scope,
    now: datetime,
    thresholds: monitoring.Thresholds,
    extra: dict[str, int] | None,
) -> list[monitoring.Flag]:
    return monitoring.unusual(txn, resolve(txn, scope), now, thresholds, extra_failed_logins=extra)


def _report(txn: Txn, which: str, scope: Scope, first: date, last: date) -> list[object]:
    fn = {
        "sales": reports.daily_sales,
        "deposits": reports.daily_deposits,
        "commissions": reports.commissions,
    }[which]
    return list(fn(txn, resolve(txn, scope), first, last))


class StaffMonitoring:
    def __init__(
        self,
        runner: TxnRunner,
        clock: Clock,
        thresholds: monitoring.Thresholds | None = None,
        guard: AccessGuard | None = None,
    ) -> None:
        self._runner = runner
        self._clock = clock
        self.thresholds = thresholds or monitoring.Thresholds()
        self.guard: AccessGuard = guard or Guard(runner, clock)

    async def dashboard(self, staff: Actor, *, window_seconds: int = 60) -> monitoring.Dashboard:
        await self.guard.require(staff, DASHBOARD_VIEW, "dashboard")
        window = max(10, min(window_seconds, 600))
        board: monitoring.Dashboard = await self._runner.run(
            "admin_dashboard", _dashboard, scope_of(staff), self._clock(), window
        )
        return board

    def _range(self, start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
        end = end or self._clock()
        start = start or end - timedelta(days=1)
        if start >= end:
            raise ValueError("the start must be before the end")
        if end - start > MAX_RANGE:
            raise ValueError(f"a range covers at most {MAX_RANGE.days} days")
        return start, end

    async def activity(
        self,
        staff: Actor,
        *,
        group_by: str = "merchant",
        start: datetime | None = None,
        end: datetime | None = None,
        channel: str = "",
        merchant: str = "",
    ) -> list[monitoring.ActivityRow]:
        """Sales and failures per merchant, channel, operator or product in [start, end)
        (default: the last day)."""
        await self.guard.require(staff, MONITORING_VIEW, "activity")
        start, end = self._range(start, end)
        return await self._runner.run(
            "admin_activity",
            _activity,
            scope_of(staff),
            group_by=group_by,
            start=start,
            end=end,
            channel=channel,
            merchant=merchant,
        )

    async def failed_logins(
        self, staff: Actor, *, start: datetime | None = None, end: datetime | None = None
    ) -> list[monitoring.LoginActivity]:
        await self.guard.require(staff, MONITORING_VIEW, "activity")
        start, end = self._range(start, end)
        return await self._runner.run("admin_failed_logins", _logins, scope_of(staff), start, end)

    async def flags(
        self, staff: Actor, *, extra_failed_logins: dict[str, int] | None = None
    ) -> list[monitoring.Flag]:
        """Unusual activity now (the one clock): many failed logins, merchants selling far
        above their usual rate. ``extra_failed_logins``: the admin suite's own login
        failures per user in the recent window."""
        await self.guard.require(staff, MONITORING_VIEW, "activity")
        return await self._runner.run(
            "admin_flags",
            _flags,
            scope_of(staff),
            self._clock(),
            self.thresholds,
            extra_failed_logins,
        )

    async def report(self, staff: Actor, which: str, first: date, last: date) -> list[object]:
        """``which``: sales (by day, product, channel), deposits (by day and state) or
        commissions (by merchant)."""
        await self.guard.require(staff, REPORTS_VIEW, f"report:{which}")
        if which not in ("sales", "deposits", "commissions"):
            raise ValueError(f"no report {which!r}")
        return await self._runner.run("admin_report", _report, which, scope_of(staff), first, last)


__all__ = ["StaffMonitoring"]
