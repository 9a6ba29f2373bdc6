"""Reward points: every holder's live balance in the user's scope, the latest moves
(earnings, redemptions, expiries, reversals, adjustments; or the redemptions alone), a
holder's statement, and an adjustment up or down with a reason (``points.adjust``)."""

from __future__ import annotations

from admin.screens.ops import oversight
from admin.web import AdminUI, Ctx, NavItem, Page
from vending.errors import InvalidRequest

KINDS = ("", "earn", "redeem", "expire", "reverse", "clawback", "adjust")


def _int(value: str, what: str) -> int:
    text = value.strip()
    if not text.lstrip("+-").isdigit():
        raise InvalidRequest(f"{what} must be a whole number")
    return int(text)


def register(ui: AdminUI) -> None:
    points = oversight(ui).points

    async def page(ctx: Ctx, status: int = 200, **extra: str) -> Page:
        kind = ctx.arg("kind")
        if kind not in KINDS:
            raise InvalidRequest(f"no kind of move {kind!r}")
        holder = None
        holder_arg = ctx.arg("holder")
        if holder_arg:
            kind_name, _, number = holder_arg.partition(":")
            holder = (kind_name, _int(number, "the holder"))
        balances = await points.balances(ctx.user)
        moves = await points.moves(ctx.user, kind=kind, holder=holder)
        context = {"balances": balances, "moves": moves, "kind": kind, "kinds": KINDS,
                   "holder": holder_arg, "done": "", "error": "", **extra}  # fmt: skip
        return Page("ops_points.html", context, status)

    @ui.page(
        "/points",
        permission="points.view",
        nav=NavItem("Reward points", "/points", "points.view", "Operations", 50),
    )
    async def listing(ctx: Ctx) -> Page:
        return await page(ctx)

    @ui.page("/points/adjust", methods=("POST",), permission="points.adjust")
    async def adjust(ctx: Ctx) -> Page:
        kind, _, number = ctx.field("holder").partition(":")
        try:
            balance = await points.adjust(
                ctx.user, kind, _int(number, "the holder"),
                points_delta=_int(ctx.field("points"), "points"), reason=ctx.field("reason"),
                point_value=_int(ctx.field("point_value") or "1", "a point's value"),
            )  # fmt: skip
        except InvalidRequest as exc:
            return await page(ctx, 400, error=exc.message)
        return await page(ctx, done=f"Adjusted: {kind} {number} now holds {balance.points} "
                                    f"points ({balance.value}).")  # fmt: skip
