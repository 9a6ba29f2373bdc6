"""The dashboard: sales per second by channel and product over the last minute, the hour's
success rate, today's revenue, provider and utility health, deposits and fund requests
waiting, alerts and unusual-activity flags. The page draws once; our own script
(``static/dashboard.js``, no inline script: the CSP allows none) then polls
``/admin/dashboard.json`` and redraws the figures and the chart without a reload."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from admin.screens.ops import minor, oversight
from admin.web import AdminUI, Ctx, NavItem, Page
from vending.oversight.monitoring import Dashboard
from vending.services.staff_monitoring import StaffMonitoring

POLL_SECONDS = 2


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def as_json(board: Dashboard, flags: list[Any]) -> dict[str, Any]:
    return {
        "at": board.at.isoformat(),
        "window_seconds": board.window_seconds,
        "per_second": board.per_second,
        "per_second_by_channel": board.per_second_by_channel,
        "by_channel": board.by_channel,
        "by_product": board.by_product,
        "states_last_hour": board.states_last_hour,
        "success_rate": board.success_rate,
        "success_rate_text": _rate(board.success_rate),
        "sales_last_minute": sum(board.per_second),
        "revenue_today": {c: minor(v, c) for c, v in board.revenue_today.items()},
        "revenue_text": ", ".join(f"{minor(v, c)} {c}" for c, v in board.revenue_today.items())
        or "0",
        "sales_today": board.sales_today,
        "providers": [_health(h) for h in board.providers],
        "utilities": [_health(h) for h in board.utilities],
        "deposits_waiting": board.deposits_waiting,
        "fund_requests_waiting": board.fund_requests_waiting,
        "alerts": board.alerts,
        "flags": [f.message for f in flags],
    }


def _health(h: Any) -> dict[str, Any]:
    return {"name": h.name, "ok": h.ok, "failed": h.failed, "pending": h.pending,
            "status": h.status, "latency_ms": h.avg_latency_ms}  # fmt: skip


# The unusual-activity flags compare a week of sales per merchant: worked out at most this
# often per scope, not on every poll of every open dashboard.
FLAGS_EVERY = timedelta(seconds=60)


def register(ui: AdminUI) -> None:
    ops = oversight(ui)
    clock = ui.services.clock
    flags_cache: dict[str | None, tuple[datetime, list[Any]]] = {}

    async def flags_for(user: Any) -> list[Any]:
        if not user.can("monitoring.view"):
            return []
        now = clock()
        cached = flags_cache.get(user.node_code)
        if cached is None or now - cached[0] >= FLAGS_EVERY or now < cached[0]:
            cached = (now, await ops.monitoring.flags(user))
            flags_cache[user.node_code] = cached
        return cached[1]

    async def _figures(monitoring: StaffMonitoring, user: Any) -> dict[str, Any]:
        board = await monitoring.dashboard(user)
        return as_json(board, await flags_for(user))

    @ui.page(
        "/dashboard",
        permission="dashboard.view",
        nav=NavItem("Dashboard", "/dashboard", "dashboard.view", "Overview", 1),
    )
    async def dashboard(ctx: Ctx) -> Page:
        figures = await _figures(ops.monitoring, ctx.user)
        return Page("ops_dashboard.html", {"d": figures, "poll": POLL_SECONDS})

    @ui.page("/dashboard.json", permission="dashboard.view")
    async def figures(ctx: Ctx) -> bytes:
        body = await _figures(ops.monitoring, ctx.user)
        ctx.request.setHeader(b"Content-Type", b"application/json")
        return json.dumps(body).encode()
