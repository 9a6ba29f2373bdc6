"""payAccReq (a meter customer's debt or service charge, paid through the vendor) and
vendorStatementReq (the vendor's balance, available credit and last ledger lines)."""

from __future__ import annotations

from utilities.interface import AccountPayment
from vending.services.accounts import AccountPaymentRequest
from vending.services.statements import StatementRequest
from xmlvend.codec import types_revenue as r
from xmlvend.server.convert import meter_query_of
from xmlvend.server.handlers.base import Call, Reply, Services
from xmlvend.server.handlers.vend import cash_tender


async def pay_account(services: Services, call: Call) -> Reply:
    request = call.request
    assert isinstance(request, r.PayAccReq)
    account = request.pay_account
    # ServiceChrg pays this month's service charge; DebtRecovery (and a plain PayAccount,
    # "pay my account") pays off outstanding debt.
    kind = "service" if isinstance(account, r.ServiceChrg) else "debt"
    payment = AccountPayment(
        meter=meter_query_of(account.id_method),
        kind=kind,
        amount=services.currencies.money(request.req_amt),
        tender=cash_tender(request.pay_type, services.currencies),
        product_code=services.electricity_product,
    )
    outcome = await services.app.accounts.pay_account(
        AccountPaymentRequest(call.context(), payment), services.renderer
    )
    return Reply.of(outcome)  # an account payment, not a vend


async def vendor_statement(services: Services, call: Call) -> Reply:
    request = call.request
    assert isinstance(request, r.VendorStatementReq)
    statement = await services.app.statements.vendor_statement(
        StatementRequest(call.who, services.app.settings.statement_lines)
    )
    return Reply(services.renderer.statement(request, statement.vendor, statement.lines))
