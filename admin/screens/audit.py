"""The audit log viewer: who did what, when, with the before/after details; filters by
actor, action and subject (prefixes), paged by id."""

from __future__ import annotations

from admin.web import AdminUI, Ctx, NavItem, Page

PAGE = 50


def register(ui: AdminUI) -> None:
    access = ui.services.access

    @ui.page(
        "/audit",
        permission="audit.view",
        nav=NavItem("Audit log", "/audit", "audit.view", "Access", 30),
    )
    async def audit_log(ctx: Ctx) -> Page:
        filters = {k: ctx.arg(k)[:120] for k in ("actor", "action", "subject")}
        before = ctx.arg("before")
        rows = await access.audit_log(
            ctx.user,
            who=filters["actor"],
            action=filters["action"],
            subject=filters["subject"],
            before_id=int(before) if before.isdigit() else None,
            limit=PAGE,
        )
        older = rows[-1]["id"] if len(rows) == PAGE else None
        return Page("audit.html", {"rows": rows, "filters": filters, "older": older})
