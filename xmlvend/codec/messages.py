"""The message catalogue: which global element carries which request/response type, the
operation name of each request, and the requests we recognise but do not implement.

Dispatch is on the QName of the first element child of ``soap:Body`` (never SOAPAction,
reference §1.3). Where the element's declared type is abstract (``b:adviceReq``,
``m:meterSpecificEngReq``, ...) the ``xsi:type`` selects the class.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import ClassVar

from xmlvend.codec import types_base as b
from xmlvend.codec import types_ext as ext
from xmlvend.codec import types_meter as m
from xmlvend.codec import types_revenue as r
from xmlvend.codec.binding import freeze_registry
from xmlvend.codec.envelope import SOAP_1_1, SoapVersion
from xmlvend.codec.namespaces import BASE, EXT, METER, REVENUE
from xmlvend.codec.plans import canonical_text


def _clark(ns: str, local: str) -> str:
    return f"{{{ns}}}{local}"


# Global request element -> (declared type, operation name; None = from the xsi:type class).
REQUEST_ELEMENTS: dict[str, tuple[type, str | None]] = {
    _clark(REVENUE, "confirmCustomerReq"): (r.ConfirmCustomerReq, "confirmCustomer"),
    _clark(METER, "confirmMeterReq"): (m.ConfirmMeterReq, "confirmMeter"),
    _clark(REVENUE, "creditVendReq"): (r.CreditVendReq, "creditVend"),
    _clark(REVENUE, "trialCreditVendReq"): (r.TrialCreditVendReq, "trialCreditVend"),
    _clark(REVENUE, "reprintReq"): (r.ReprintReq, "reprint"),
    _clark(BASE, "adviceReq"): (b.AdviceReq, None),
    _clark(REVENUE, "payAccReq"): (r.PayAccReq, "payAcc"),
    _clark(REVENUE, "vendorStatementReq"): (r.VendorStatementReq, "vendorStatement"),
    _clark(REVENUE, "fbeReq"): (r.FBEReq, "fbe"),
    _clark(REVENUE, "freeIssueReq"): (r.FreeIssueReq, "freeIssue"),
    _clark(REVENUE, "meterCreditTransferReq"): (r.MeterCreditTransferReq, "meterCreditTransfer"),
    _clark(REVENUE, "verifyReq"): (r.VerifyReq, "verify"),
    _clark(METER, "updateMeterKeyReq"): (m.UpdateMeterKeyReq, "updateMeterKey"),
    _clark(METER, "meterSpecificEngReq"): (m.MeterSpecificEngReq, "meterSpecificEng"),
    _clark(METER, "nonMeterSpecificEngReq"): (m.NonMeterSpecificEngReq, "nonMeterSpecificEng"),
    _clark(METER, "custReportFaultReq"): (m.CustReportFaultReq, "custReportFault"),
    _clark(REVENUE, "startBatchReq"): (r.StartBatchReq, "startBatch"),
    _clark(REVENUE, "endBatchReq"): (r.EndBatchReq, "endBatch"),
    _clark(REVENUE, "totalBatchReq"): (r.TotalBatchReq, "totalBatch"),
    _clark(REVENUE, "reprintEndBatchReq"): (r.ReprintEndBatchReq, "reprintEndBatch"),
    _clark(REVENUE, "depositReq"): (r.DepositReq, "deposit"),
    _clark(REVENUE, "reprintDepReq"): (r.ReprintDepositReq, "reprintDep"),
    # Ours (docs/EXTENSION-NAMESPACE.md): read-only steps before a creditVendReq.
    _clark(EXT, "billFetchReq"): (ext.BillFetchReq, "billFetch"),
    _clark(EXT, "insuranceQuoteReq"): (ext.InsuranceQuoteReq, "insuranceQuote"),
    # Ours: bus travel.
    _clark(EXT, "tripSearchReq"): (ext.TripSearchReq, "tripSearch"),
    _clark(EXT, "seatHoldReq"): (ext.SeatHoldReq, "seatHold"),
    _clark(EXT, "bookingReq"): (ext.BookingReq, "booking"),
    _clark(EXT, "cancellationReq"): (ext.CancellationReq, "cancellation"),
}

# Advices share one element; their operation names come from the xsi:type.
ADVICE_OPERATIONS: dict[type, str] = {
    b.ConfirmationAdviceReq: "confirmationAdvice",
    b.ReversalAdviceReq: "reversalAdvice",
    b.LastRespAdviceReq: "lastRespAdvice",
}

RESPONSE_ELEMENTS: dict[str, type] = {
    _clark(REVENUE, "confirmCustomerResp"): r.ConfirmCustomerResp,
    _clark(METER, "confirmMeterResp"): m.ConfirmMeterResp,
    _clark(REVENUE, "creditVendResp"): r.CreditVendResp,
    _clark(REVENUE, "trialCreditVendResp"): r.TrialCreditVendResp,
    _clark(REVENUE, "reprintResp"): r.ReprintResp,
    _clark(BASE, "adviceResp"): b.AdviceResp,
    _clark(REVENUE, "payAccResp"): r.PayAccResp,
    _clark(REVENUE, "vendorStatementResp"): r.VendorStatementResp,
    _clark(REVENUE, "fbeResp"): r.FBEResp,
    _clark(REVENUE, "freeIssueResp"): r.FreeIssueResp,
    _clark(REVENUE, "meterCreditTransferResp"): r.MeterCreditTransferResp,
    _clark(REVENUE, "verifyResp"): r.VerifyResp,
    _clark(METER, "updateMeterKeyResp"): m.UpdateMeterKeyResp,
    _clark(METER, "meterSpecificEngResp"): m.MeterSpecificEngResp,
    _clark(METER, "nonMeterSpecificEngResp"): m.NonMeterSpecificEngResp,
    _clark(METER, "custReportFaultResp"): m.CustReportFaultResp,
    _clark(REVENUE, "startBatchResp"): r.StartBatchResp,
    _clark(REVENUE, "endBatchResp"): r.EndBatchResp,
    _clark(REVENUE, "totalBatchResp"): r.TotalBatchResp,
    _clark(REVENUE, "reprintEndBatchResp"): r.ReprintEndBatchResp,
    _clark(REVENUE, "depositResp"): r.DepositResp,
    _clark(REVENUE, "reprintDepResp"): r.ReprintDepositResp,
    _clark(BASE, "xmlvendFaultResp"): b.XMLVendFaultResp,
    _clark(EXT, "billFetchResp"): ext.BillFetchResp,
    _clark(EXT, "insuranceQuoteResp"): ext.InsuranceQuoteResp,
    _clark(EXT, "tripSearchResp"): ext.TripSearchResp,
    _clark(EXT, "seatHoldResp"): ext.SeatHoldResp,
    _clark(EXT, "bookingResp"): ext.BookingResp,
}

# Requests of the standard catalogue (reference §2.1) that we recognise but do not implement,
# plus the vendor requests seen in the wild (§2.9): answered with UseCaseSupportEx.
UNSUPPORTED_REQUEST_ELEMENTS: dict[str, str] = {
    _clark(REVENUE, "cancelVendReq"): "cancelVend",
    # Hexing (§2.9)
    _clark(REVENUE, "loginReq"): "login",
    _clark(REVENUE, "confirmNodeReq"): "confirmNode",
    _clark(BASE, "getOrderStatusReq"): "getOrderStatus",
    _clark(BASE, "sendTokenReq"): "sendToken",
    _clark(METER, "getMeterBalanceReq"): "getMeterBalance",
    # Conlog (§2.1, §2.9)
    _clark(REVENUE, "cmftReq"): "cmft",
    _clark(REVENUE, "cancelPendingReq"): "cancelPending",
    _clark(BASE, "vendingServerStateReq"): "vendingServerState",
}

_OPERATION_OF: dict[type, str] = {
    declared: op for declared, op in REQUEST_ELEMENTS.values() if op is not None
}
_OPERATION_OF.update(ADVICE_OPERATIONS)

_ELEMENT_OF: dict[type, str] = {}
for _tag, (_declared, _op) in REQUEST_ELEMENTS.items():
    _ELEMENT_OF[_declared] = _tag
for _tag, _declared in RESPONSE_ELEMENTS.items():
    _ELEMENT_OF[_declared] = _tag


def element_for(cls: type) -> tuple[str, type]:
    """(global element tag, its declared type) a message object of class ``cls`` is sent as.

    The most specific registered class in the MRO wins: TrialCreditVendResp is sent as
    ``r:trialCreditVendResp`` although it extends CreditVendResp.
    """
    for klass in cls.__mro__:
        tag = _ELEMENT_OF.get(klass)
        if tag is not None:
            return tag, klass
    raise TypeError(f"{cls.__name__} is not an XMLVend message type")


def operation_of(cls: type) -> str:
    found = _OPERATION_OF_CLASS.get(cls)  # asked several times per request: remembered
    if found is not None:
        return found
    for klass in cls.__mro__:
        op = _OPERATION_OF.get(klass)
        if op is not None:
            _OPERATION_OF_CLASS[cls] = op
            return op
    raise TypeError(f"{cls.__name__} is not an XMLVend request type")


# class -> its operation, as operation_of found it in the class's MRO (the dict
# BaseReq.operation reads first).
_OPERATION_OF_CLASS = b.OPERATION_OF_CLASS


def fingerprint_of(value: object) -> bytes:
    """SHA-256 over the canonical content of a request, without the operator credentials.

    Equal for byte-different but equivalent re-sends (other prefixes, whitespace, attribute
    order, ``10.0`` vs ``10.00``, a filled-in default); different when any field differs.
    """
    canon = canonical_text(value, skip=WITHOUT_CREDENTIALS)  # repr(canonical_tuple(...))
    return hashlib.sha256(canon.encode("utf-8")).digest()


# The fields a request's fingerprint leaves out (the operator's credentials).
WITHOUT_CREDENTIALS = frozenset({"auth_cred"})


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class UnsupportedRequest:
    """A request of the XMLVend catalogue we do not implement; answer with UseCaseSupportEx.

    Only its header is read (and the element it came in)."""

    operation: str
    element: str  # Clark name of the request element
    header: b.RequestHeader
    soap_version: SoapVersion = SOAP_1_1
    # How to answer it: the request is fine, this implementation lacks the use case.
    fault_class: ClassVar[str] = "UseCaseSupportEx"
    faultcode: ClassVar[str] = "Server"

    @property
    def fingerprint(self) -> bytes:
        # repr((element, canonical_tuple(header, skip=...))), as fingerprint_of's text.
        canon = f"({self.element!r}, {canonical_text(self.header, skip=WITHOUT_CREDENTIALS)})"
        return hashlib.sha256(canon.encode("utf-8")).digest()


freeze_registry()
