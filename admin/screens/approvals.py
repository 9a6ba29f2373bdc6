"""Four-eyes approvals: what waits, and approving or rejecting it (never one's own)."""

from __future__ import annotations

from admin.web import AdminUI, Ctx, NavItem, Page
from vending.errors import InvalidRequest


def _id(value: str) -> int:
    if not value.isdigit():
        raise InvalidRequest("no such approval")
    return int(value)


def register(ui: AdminUI) -> None:
    four_eyes = ui.services.four_eyes

    @ui.page(
        "/approvals",
        permission="approvals.decide",
        nav=NavItem("Approvals", "/approvals", "approvals.decide", "Overview", 5),
    )
    async def listing(ctx: Ctx, done: str = "") -> Page:
        state = ctx.arg("state", "pending")
        rows = await four_eyes.pending(ctx.user, state=None if state == "all" else state)
        return Page(
            "approvals.html", {"rows": rows, "state": state, "done": done, "kinds": four_eyes.kinds}
        )

    # No page-level permission: the requester may open (and withdraw) its own request; the
    # service checks everything else.
    @ui.page("/approvals/<approval_id>")
    async def detail(ctx: Ctx, approval_id: str) -> Page:
        approval = await four_eyes.view(ctx.user, _id(approval_id))
        return Page("approval.html", {"a": approval, "done": "", "kinds": four_eyes.kinds})

    @ui.page("/approvals/<approval_id>/decide", methods=("POST",))
    async def decide(ctx: Ctx, approval_id: str) -> Page:
        number = _id(approval_id)
        note = ctx.field("note")[:200]
        if ctx.field("decision") == "approve":
            approval = await four_eyes.approve(ctx.user, number, note)
        elif ctx.field("decision") == "withdraw":
            approval = await four_eyes.withdraw(ctx.user, number, note)
        else:
            approval = await four_eyes.reject(ctx.user, number, note)
        done = f"Approval {number}: {approval.state}."
        return Page("approval.html", {"a": approval, "done": done, "kinds": four_eyes.kinds})
