"""Work queues: the deposits manual queue (assign to a merchant, reject, each with a
reason), fund requests from below the user's node (approve = the transfer; reject with a
reason), and customer fault reports (open ones first; close with a resolution)."""

from __future__ import annotations

from admin.screens.ops import oversight
from admin.web import AdminUI, Ctx, NavItem, Page
from vending.errors import InvalidRequest
from vending.money import Money


def _int(value: str, what: str) -> int:
    if not value.isdigit():
        raise InvalidRequest(f"no such {what}")
    return int(value)


def register(ui: AdminUI) -> None:
    queues = oversight(ui).queues

    async def deposits_page(ctx: Ctx, status: int = 200, **extra: str) -> Page:
        rows = await queues.deposits(ctx.user)
        return Page("ops_deposits.html", {"rows": rows, "done": "", "error": "", **extra}, status)

    @ui.page(
        "/deposits",
        permission="deposits.view",
        nav=NavItem("Deposits queue", "/deposits", "deposits.view", "Operations", 20),
    )
    async def deposits(ctx: Ctx) -> Page:
        return await deposits_page(ctx)

    @ui.page("/deposits/<deposit_id>/assign", methods=("POST",), permission="deposits.manage")
    async def assign(ctx: Ctx, deposit_id: str) -> Page:
        number = _int(deposit_id, "deposit")
        amount_text = ctx.field("amount")
        try:
            amount = None
            if amount_text:
                current = next((d for d in await queues.deposits(ctx.user) if d.id == number),
                               None)  # fmt: skip
                if current is None:
                    raise InvalidRequest(f"deposit {number} is not in the queue")
                amount = Money.parse(amount_text, current.amount.currency)
            done = await queues.assign_deposit(
                ctx.user, number, ctx.field("merchant"), reason=ctx.field("reason"), amount=amount
            )
        except (InvalidRequest, ValueError) as exc:
            return await deposits_page(ctx, 400, error=str(getattr(exc, "message", exc)))
        return await deposits_page(
            ctx, done=f"Deposit {done.id} credited to {done.vendor}: {done.amount} "
                      f"{done.amount.currency} (fee {done.fee})."
        )  # fmt: skip

    @ui.page("/deposits/<deposit_id>/reject", methods=("POST",), permission="deposits.manage")
    async def reject(ctx: Ctx, deposit_id: str) -> Page:
        number = _int(deposit_id, "deposit")
        try:
            await queues.reject_deposit(ctx.user, number, reason=ctx.field("reason"))
        except InvalidRequest as exc:
            return await deposits_page(ctx, 400, error=exc.message)
        return await deposits_page(ctx, done=f"Deposit {number} rejected.")

    async def requests_page(ctx: Ctx, status: int = 200, **extra: str) -> Page:
        rows = await queues.fund_requests(ctx.user)
        context = {"rows": rows, "done": "", "error": "", **extra}
        return Page("ops_fund_requests.html", context, status)

    @ui.page(
        "/fund-requests",
        permission="fundrequests.decide",
        nav=NavItem("Fund requests", "/fund-requests", "fundrequests.decide", "Operations", 30),
    )
    async def fund_requests(ctx: Ctx) -> Page:
        return await requests_page(ctx)

    @ui.page("/fund-requests/<request_id>/decide", methods=("POST",),
             permission="fundrequests.decide")  # fmt: skip
    async def decide(ctx: Ctx, request_id: str) -> Page:
        number = _int(request_id, "fund request")
        approve = ctx.field("decision") == "approve"
        try:
            done = await queues.decide_fund_request(ctx.user, number, approve=approve,
                                                    reason=ctx.field("reason")[:200])  # fmt: skip
        except InvalidRequest as exc:
            return await requests_page(ctx, 400, error=exc.message)
        return await requests_page(ctx, done=f"Fund request {number} {done.state}.")

    async def faults_page(ctx: Ctx, status: int = 200, **extra: str) -> Page:
        show_all = ctx.arg("show") == "all"
        rows = await queues.fault_reports(ctx.user, open_only=not show_all)
        context = {"rows": rows, "show_all": show_all, "done": "", "error": "", **extra}
        return Page("ops_faults.html", context, status)

    @ui.page(
        "/faults",
        permission="faults.view",
        nav=NavItem("Fault reports", "/faults", "faults.view", "Operations", 40),
    )
    async def faults(ctx: Ctx) -> Page:
        return await faults_page(ctx)

    @ui.page("/faults/<ref_no>/close", methods=("POST",), permission="faults.view")
    async def close(ctx: Ctx, ref_no: str) -> Page:
        try:
            await queues.close_fault_report(ctx.user, ref_no, resolution=ctx.field("resolution"))
        except InvalidRequest as exc:
            return await faults_page(ctx, 400, error=exc.message)
        return await faults_page(ctx, done=f"Fault report {ref_no} closed.")
