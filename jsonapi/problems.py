"""RFC 9457 problem details: THE mapping from failures to JSON API errors.

Every failure is classified by the same fault classes as XMLVend (``xmlvend-2.1.md`` §4.1;
a test checks the two tables agree), so a client sees one vocabulary on every channel. The
problem ``type`` is a stable URI per class, ``/api/v1/problems/<slug>`` (served: a GET
describes it); ``title`` is fixed per type; ``detail`` is the error's own message, which
domain errors keep operator-safe by contract (never a PIN, token, key or password), or a
generic text with an incident number for unexpected failures (details only in the log).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Final

from catalogue import errors as catalogue_errors
from catalogue import transfers as catalogue_transfers
from distribution import fund_requests, nodes, rewards
from utilities import errors as utility_errors
from vending import api_keys, consumers
from vending import errors as core
from vending.auth import CredentialsChanged
from vending.login_throttle import LoginThrottled

PROBLEM_CONTENT_TYPE: Final = b"application/problem+json"
TYPE_BASE: Final = "/api/v1/problems/"


@dataclass(frozen=True)
class ProblemType:
    slug: str
    title: str
    status: int
    # The XMLVend fault class of the same failure (None: no XMLVend counterpart).
    fault_class: str | None = None

    @property
    def uri(self) -> str:
        return TYPE_BASE + self.slug


def _t(slug: str, title: str, status: int, fault_class: str | None = None) -> ProblemType:
    return ProblemType(slug, title, status, fault_class)


INVALID_REQUEST = _t("invalid-request", "The request is malformed", 400, "XMLVendSchemaEx")
NOT_SUPPORTED = _t("not-supported", "This use case is not supported", 422, "UseCaseSupportEx")
CLIENT_NOT_AUTHORISED = _t(
    "client-not-authorised", "The vendor may not trade", 403, "ClientIDAuthorisationEx"
)
UNAUTHENTICATED = _t("unauthenticated", "Authentication failed", 401, "RequestAuthorisationEx")
FORBIDDEN = _t("forbidden", "Not allowed", 403, "RequestAuthorisationEx")
LOCKED = _t("locked", "Too many failed sign-ins", 429, "RequestAuthorisationEx")
KEY_REUSED = _t(
    "idempotency-key-reused",
    "The Idempotency-Key was used for a different request",
    422,
    "ext:DuplicateMsgIDEx",
)
IN_PROGRESS = _t(
    "request-in-progress",
    "A request with this Idempotency-Key is still being processed",
    409,
    "ext:TransactionDelayedEx",
)
INSUFFICIENT_FUNDS = _t("insufficient-funds", "Not enough credit", 402, "VendorCreditEx")
BUSINESS_RULE = _t("business-rule", "Refused by a business rule", 422, "BusinessRuleEx")
WALLET_LIMIT = _t(
    "wallet-limit", "The wallet's KYC limit does not allow this", 422, "BusinessRuleEx"
)
NETWORK_LIMIT = _t(
    "network-limit",
    "The merchant's distribution network limits do not allow this",
    422,
    "BusinessRuleEx",
)
NOT_ENOUGH_POINTS = _t("not-enough-points", "Not enough reward points", 422, "BusinessRuleEx")
REVERSAL_REFUSED = _t("reversal-refused", "The sale cannot be reversed", 422, "BusinessRuleEx")
NOT_FOUND = _t("not-found", "Not found", 404)
METHOD_NOT_ALLOWED = _t("method-not-allowed", "Method not allowed", 405)
UNSUPPORTED_MEDIA = _t("unsupported-media-type", "Send application/json", 415)
SYSTEM = _t("system", "The system could not complete the request", 503, "SystemEx")
INTERNAL = _t("internal", "Internal error", 500, "SystemEx")

# XMLVend fault classes of the utility side, one problem type each.
_UTILITY_TITLES: Final = {
    "UnknownMeterEx": "Unknown meter",
    "BlockedMeterEx": "The meter is blocked",
    "MSNOCheckDigitEx": "The meter number's check digit is wrong",
    "STSDataEx": "The meter's STS data do not fit",
    "LatestKRNEx": "The meter needs a key change",
    "FBEEx": "No free basic electricity for this meter",
    "UpdateMtrKeySameEx": "The meter key is already current",
    "UnknownMeterUpdateMtrKeyEx": "Unknown meter for a key update",
    "InsufficientMeterDataEx": "More meter data are needed",
    "SGCAuthorisationEx": "The vendor may not sell for this supply group",
    "DebtEx": "No debt to pay",
    "ServiceChrgEx": "No service charge due",
    "VerifyTokenEx": "The token cannot be verified",
}


def _slug(fault_class: str) -> str:
    name = fault_class.removeprefix("ext:").removesuffix("Ex")
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", name).lower()


UTILITY_TYPES: Final = {
    fault_class: _t(_slug(fault_class), title, 422, fault_class)
    for fault_class, title in _UTILITY_TITLES.items()
}

# Exception class -> problem type; looked up along the exception's MRO (most specific wins).
PROBLEM_TABLE: Final[dict[type[BaseException], ProblemType]] = {
    core.IdempotencyConflict: KEY_REUSED,
    core.RequestInProgress: IN_PROGRESS,
    core.UnknownVendor: CLIENT_NOT_AUTHORISED,
    core.VendorBlocked: CLIENT_NOT_AUTHORISED,
    core.AccountBlocked: CLIENT_NOT_AUTHORISED,
    consumers.ConsumerLocked: LOCKED,
    consumers.ConsumerBlocked: FORBIDDEN,
    consumers.WalletLimitExceeded: WALLET_LIMIT,
    consumers.UnknownConsumer: NOT_FOUND,
    api_keys.UnknownApiKey: NOT_FOUND,
    CredentialsChanged: UNAUTHENTICATED,
    LoginThrottled: LOCKED,
    core.AuthenticationFailed: UNAUTHENTICATED,
    core.OperatorBlocked: FORBIDDEN,
    core.NotAuthorised: FORBIDDEN,
    core.InsufficientFunds: INSUFFICIENT_FUNDS,
    core.NetworkRefusal: NETWORK_LIMIT,
    rewards.NotEnoughPoints: NOT_ENOUGH_POINTS,
    nodes.OutsideSubtree: NOT_FOUND,
    fund_requests.UnknownFundRequest: NOT_FOUND,
    core.ReversalRefused: REVERSAL_REFUSED,
    core.UnknownSale: NOT_FOUND,
    catalogue_errors.UnknownOrder: NOT_FOUND,
    catalogue_errors.UnknownBiller: NOT_FOUND,
    catalogue_errors.UnknownRechargeOperator: NOT_FOUND,
    catalogue_errors.UnknownCircle: NOT_FOUND,
    catalogue_errors.UnknownBooking: NOT_FOUND,
    catalogue_transfers.UnknownSender: NOT_FOUND,
    catalogue_transfers.UnknownBeneficiary: NOT_FOUND,
    utility_errors.OperationNotSupported: NOT_SUPPORTED,
    utility_errors.UpstreamUnavailable: SYSTEM,
    core.LedgerImbalance: INTERNAL,
    core.OutOfStock: BUSINESS_RULE,
    core.InvalidState: BUSINESS_RULE,
    core.InvalidRequest: BUSINESS_RULE,
    core.NotFound: BUSINESS_RULE,
    core.VendingError: BUSINESS_RULE,
}


def problem_type_for(error: BaseException) -> ProblemType:
    if isinstance(error, ApiProblem):
        return error.problem_type
    utility = isinstance(error, utility_errors.UtilityError)
    for klass in type(error).__mro__:
        found = PROBLEM_TABLE.get(klass)
        # The utility side names its own fault class: only its own entries override it.
        if found is not None and (not utility or klass.__module__ == utility_errors.__name__):
            return found
    own = getattr(error, "fault_class", None)
    if isinstance(error, utility_errors.UtilityError) and isinstance(own, str):
        if own in UTILITY_TYPES:
            return UTILITY_TYPES[own]
        return SYSTEM if own == "SystemEx" else _t(_slug(own), own, 422, own)
    return INTERNAL


class ApiProblem(Exception):
    """A failure found by the adapter itself (bad JSON, missing header, unknown path)."""

    def __init__(self, problem_type: ProblemType, detail: str) -> None:
        super().__init__(detail)
        self.problem_type = problem_type
        self.detail = detail


def invalid(detail: str) -> ApiProblem:
    return ApiProblem(INVALID_REQUEST, detail)


@dataclass(frozen=True)
class Problem:
    type: ProblemType
    detail: str
    instance: str | None = None
    # Generic internal text: the details went to the log only.
    internal: bool = False

    @property
    def status(self) -> int:
        return self.type.status

    def body(self) -> bytes:
        document: dict[str, object] = {
            "type": self.type.uri,
            "title": self.type.title,
            "status": self.type.status,
            "detail": self.detail,
        }
        if self.type.fault_class is not None:
            document["fault_class"] = self.type.fault_class
        if self.instance is not None:
            document["instance"] = self.instance
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def problem_for(error: BaseException, incident: str) -> Problem:
    kind = problem_type_for(error)
    if kind in (INTERNAL,) or (kind is SYSTEM and not isinstance(error, core.VendingError)):
        return Problem(
            kind,
            f"The server could not process the request (internal error, incident {incident})",
            internal=True,
        )
    if isinstance(error, ApiProblem):
        return Problem(kind, error.detail)
    message = getattr(error, "message", None)
    if isinstance(error, utility_errors.UpstreamFault) and getattr(error, "desc", None):
        message = error.desc
    return Problem(kind, message if isinstance(message, str) and message else kind.title)


ALL_TYPES: Final = {
    t.slug: t
    for t in (
        INVALID_REQUEST,
        NOT_SUPPORTED,
        CLIENT_NOT_AUTHORISED,
        UNAUTHENTICATED,
        FORBIDDEN,
        LOCKED,
        KEY_REUSED,
        IN_PROGRESS,
        INSUFFICIENT_FUNDS,
        BUSINESS_RULE,
        WALLET_LIMIT,
        REVERSAL_REFUSED,
        NOT_FOUND,
        METHOD_NOT_ALLOWED,
        UNSUPPORTED_MEDIA,
        SYSTEM,
        INTERNAL,
        *UTILITY_TYPES.values(),
    )
}
