"""Operation name (the codec's ``request.operation``) -> its handler.

Operations of the XMLVend catalogue not listed here are answered ``UseCaseSupportEx`` by
the codec's UnsupportedRequest path (cancelVend, vendor extensions);
the served WSDL advertises exactly the operations listed here.
"""

from __future__ import annotations

from xmlvend.server.handlers import (
    account,
    advice,
    batches,
    deposits,
    engineering,
    fault_reports,
    meters,
    provider_products,
    reprint,
    travel,
    vend,
)
from xmlvend.server.handlers.advice import InFlight
from xmlvend.server.handlers.base import Call, Operation, Reply, Services

# WSDL operation names of what we implement (xmlvend.wsdl portType operations).
WSDL_OPERATIONS: tuple[str, ...] = (
    "ConfirmCustomerRequest",
    "ConfirmMeterRequest",
    "CreditVendRequest",
    "TrialCreditVendRequest",
    "ReprintRequest",
    "AdviceRequest",
    "PayAccRequest",
    "VendorStatementRequest",
    "FBERequest",
    "FreeIssueRequest",
    "MeterCreditTransferRequest",
    "VerifyRequest",
    "UpdateMeterKeyRequest",
    "MeterSpecificEngRequest",
    "NonMeterSpecificEngRequest",
    "StartBatchRequest",
    "EndBatchRequest",
    "TotalBatchRequest",
    "ReprintEndBatchRequest",
    "CustReportFaultRequest",
    "DepositRequest",
    "ReprintDepRequest",
    "BillFetchRequest",
    "InsuranceQuoteRequest",
    "TripSearchRequest",
    "SeatHoldRequest",
    "BookingRequest",
    "CancellationRequest",
)


def operations(in_flight: InFlight) -> dict[str, Operation]:
    """The handlers by operation name. ``in_flight(client_id, request_id)``: see
    :func:`xmlvend.server.handlers.advice.last_response_handler`."""
    return {
        # read-only: answered fresh, then kept under the request key
        "confirmCustomer": Operation(meters.confirm_customer, state_changing=False),
        "confirmMeter": Operation(meters.confirm_meter, state_changing=False),
        "trialCreditVend": Operation(vend.trial_credit_vend, state_changing=False),
        "reprint": Operation(reprint.reprint, state_changing=False),
        "lastRespAdvice": Operation(advice.last_response_handler(in_flight), state_changing=False),
        "vendorStatement": Operation(account.vendor_statement, state_changing=False),
        "totalBatch": Operation(batches.total_batch, state_changing=False),
        "reprintEndBatch": Operation(batches.reprint_end_batch, state_changing=False),
        "reprintDep": Operation(deposits.reprint_deposit, state_changing=False),
        "verify": Operation(engineering.verify, state_changing=False),
        "nonMeterSpecificEng": Operation(
            engineering.non_meter_specific_engineering, state_changing=False
        ),
        "billFetch": Operation(provider_products.bill_fetch, state_changing=False),
        "insuranceQuote": Operation(provider_products.insurance_quote, state_changing=False),
        "tripSearch": Operation(travel.trip_search, state_changing=False),
        # state-changing: the key claimed first, the answer stored with the work
        "creditVend": Operation(vend.credit_vend, state_changing=True),
        "reversalAdvice": Operation(advice.reversal, state_changing=True),
        "confirmationAdvice": Operation(advice.confirmation, state_changing=True),
        "payAcc": Operation(account.pay_account, state_changing=True),
        "fbe": Operation(engineering.fbe, state_changing=True),
        "freeIssue": Operation(engineering.free_issue, state_changing=True),
        "meterCreditTransfer": Operation(engineering.meter_credit_transfer, state_changing=True),
        "updateMeterKey": Operation(engineering.update_meter_key, state_changing=True),
        "meterSpecificEng": Operation(engineering.meter_specific_engineering, state_changing=True),
        "startBatch": Operation(batches.start_batch, state_changing=True),
        "endBatch": Operation(batches.end_batch, state_changing=True),
        "custReportFault": Operation(fault_reports.report_fault, state_changing=True),
        "deposit": Operation(deposits.deposit, state_changing=True),
        "seatHold": Operation(travel.seat_hold, state_changing=True),
        "booking": Operation(travel.booking, state_changing=True),
        "cancellation": Operation(travel.cancellation, state_changing=True),
    }


__all__ = ["WSDL_OPERATIONS", "Call", "Operation", "Reply", "Services", "operations"]
