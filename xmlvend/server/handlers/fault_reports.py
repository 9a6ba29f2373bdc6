"""custReportFaultReq: a customer logs a fault with the utility through a vendor's terminal.

The report is recorded (:mod:`utilities.faults`) under the request's key in the same
transaction that stores the answer, a ``custFaultLog`` echoing the customer details and the
report with the reference number the customer quotes; a re-sent request gets the same
answer and logs nothing twice. A meter report is accepted for a meter we do not know (that
may be the very fault); a plain ``m:CustFaultReport`` is logged as a ``general`` fault.
"""

from __future__ import annotations

from utilities.faults.reports import CustomerDetails, FaultReport
from vending.services.fault_reports import FaultReportRequest
from xmlvend.codec import types_meter as m
from xmlvend.server.convert import meter_query
from xmlvend.server.handlers.base import Call, Reply, Services


def fault_report_of(request: m.CustReportFaultReq) -> FaultReport:
    """The domain's view of the request's ``custDetail`` and ``custFaultReport``."""
    detail = request.cust_detail
    customer = CustomerDetails(
        name=detail.name,
        address=detail.address,
        contact_no=detail.contact_no,
        account_no=detail.acc_no,
        loc_ref=detail.loc_ref,
    )
    reported = request.cust_fault_report
    if isinstance(reported, m.MeterFaultReport):
        msno = meter_query(reported.meter_info.meter_identifier).msno
        return FaultReport(kind="meter", customer=customer, description=reported.desc, msno=msno)
    kind = "network" if isinstance(reported, m.NetworkFaultReport) else "general"
    return FaultReport(kind=kind, customer=customer, description=reported.desc)


async def report_fault(services: Services, call: Call) -> Reply:
    request = call.request
    assert isinstance(request, m.CustReportFaultReq)
    outcome = await services.app.fault_reports.report(
        FaultReportRequest(call.context(), fault_report_of(request)), services.renderer
    )
    return Reply.of(outcome)
