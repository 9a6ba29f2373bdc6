"""THE mapping from failures to XMLVend faults: one table, nothing else decides a fault class.

Every failure a request can end in -- the codec's parse errors, the core's domain errors,
the utility side's errors (their own table is ``utilities/errors.py``; each is listed here
again so that this table is complete on its own), the voucher stock's and the server's own
-- is looked up in :data:`FAULT_TABLE` by the most specific class of the exception.

Rules:

* faultcode ``soap:Client`` only for requests that are malformed or schema-invalid
  (``XMLVendSchemaEx``); ``soap:Server`` for everything else;
* every fault goes out with HTTP 500 (SOAP 1.1 / WS-I Basic Profile);
* the fault's ``desc`` is the error's own message (domain errors carry operator-safe
  messages by contract: never a password, PIN, token or key), except where the table gives
  a fixed text; unexpected exceptions get a generic text with an incident number, and the
  details go to the log only -- never a traceback on the wire.

Decisions recorded here (see also docs in the report of issue 3):

* ``OutOfStock`` -> ``BusinessRuleEx``: no standard subtype fits, and it is a business rule
  (the product cannot be sold right now), not a system failure; the desc names the product.
* Amount problems (too many decimals, outside the product's range, wrong currency) ->
  ``BusinessRuleEx`` with the reason: the request is schema-valid, the value is refused.
* A reversal the product's policy refuses is not a fault: ``ReversalAdviceResp
  txReversed="false"`` with the reason in ``operatorMsg`` (handled by the advice handler).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from utilities import errors as utility_errors
from vending import batches
from vending import errors as core
from vending.auth import CredentialsChanged
from vending.services.recovery import Abandoned
from xmlvend.codec import FAULT_CLASSES, CodecError
from xmlvend.server import errors as server

FaultCode = Literal["Client", "Server"]

GENERIC_SYSTEM_DESC: Final = (
    "The server could not process the request (internal error, incident {incident})"
)


@dataclass(frozen=True)
class FaultSpec:
    """How one kind of failure is answered.

    ``fault_class`` None means "the exception's own ``fault_class`` attribute" (the utility
    side's and the codec's errors carry one; unknown names fall back to ``SystemEx``).
    ``desc`` None means "the exception's message"; a fixed text otherwise (``{incident}`` is
    filled with the incident number logged with the details).
    """

    fault_class: str | None
    faultcode: FaultCode = "Server"
    desc: str | None = None
    http_status: int = 500

    @property
    def generic(self) -> bool:
        return self.desc is not None and "{incident}" in self.desc


_SCHEMA = FaultSpec("XMLVendSchemaEx", "Client")
_CLIENT_ID = FaultSpec("ClientIDAuthorisationEx")
_REQUEST_AUTH = FaultSpec("RequestAuthorisationEx")
_RULE = FaultSpec("BusinessRuleEx")
_SYSTEM = FaultSpec("SystemEx")
_OWN = FaultSpec(None)  # the error names its class itself
_INTERNAL = FaultSpec("SystemEx", desc=GENERIC_SYSTEM_DESC)

# Exception class -> how it is answered. Lookup walks the exception's MRO, so the most
# specific entry wins; the last entries are the catch-alls.
FAULT_TABLE: Final[dict[type[BaseException], FaultSpec]] = {
    # --- the request itself (codec) ----------------------------------------------------
    CodecError: _SCHEMA,  # MalformedRequest, SchemaViolation, UnknownOperation
    server.UseCaseNotSupported: FaultSpec("UseCaseSupportEx"),
    # --- who is asking --------------------------------------------------------------------
    server.ClientIDMismatch: FaultSpec("ClientIDSSLEx"),
    core.UnknownVendor: _CLIENT_ID,
    core.VendorBlocked: _CLIENT_ID,
    core.AccountBlocked: _CLIENT_ID,
    core.AuthenticationFailed: _REQUEST_AUTH,
    CredentialsChanged: _REQUEST_AUTH,  # only when it persists after one re-authentication
    core.OperatorBlocked: _REQUEST_AUTH,
    core.NotAuthorised: _REQUEST_AUTH,
    server.OperationNotAllowed: _REQUEST_AUTH,
    # --- message identity and transaction control -----------------------------------------
    core.IdempotencyConflict: FaultSpec("ext:DuplicateMsgIDEx"),
    core.RequestInProgress: FaultSpec("ext:TransactionDelayedEx"),
    server.TransactionDelayed: FaultSpec("ext:TransactionDelayedEx"),
    server.NoLastResponse: FaultSpec("LastResponseEx"),
    server.UnknownReversal: FaultSpec("ReversalEx"),
    server.UnknownConfirmation: FaultSpec("ConfirmationEx"),
    server.NothingToReprint: FaultSpec("ReprintEx"),
    server.NoDepositSlips: FaultSpec("ReprintDepositSlipEx"),
    server.DepositsOff: FaultSpec("UseCaseSupportEx"),
    # --- vendor batches (vending.batches) ----------------------------------------------------
    batches.BatchAlreadyOpen: FaultSpec("StartBatchEx"),
    batches.BatchNotOpen: FaultSpec("EndBatchEx"),
    batches.NoBatchTotals: FaultSpec("CheckBatchTotalEx"),
    batches.UnknownBatch: FaultSpec("ReprintEndBatchEx"),
    server.DeadlinePassed: _SYSTEM,
    Abandoned: _SYSTEM,  # interrupted by a restart, answered for good by recovery
    server.ParserBusy: _SYSTEM,  # the request was not read: the client may send it again
    # --- money and products ---------------------------------------------------------------
    core.InsufficientFunds: FaultSpec("VendorCreditEx"),
    # The dealer network's sale-time limits (distribution.selling): product, channel, day.
    core.NetworkRefusal: _RULE,
    core.OutOfStock: _RULE,
    core.AmountOutOfRange: _RULE,
    core.InvalidAmount: _RULE,
    core.UnknownCurrency: _RULE,
    core.CurrencyMismatch: _RULE,
    core.UnknownProduct: _RULE,
    core.ReversalRefused: _RULE,  # only reaches a fault outside the reversal advice
    core.InvalidState: _RULE,
    core.LedgerImbalance: _INTERNAL,  # a programming error: details in the log only
    # --- the utility side (utilities/errors.py) --------------------------------------------
    utility_errors.UnknownMeter: FaultSpec("UnknownMeterEx"),
    utility_errors.MeterBlocked: FaultSpec("BlockedMeterEx"),
    utility_errors.MeterNumberCheckDigit: FaultSpec("MSNOCheckDigitEx"),
    utility_errors.MeterDataInvalid: FaultSpec("STSDataEx"),
    utility_errors.KeyRevisionExpired: FaultSpec("LatestKRNEx"),
    utility_errors.NotFBEEligible: FaultSpec("FBEEx"),
    utility_errors.FBEAlreadyIssued: FaultSpec("FBEEx"),
    utility_errors.KeyAlreadyCurrent: FaultSpec("UpdateMtrKeySameEx"),
    utility_errors.UnknownMeterForKeyUpdate: FaultSpec("UnknownMeterUpdateMtrKeyEx"),
    utility_errors.InsufficientMeterData: FaultSpec("InsufficientMeterDataEx"),
    utility_errors.SGCNotAuthorised: FaultSpec("SGCAuthorisationEx"),
    utility_errors.NoDebt: FaultSpec("DebtEx"),
    utility_errors.ServiceChargeNotDue: FaultSpec("ServiceChrgEx"),
    utility_errors.TokenNotVerifiable: FaultSpec("VerifyTokenEx"),
    utility_errors.OperationNotSupported: FaultSpec("UseCaseSupportEx"),
    utility_errors.UpstreamUnavailable: _SYSTEM,
    utility_errors.UpstreamFault: _OWN,  # the utility's own fault class, passed on
    utility_errors.UtilityError: _OWN,  # later additions name their class themselves
    # --- catch-alls -------------------------------------------------------------------------
    core.InvalidRequest: _RULE,
    core.NotFound: _RULE,
    core.VendingError: _RULE,  # operator-safe message by contract
    BaseException: _INTERNAL,
}


@dataclass(frozen=True)
class Fault:
    """A resolved fault: what goes on the wire."""

    fault_class: str
    faultcode: FaultCode
    desc: str
    http_status: int
    # True when the desc is the generic internal-error text (details only in the log).
    internal: bool = False


def spec_for(error: BaseException) -> FaultSpec:
    """The table entry for ``error``: its own class's, else -- for the utility side's
    errors, which name their fault class themselves -- ``UtilityError``'s, else that of its
    most specific ancestor in the table."""
    spec = FAULT_TABLE.get(type(error))
    if spec is not None:
        return spec
    if isinstance(error, utility_errors.UtilityError):
        return FAULT_TABLE[utility_errors.UtilityError]
    for klass in type(error).__mro__:
        spec = FAULT_TABLE.get(klass)
        if spec is not None:
            return spec
    return _INTERNAL  # pragma: no cover  (BaseException is in the table)


def fault_for(error: BaseException, incident: str = "") -> Fault:
    """The fault answering ``error``. ``incident`` fills the generic internal-error text."""
    spec = spec_for(error)
    fault_class = spec.fault_class
    if fault_class is None:
        own = getattr(error, "fault_class", None)
        fault_class = own if isinstance(own, str) and own in FAULT_CLASSES else "SystemEx"
    faultcode = spec.faultcode
    if isinstance(error, CodecError):
        faultcode = error.faultcode
    if spec.desc is not None:
        desc = spec.desc.format(incident=incident).strip()
    else:
        desc = _message_of(error) or fault_class
    return Fault(fault_class, faultcode, desc, spec.http_status, internal=spec.generic)


def _message_of(error: BaseException) -> str:
    if isinstance(error, utility_errors.UpstreamFault) and error.desc:
        return error.desc
    message = getattr(error, "message", None)
    if isinstance(message, str):
        return message
    return str(error)
