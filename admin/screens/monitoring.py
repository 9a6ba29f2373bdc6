"""Monitoring of user activity (issue 15 §4): sales and failures per merchant, channel,
operator (the user at the terminal) or product over a time range, with filters; failed
logins of terminal operators, admin users and addresses; and the unusual-activity flags
(many failed logins, a merchant selling far above its usual rate) at this moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from admin.screens.ops import oversight
from admin.web import AdminUI, Ctx, NavItem, Page
from vending.errors import InvalidRequest
from vending.oversight.monitoring import GROUPINGS

RANGES = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7),
          "30d": timedelta(days=30)}  # fmt: skip


def _instant(value: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(f"{value!r} is not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def register(ui: AdminUI) -> None:
    monitoring = oversight(ui).monitoring
    clock = ui.services.clock

    @ui.page(
        "/activity",
        permission="monitoring.view",
        nav=NavItem("User activity", "/activity", "monitoring.view", "Overview", 20),
    )
    async def activity(ctx: Ctx) -> Page:
        group_by = ctx.arg("by", "merchant")
        if group_by not in GROUPINGS:
            raise InvalidRequest(f"no grouping {group_by!r}")
        span = ctx.arg("range", "24h")
        start, end = _instant(ctx.arg("start")), _instant(ctx.arg("end"))
        if start is None and end is None:
            if span not in RANGES:
                raise InvalidRequest(f"no range {span!r}")
            end = clock()
            start = end - RANGES[span]
        try:
            rows = await monitoring.activity(
                ctx.user, group_by=group_by, start=start, end=end,
                channel=ctx.arg("channel")[:16], merchant=ctx.arg("merchant")[:64],
            )  # fmt: skip
            logins = await monitoring.failed_logins(ctx.user, start=start, end=end)
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from None
        flags = await monitoring.flags(ctx.user)
        filters = {"by": group_by, "range": span, "start": ctx.arg("start"),
                   "end": ctx.arg("end"), "channel": ctx.arg("channel"),
                   "merchant": ctx.arg("merchant")}  # fmt: skip
        return Page("ops_activity.html", {
            "rows": rows, "logins": logins, "flags": flags, "f": filters,
            "groupings": GROUPINGS, "ranges": list(RANGES), "start": start, "end": end,
        })  # fmt: skip
