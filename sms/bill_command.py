"""``<PIN> BILL <biller> <value>... [<amount> [<mobile>]]`` (docs/SMS.md): a bill by SMS in
one message, through ``services.bills`` (the JSON API's service). The values after the
biller id are split by the biller's customer parameters (``n`` of them, in the biller's
order; ``-`` leaves an optional one out):

    n values          the bill enquiry: fetched and shown (customer, amount due), kept under
                      the message's request key -- nothing is paid
    n + 1             pay that amount; the customer's mobile is the merchant's own number
    n + 2             pay that amount; the last value is the customer's mobile

A payment to a biller that fetches (MANDATORY; OPTIONAL when it has a bill) is fetched first
and paid against that fetch, within the same message: no session a lost SMS could leave half
open. The amount rule (exact, partial, over) is checked against the fetched bill."""

from __future__ import annotations

from typing import Any

from sms.grammar import Command, parse_amount
from sms.renderer import text
from vending.auth import Principal
from vending.errors import InvalidRequest, VendingError
from vending.money import Money
from vending.requests import StoredResponse
from vending.services.bill_payments import BillFetchRequest, BillPaymentRequest
from vending.services.context import RequestContext

LEFT_OUT = "-"


async def run_bill(
    services: Any, renderer: Any, ctx: RequestContext, sender: str, command: Command
) -> StoredResponse:
    bills = getattr(services, "bills", None)
    if bills is None:
        raise InvalidRequest("bill payment is not offered here")
    principal: Principal = ctx.principal
    biller = await bills.biller(command.biller or "")
    count, values = len(biller.params), list(command.values)
    if len(values) not in (count, count + 1, count + 2):
        names = " ".join(f"<{p.name}>" for p in biller.params)
        raise InvalidRequest(f"send BILL {biller.biller_id} {names} [amount [mobile]]")
    params: dict[str, str] = {}
    for index, value in enumerate(values[:count]):
        checked = bills.check_param(biller, index, "" if value == LEFT_OUT else value)
        if checked is not None:
            params[biller.params[index].name] = checked
    mobile = bills.check_mobile(values[count + 1] if len(values) == count + 2 else sender[-10:])
    enquiry = len(values) == count
    bill = None
    if enquiry or biller.fetch_requirement != "NOT_SUPPORTED":
        fetch = BillFetchRequest(principal, biller.biller_id, params, mobile)
        try:
            bill = await bills.fetch(fetch)
        except VendingError:
            if enquiry or biller.fetch_requirement == "MANDATORY":
                raise
    if enquiry:
        due = f" due {bill.due_date}" if bill.due_date else ""
        shown = " ".join(values)
        answer = text(
            f"Bill {biller.biller_id} {bill.customer_name[:30]}: {bill.amount}{due}. To pay "
            f"send <PIN> BILL {biller.biller_id} {shown} {bill.amount.format()}"
        )
        return (await services.answers.keep(ctx.key, principal, answer)).response
    amount = Money.parse(parse_amount(values[count]), principal.currency)
    request = BillPaymentRequest(
        ctx, biller.biller_id, amount, mobile, params, None if bill is None else bill.ref_id
    )
    outcome = await bills.pay(request, renderer)
    return outcome.response


__all__ = ["run_bill"]
