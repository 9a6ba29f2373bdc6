"""Signing in (password, then the TOTP code, or the first enrolment), the forced password
change, the user's own account page, and signing out."""

from __future__ import annotations

import base64
import io

import segno

from admin.web import AdminUI, Ctx, Page, Redirect
from vending.errors import InvalidRequest
from vending.services.staff import LoginRefused, check_staff_password


def _qr_data_uri(uri: str) -> str:
    """The provisioning URI as a QR code: an SVG data URI (the CSP allows ``data:`` images,
    nothing else inline)."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=4, border=2, xmldecl=False)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def _groups(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def register(ui: AdminUI) -> None:
    access = ui.services.access

    @ui.page("/login", stage=None)
    async def login_form(ctx: Ctx) -> Page | Redirect:
        if ctx.view is not None and ctx.view.stage == "active":
            return Redirect("/")
        return Page("login.html", {"error": "", "username": ""})

    @ui.page("/login", methods=("POST",), stage=None)
    async def login(ctx: Ctx) -> Page | Redirect:
        username = ctx.field("username")
        try:
            step = await access.login(
                username,
                ctx.form.get("password", ""),
                address=ctx.address,
                user_agent=ctx.user_agent,
            )
        except LoginRefused as exc:
            return Page("login.html", {"error": exc.message, "username": username}, 401)
        ui.start_session(ctx, step.session_id)
        return Redirect("/login/enrol" if step.stage == "enrol" else "/login/code")

    @ui.page("/login/code", stage="password")
    async def code_form(ctx: Ctx) -> Page:
        return Page("login_code.html", {"error": ""})

    @ui.page("/login/code", methods=("POST",), stage="password")
    async def code(ctx: Ctx) -> Page | Redirect:
        try:
            step = await access.second_factor(
                ctx.session_id(),
                ctx.field("code"),
                address=ctx.address,
                user_agent=ctx.user_agent,
            )
        except LoginRefused as exc:
            return Page("login_code.html", {"error": exc.message}, 401)
        ui.start_session(ctx, step.session_id)
        return Redirect("/password" if step.stage == "change" else "/")

    @ui.page("/login/enrol", stage="enrol")
    async def enrol_form(ctx: Ctx, error: str = "") -> Page:
        found = await access.enrolment(ctx.session_id())
        return Page(
            "login_enrol.html",
            {
                "error": error,
                "secret_groups": _groups(found.secret),
                "uri": found.uri,
                "qr": _qr_data_uri(found.uri),
            },
        )

    @ui.page("/login/enrol", methods=("POST",), stage="enrol")
    async def enrol(ctx: Ctx) -> Page | Redirect:
        try:
            step = await access.confirm_enrolment(
                ctx.session_id(),
                ctx.field("code"),
                address=ctx.address,
                user_agent=ctx.user_agent,
            )
        except LoginRefused as exc:
            page = await enrol_form(ctx, error=exc.message)
            page.status = 401
            return page
        ui.start_session(ctx, step.session_id)
        return Redirect("/password" if step.stage == "change" else "/")

    @ui.page("/password", stage="change")
    async def forced_form(ctx: Ctx) -> Page:
        return Page("password.html", {"forced": True, "done": "", "error": ""})

    @ui.page("/password", methods=("POST",), stage="change")
    async def forced(ctx: Ctx) -> Page | Redirect:
        return await _change(ctx, forced=True)

    @ui.page("/account")
    async def account(ctx: Ctx) -> Page:
        history = await access.login_history(ctx.user, user_id=ctx.user.id, limit=20)
        done = "Your password was changed." if ctx.arg("done") == "password" else ""
        return Page("account.html", {"history": history, "done": done, "error": ""})

    @ui.page("/account/password", methods=("POST",))
    async def own_password(ctx: Ctx) -> Page | Redirect:
        return await _change(ctx, forced=False)

    async def _change(ctx: Ctx, *, forced: bool) -> Page | Redirect:
        new, again = ctx.form.get("new", ""), ctx.form.get("again", "")
        template = "password.html" if forced else "account.html"
        extra = (
            {}
            if forced
            else {"history": await access.login_history(ctx.user, user_id=ctx.user.id, limit=20)}
        )
        try:
            if new != again:
                raise LoginRefused("the two new passwords differ")
            check_staff_password(new)
            step = await access.change_own_password(
                ctx.session_id(), ctx.form.get("current", ""), new, address=ctx.address
            )
        except (LoginRefused, InvalidRequest) as exc:
            return Page(
                template, {"forced": forced, "done": "", "error": exc.message, **extra}, 400
            )
        ui.start_session(ctx, step.session_id)
        # The session has a new id and CSRF token now: a fresh page, not this request's.
        return Redirect("/" if forced else "/account?done=password")

    @ui.page("/logout", methods=("POST",), stage=None)
    async def logout(ctx: Ctx) -> Redirect:
        if ctx.view is not None:
            await access.logout(ctx.session_id(), address=ctx.address, user_agent=ctx.user_agent)
        ui.end_session(ctx)
        return Redirect("/login")
