"""Domain errors of the utility side. Each is a :class:`vending.errors.VendingError` (stable
``code``, operator-safe message: never a key, a token or a password) and maps one to one
onto an XMLVend fault class (reference xmlvend-2.1.md §4.1), named in ``fault_class``:

==============================  ==============================  ==============================
error                           XMLVend fault (``fault_class``)  raised when
==============================  ==============================  ==============================
UnknownMeter                    UnknownMeterEx                  meter number not registered
MeterBlocked                    BlockedMeterEx                  the meter is blocked
MeterNumberCheckDigit           MSNOCheckDigitEx                11/13-digit MSNO, bad Luhn digit
MeterDataInvalid                STSDataEx                       SGC/KRN/TI/AT/TT given do not fit
KeyRevisionExpired              LatestKRNEx                     key change needed (auto off) or
                                                                the key's TID base date is over
NotFBEEligible                  FBEEx                           meter not registered for FBE
FBEAlreadyIssued                FBEEx                           FBE of this month already issued
KeyAlreadyCurrent               UpdateMtrKeySameEx              from key data == to key data
UnknownMeterForKeyUpdate        UnknownMeterUpdateMtrKeyEx      updateMeterKey for unknown meter
InsufficientMeterData           InsufficientMeterDataEx         key data needed but not given
SGCNotAuthorised                SGCAuthorisationEx              vendor may not sell for this SGC
NoDebt                          DebtEx                          debt payment, nothing owed
ServiceChargeNotDue             ServiceChrgEx                   service charge payment, none due
TokenNotVerifiable              VerifyTokenEx                   token not issued here / malformed
OperationNotSupported           UseCaseSupportEx                operation not offered on a route
UpstreamUnavailable             SystemEx                        utility unreachable / timed out
UpstreamFault                   the utility's own class         the utility answered a fault
==============================  ==============================  ==============================

Core errors the utility side also raises (mapped by the protocol layer as for any sale):
``vending.errors.AmountOutOfRange`` / ``InvalidAmount`` (amount outside the product's range,
or too small to cover the charges), ``InsufficientFunds`` (VendorCreditEx),
``UnknownProduct``, ``VendorBlocked``, ``OperatorBlocked``, ``CredentialsChanged``,
``IdempotencyConflict``, ``RequestInProgress``.
"""

from __future__ import annotations

from vending.errors import InvalidRequest, NotFound, VendingError


class UtilityError(VendingError):
    """Base of the utility side's domain errors."""

    code = "utility_error"
    fault_class = "SystemEx"


class UnknownMeter(NotFound, UtilityError):
    """Meter information not found on server."""

    code = "unknown_meter"
    fault_class = "UnknownMeterEx"


class MeterBlocked(UtilityError):
    """The meter has been blocked; no transactions are possible."""

    code = "meter_blocked"
    fault_class = "BlockedMeterEx"


class MeterNumberCheckDigit(InvalidRequest, UtilityError):
    """The meter number's check digit is wrong."""

    code = "meter_check_digit"
    fault_class = "MSNOCheckDigitEx"


class MeterDataInvalid(InvalidRequest, UtilityError):
    """The supplied SGC, KRN, TI, AT or TT are not valid for this meter."""

    code = "meter_data_invalid"
    fault_class = "STSDataEx"


class KeyRevisionExpired(UtilityError):
    """The meter's key revision has expired; an update meter key operation is required."""

    code = "key_revision_expired"
    fault_class = "LatestKRNEx"


class NotFBEEligible(UtilityError):
    """The customer is not registered for free basic electricity."""

    code = "not_fbe_eligible"
    fault_class = "FBEEx"


class FBEAlreadyIssued(UtilityError):
    """This month's free basic electricity has already been issued."""

    code = "fbe_already_issued"
    fault_class = "FBEEx"


class KeyAlreadyCurrent(UtilityError):
    """The meter's key data is already the server's: from key data same as to."""

    code = "key_already_current"
    fault_class = "UpdateMtrKeySameEx"


class UnknownMeterForKeyUpdate(UtilityError):
    """Meter key update for a meter that is not registered."""

    code = "unknown_meter_key_update"
    fault_class = "UnknownMeterUpdateMtrKeyEx"


class InsufficientMeterData(UtilityError):
    """Insufficient meter data or meter not registered."""

    code = "insufficient_meter_data"
    fault_class = "InsufficientMeterDataEx"


class SGCNotAuthorised(UtilityError):
    """The vendor is not authorised to sell for this supply group."""

    code = "sgc_not_authorised"
    fault_class = "SGCAuthorisationEx"


class NoDebt(UtilityError):
    """No outstanding debt."""

    code = "no_debt"
    fault_class = "DebtEx"


class ServiceChargeNotDue(UtilityError):
    """No service charge is due."""

    code = "service_charge_not_due"
    fault_class = "ServiceChrgEx"


class TokenNotVerifiable(UtilityError):
    """The token cannot be verified: it was not issued by this server for this meter."""

    code = "token_not_verifiable"
    fault_class = "VerifyTokenEx"


class OperationNotSupported(UtilityError):
    """This operation is not offered for this meter's utility."""

    code = "operation_not_supported"
    fault_class = "UseCaseSupportEx"


class UpstreamUnavailable(UtilityError):
    """The utility's vending server cannot be reached right now."""

    code = "upstream_unavailable"
    fault_class = "SystemEx"


class UpstreamFault(UtilityError):
    """The utility's vending server answered with a fault; ``fault_class`` is its class
    (``"UnknownMeterEx"``, ``"SystemEx"``, ...) so the protocol layer can pass it on."""

    code = "upstream_fault"

    def __init__(self, fault_class: str, desc: str) -> None:
        super().__init__(desc or fault_class)
        self.fault_class = fault_class or "SystemEx"
        self.desc = desc


def fault_class_of(error: BaseException) -> str:
    """The XMLVend fault class for a utility-side error (``SystemEx`` for anything else)."""
    if isinstance(error, UtilityError):
        return error.fault_class
    return "SystemEx"
