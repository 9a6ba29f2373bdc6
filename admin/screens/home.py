"""The start page: who is signed in, what waits for them (approvals), where to go."""

from __future__ import annotations

from admin.web import AdminUI, Ctx, NavItem, Page, Redirect


def register(ui: AdminUI) -> None:
    services = ui.services

    @ui.page("/", nav=NavItem("Start", "/", section="Overview", order=0))
    async def home(ctx: Ctx) -> Page:
        pending = []
        if ctx.user.can("approvals.decide"):
            waiting = await services.four_eyes.pending(ctx.user, limit=40)
            # One's own requests are for someone else to decide: listed apart below.
            pending = [a for a in waiting if a.requested_by_id != ctx.user.id][:20]
        mine = await services.four_eyes.pending(ctx.user, mine=True, limit=20)
        return Page("home.html", {"pending": pending, "mine": mine})

    @ui.page("/index", stage=None)
    async def index(ctx: Ctx) -> Redirect:
        return Redirect("/")
