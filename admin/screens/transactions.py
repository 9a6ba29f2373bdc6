"""Transactions: search by id, receipt, request id, mobile number or meter, time range,
state, channel, product kind and merchant; the detail (every ledger leg, the request, the
answer masked unless the user may reprint); reversal with four-eyes (the request becomes
an approval a second user decides on the approvals screen); the CSV export of the same
filters, streamed page by page."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from admin.screens.ops import oversight
from admin.web import AdminUI, Ctx, NavItem, Page
from vending.errors import InvalidRequest
from vending.oversight.transactions import TransactionFilter
from vending.services.approvals import ApprovalKind

STATES = ("", "pending", "completed", "failed", "reversed")
CHANNELS = ("", "xmlvend", "json", "sms", "ussd", "card", "app")
KINDS = ("", "electricity", "voucher", "pinless", "bill_payment", "dth", "data",
         "money_transfer", "insurance")  # fmt: skip
REVERSE_KIND = "transaction.reverse"


def _instant(value: str, what: str) -> datetime | None:
    """A date or date-time from the form (UTC)."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(f"the {what} is not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def filter_from(ctx: Ctx) -> TransactionFilter:
    def choice(name: str, allowed: tuple[str, ...]) -> str:
        value = ctx.arg(name)
        if value not in allowed:
            raise InvalidRequest(f"no {name} {value!r}")
        return value

    return TransactionFilter(
        reference=ctx.arg("reference")[:64],
        target=ctx.arg("target")[:64],
        start=_instant(ctx.arg("start"), "start"),
        end=_instant(ctx.arg("end"), "end"),
        state=choice("state", STATES),
        channel=choice("channel", CHANNELS),
        kind=choice("kind", KINDS),
        merchant=ctx.arg("merchant")[:64],
    )


FILTERS = ("reference", "target", "start", "end", "state", "channel", "kind", "merchant")


def _query(ctx: Ctx) -> dict[str, str]:
    """The filters given (for links: the export, the next page)."""
    return {name: ctx.arg(name) for name in FILTERS if ctx.arg(name)}


def register(ui: AdminUI) -> None:
    ops = oversight(ui)
    four_eyes = ui.services.four_eyes

    async def execute(payload: dict[str, Any], approver: Any, approval: Any) -> dict[str, Any]:
        # Runs when a second user approves: the service re-checks scope, state and policy.
        requested_by = approval.requested_by if approval is not None else approver.actor
        sale = await ops.transactions.reverse(
            approver, int(payload["sale_id"]), reason=str(payload["reason"]),
            requested_by=requested_by,
        )  # fmt: skip
        return {"sale_id": sale.id, "state": sale.state, "receipt": sale.receipt_no}

    if REVERSE_KIND not in four_eyes.kinds:
        four_eyes.register(ApprovalKind(REVERSE_KIND, "transactions.reverse", execute,
                                        "Reverse a transaction"))  # fmt: skip

    async def _waiting(ctx: Ctx, sale_id: int) -> Any:
        """The pending reversal approval of the sale, if one was filed."""
        for approval in await four_eyes.pending(ctx.user, limit=500):
            if approval.kind == REVERSE_KIND and approval.subject == f"sale:{sale_id}":
                return approval
        return None

    @ui.page(
        "/transactions",
        permission="transactions.view",
        nav=NavItem("Transactions", "/transactions", "transactions.view", "Operations", 10),
    )
    async def search(ctx: Ctx) -> Page:
        query = _query(ctx)
        before = ctx.arg("before")
        page = await ops.transactions.search(
            ctx.user, filter_from(ctx), before=int(before) if before.isdigit() else None
        )
        return Page("ops_transactions.html", {
            "page": page, "q": {name: ctx.arg(name) for name in FILTERS}, "given": query,
            "states": STATES, "channels": CHANNELS, "kinds": KINDS,
        })  # fmt: skip

    @ui.page("/transactions/export.csv", permission="transactions.view")
    async def export(ctx: Ctx) -> bytes:
        chunks = await ops.transactions.export_csv(ctx.user, filter_from(ctx))
        request = ctx.request
        request.setHeader(b"Content-Type", b"text/csv; charset=utf-8")
        request.setHeader(b"Content-Disposition", b'attachment; filename="transactions.csv"')
        # Streamed: each page read is written before the next is asked for.
        async for chunk in chunks:
            request.write(chunk)
        return b""

    async def detail_page(ctx: Ctx, sale_id: str, **extra: Any) -> Page:
        if not sale_id.isdigit():
            raise InvalidRequest("no such transaction")
        found = await ops.transactions.detail(ctx.user, int(sale_id))
        refusal = waiting = None
        if ctx.user.can("transactions.reverse"):
            refusal = await ops.transactions.reversal_refusal(ctx.user, int(sale_id))
            waiting = await _waiting(ctx, found.sale.id)
        context = {"t": found, "refusal": refusal, "waiting": waiting, "done": "", "error": "",
                   **extra}  # fmt: skip
        return Page("ops_transaction.html", context)

    @ui.page("/transactions/<sale_id>", permission="transactions.view")
    async def detail(ctx: Ctx, sale_id: str) -> Page:
        return await detail_page(ctx, sale_id)

    @ui.page("/transactions/<sale_id>/reverse", methods=("POST",),
             permission="transactions.reverse")  # fmt: skip
    async def reverse(ctx: Ctx, sale_id: str) -> Page:
        if not sale_id.isdigit():
            raise InvalidRequest("no such transaction")
        reason = ctx.field("reason")[:200]
        if not reason:
            return await detail_page(ctx, sale_id, error="A reversal needs a reason.")
        found = await ops.transactions.detail(ctx.user, int(sale_id))
        refusal = await ops.transactions.reversal_refusal(ctx.user, found.sale.id)
        if refusal:
            return await detail_page(ctx, sale_id, error=refusal)
        if await _waiting(ctx, found.sale.id) is not None:
            return await detail_page(ctx, sale_id, error="A reversal of this sale waits for "
                                     "approval already.")  # fmt: skip
        outcome = await four_eyes.submit(
            ctx.user, REVERSE_KIND, subject=f"sale:{found.sale.id}",
            summary=f"Reverse sale {found.sale.receipt_no} ({found.sale.amount} "
                    f"{found.sale.amount.currency}): {reason}",
            payload={"sale_id": found.sale.id, "reason": reason}, amount=found.sale.amount,
        )  # fmt: skip
        if outcome.pending:
            done = (f"Reversal filed as approval {outcome.approval.id}: a second user must "
                    "approve it.")  # fmt: skip
        else:
            done = "Reversed."
        return await detail_page(ctx, sale_id, done=done)
