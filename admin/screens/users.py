"""Users and roles: the list, a new user (one-time password shown once), a user's role,
permissions and status, password and two-factor resets; the login history."""

from __future__ import annotations

from admin.web import AdminUI, Ctx, NavItem, Page
from staff.roles import PERMISSIONS, ROLES
from vending.errors import InvalidRequest


def _id(value: str) -> int:
    if not value.isdigit():
        raise InvalidRequest("no such user")
    return int(value)


def register(ui: AdminUI) -> None:
    access = ui.services.access

    def user_page(user: object, **extra: object) -> Page:
        return Page(
            "user.html",
            {
                "u": user,
                "roles": ROLES,
                "permissions": PERMISSIONS,
                "done": "",
                "secret": "",
                **extra,
            },
        )

    @ui.page(
        "/users",
        permission="users.view",
        nav=NavItem("Users and roles", "/users", "users.view", "Access", 10),
    )
    async def listing(ctx: Ctx) -> Page:
        rows = await access.users(ctx.user)
        return Page(
            "users.html", {"rows": rows, "roles": ROLES, "done": "", "secret": "", "form": {}}
        )

    @ui.page("/users", methods=("POST",), permission="users.manage")
    async def create(ctx: Ctx) -> Page:
        form = {k: ctx.field(k) for k in ("username", "display_name", "role", "node")}
        try:
            user, temporary = await access.create_user(
                ctx.user,
                username=form["username"],
                display_name=form["display_name"],
                role=form["role"],
                node_code=form["node"] or None,
            )
        except InvalidRequest as exc:
            rows = await access.users(ctx.user)
            return Page(
                "users.html",
                {
                    "rows": rows,
                    "roles": ROLES,
                    "done": "",
                    "error": exc.message,
                    "secret": "",
                    "form": form,
                },
                400,
            )
        rows = await access.users(ctx.user)
        return Page(
            "users.html",
            {
                "rows": rows,
                "roles": ROLES,
                "form": {},
                "done": f"User {user.username} created. Hand over this one-time password; it "
                "must be changed at the first sign-in, when two-factor is set up too:",
                "secret": temporary,
            },
        )

    @ui.page("/users/<user_id>", permission="users.view")
    async def detail(ctx: Ctx, user_id: str) -> Page:
        user = await access.user(ctx.user, _id(user_id))
        history = await access.login_history(ctx.user, user_id=user.id, limit=20)
        return user_page(user, history=history)

    @ui.page("/users/<user_id>/access", methods=("POST",), permission="users.manage")
    async def change_access(ctx: Ctx, user_id: str) -> Page:
        wanted = {name for name in PERMISSIONS if ctx.form.get(f"perm:{name}") == "on"}
        role = ctx.field("role")
        if ctx.field("from_template") == "on" and role in ROLES:
            wanted = set(ROLES[role].permissions)
        user = await access.update_access(
            ctx.user, _id(user_id), role=role, permissions=wanted, status=ctx.field("status")
        )
        history = await access.login_history(ctx.user, user_id=user.id, limit=20)
        return user_page(user, history=history, done="Access saved.")

    @ui.page("/users/<user_id>/reset-password", methods=("POST",), permission="users.manage")
    async def reset_password(ctx: Ctx, user_id: str) -> Page:
        temporary = await access.reset_password(ctx.user, _id(user_id))
        user = await access.user(ctx.user, _id(user_id))
        history = await access.login_history(ctx.user, user_id=user.id, limit=20)
        return user_page(
            user,
            history=history,
            secret=temporary,
            done="Password reset; the user's sessions ended. One-time password:",
        )

    @ui.page("/users/<user_id>/reset-totp", methods=("POST",), permission="users.manage")
    async def reset_totp(ctx: Ctx, user_id: str) -> Page:
        await access.reset_totp(ctx.user, _id(user_id))
        user = await access.user(ctx.user, _id(user_id))
        history = await access.login_history(ctx.user, user_id=user.id, limit=20)
        return user_page(
            user,
            history=history,
            done="Two-factor reset: the user sets it up again at the next sign-in.",
        )

    @ui.page(
        "/logins",
        permission="users.view",
        nav=NavItem("Login history", "/logins", "users.view", "Access", 20),
    )
    async def logins(ctx: Ctx) -> Page:
        history = await access.login_history(ctx.user, limit=200)
        return Page("logins.html", {"history": history})
