"""Reports over a range of days (UTC): sales by day, product and channel; deposits by day
and state; merchant commission. Within the user's scope, like every other screen."""

from __future__ import annotations

from datetime import date, timedelta

from admin.screens.ops import oversight
from admin.web import AdminUI, Ctx, NavItem, Page
from vending.errors import InvalidRequest

REPORTS = {"sales": "Daily sales by product and channel", "deposits": "Deposits by day",
           "commissions": "Commission by merchant"}  # fmt: skip


def _day(value: str, default: date) -> date:
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(f"{value!r} is not a date (YYYY-MM-DD)") from None


def register(ui: AdminUI) -> None:
    monitoring = oversight(ui).monitoring
    clock = ui.services.clock

    @ui.page(
        "/reports",
        permission="reports.view",
        nav=NavItem("Reports", "/reports", "reports.view", "Overview", 30),
    )
    async def reports(ctx: Ctx) -> Page:
        which = ctx.arg("report", "sales")
        if which not in REPORTS:
            raise InvalidRequest(f"no report {which!r}")
        today = clock().date()
        last = _day(ctx.arg("last"), today)
        first = _day(ctx.arg("first"), last - timedelta(days=6))
        try:
            lines = await monitoring.report(ctx.user, which, first, last)
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from None
        return Page("ops_reports.html", {"which": which, "reports": REPORTS, "lines": lines,
                                         "first": first, "last": last})  # fmt: skip
