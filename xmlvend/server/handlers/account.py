"""payAccReq (a meter customer's debt or service charge, paid through the vendor) and
vendorStatementReq (the vendor's balance, available credit and last ledger lines)."""

from __future__ import annotations

from utilities.interface import AccountPayment
from xmlvend.codec import types_revenue as r
from xmlvend.server import txns
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
    processed = await services.utility.pay_account(call.context(), payment, services.renderer)
    return Reply.of(processed)  # an account payment, not a vend


async def vendor_statement(services: Services, call: Call) -> Reply:
    request = call.request
    assert isinstance(request, r.VendorStatementReq)
    vendor, lines = await services.run(
        "xmlvend_vendor_statement", txns.vendor_statement, call.who, services.statement_lines
    )
    return Reply(services.renderer.statement(request, vendor, lines))
