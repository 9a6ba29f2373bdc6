"""The distribution network: its nodes (distributors, dealers, merchants) in the user's
scope, a node's limits, status, credit/debit with a reason (four-eyes above the
threshold), children, users, and a merchant's operators and API keys."""

from __future__ import annotations

from admin.web import AdminUI, Ctx, NavItem, Page
from distribution.nodes import LEVELS
from vending.errors import InvalidRequest


def _int(value: str, what: str) -> int:
    if not value.isdigit():
        raise InvalidRequest(f"no such {what}")
    return int(value)


def register(ui: AdminUI) -> None:
    network = ui.services.network

    async def node_page(ctx: Ctx, code: str, status: int = 200, **extra: object) -> Page:
        detail = await network.node(ctx.user, code)
        context = {"d": detail, "levels": LEVELS, "done": "", "error": "", "secret": "", **extra}
        return Page("node.html", context, status)

    @ui.page(
        "/network",
        permission="hierarchy.view",
        nav=NavItem("Network", "/network", "hierarchy.view", "Network", 10),
    )
    async def listing(ctx: Ctx) -> Page:
        rows = await network.network(ctx.user)
        return Page("network.html", {"rows": rows, "levels": LEVELS})

    @ui.page("/network/<code>", permission="hierarchy.view")
    async def detail(ctx: Ctx, code: str) -> Page:
        return await node_page(ctx, code)

    async def acting(ctx: Ctx, code: str, action: object, done: str) -> Page:
        """Run ``action`` and show the node again: with ``done``, or the error (400)."""
        try:
            result = await action  # type: ignore[misc]
        except InvalidRequest as exc:
            return await node_page(ctx, code, 400, error=exc.message)
        if callable(done):
            return await node_page(ctx, code, **done(result))
        return await node_page(ctx, code, done=done)

    @ui.page("/network/<code>/children", methods=("POST",), permission="hierarchy.manage")
    async def create_child(ctx: Ctx, code: str) -> Page:
        return await acting(
            ctx,
            code,
            network.create_node(
                ctx.user,
                parent=code,
                code=ctx.field("code"),
                name=ctx.field("name"),
                credit_limit=ctx.field("credit_limit"),
                vendor_client_id=ctx.field("vendor"),
            ),
            "Node created.",
        )

    @ui.page("/network/<code>/status", methods=("POST",), permission="hierarchy.block")
    async def status(ctx: Ctx, code: str) -> Page:
        wanted = ctx.field("status")
        return await acting(
            ctx, code, network.set_status(ctx.user, code, wanted), f"Node {code} is {wanted} now."
        )

    @ui.page("/network/<code>/limits", methods=("POST",), permission="hierarchy.manage")
    async def limits(ctx: Ctx, code: str) -> Page:
        return await acting(
            ctx,
            code,
            network.set_limits(
                ctx.user,
                code,
                credit_limit=ctx.field("credit_limit"),
                daily_sale_limit=ctx.field("daily_sale_limit"),
            ),
            "Limits saved.",
        )

    @ui.page("/network/<code>/credit", methods=("POST",), permission="hierarchy.credit")
    async def credit(ctx: Ctx, code: str) -> Page:
        def said(outcome: object) -> dict[str, str]:
            approval = getattr(outcome, "approval", None)
            if approval is not None:
                return {
                    "done": f"Above the four-eyes threshold: approval {approval.id} waits "
                    "for a second user.",
                    "approval_id": str(approval.id),
                }
            return {"done": f"Done: transfer {outcome.result['transfer_id']}."}  # type: ignore[attr-defined]

        return await acting(
            ctx,
            code,
            network.move_credit(
                ctx.user,
                code,
                direction=ctx.field("direction"),
                amount=ctx.field("amount"),
                reason=ctx.field("reason"),
            ),
            said,
        )  # type: ignore[arg-type]

    @ui.page("/network/<code>/operators", methods=("POST",), permission="operators.manage")
    async def create_operator(ctx: Ctx, code: str) -> Page:
        return await acting(
            ctx,
            code,
            network.create_operator(
                ctx.user,
                code,
                name=ctx.field("name"),
                password=ctx.form.get("password", ""),
            ),
            "Operator created.",
        )

    @ui.page(
        "/network/<code>/operators/<operator_id>/block",
        methods=("POST",),
        permission="operators.manage",
    )
    async def block_operator(ctx: Ctx, code: str, operator_id: str) -> Page:
        blocked = ctx.field("blocked") == "yes"
        return await acting(
            ctx,
            code,
            network.set_operator_blocked(
                ctx.user,
                code,
                _int(operator_id, "operator"),
                blocked,
            ),
            "Operator blocked." if blocked else "Operator unblocked.",
        )

    @ui.page(
        "/network/<code>/operators/<operator_id>/password",
        methods=("POST",),
        permission="operators.manage",
    )
    async def operator_password(ctx: Ctx, code: str, operator_id: str) -> Page:
        def said(password: object) -> dict[str, str]:
            return {
                "done": "New one-time password of the operator; it is shown this once:",
                "secret": str(password),
            }

        return await acting(
            ctx,
            code,
            network.reset_operator_password(ctx.user, code, _int(operator_id, "operator")),
            said,
        )  # type: ignore[arg-type]

    @ui.page("/network/<code>/api-keys", methods=("POST",), permission="operators.manage")
    async def create_key(ctx: Ctx, code: str) -> Page:
        def said(result: object) -> dict[str, str]:
            _record, key = result  # type: ignore[misc]
            return {"done": "API key created; it is shown this once:", "secret": key}

        return await acting(
            ctx,
            code,
            network.create_api_key(
                ctx.user,
                code,
                operator_name=ctx.field("operator"),
                label=ctx.field("label"),
            ),
            said,
        )  # type: ignore[arg-type]

    @ui.page(
        "/network/<code>/api-keys/<key_id>/revoke", methods=("POST",), permission="operators.manage"
    )
    async def revoke_key(ctx: Ctx, code: str, key_id: str) -> Page:
        return await acting(
            ctx,
            code,
            network.revoke_api_key(ctx.user, code, _int(key_id, "API key")),
            "API key revoked.",
        )
