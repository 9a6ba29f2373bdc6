"""Domain errors. Each carries a stable ``code`` (for logs, metrics and protocol fault
mapping) and a message safe to show to an operator: never a PIN, token, key or password.

Raising one inside a transaction function rolls the whole transaction back, so bad input
changes nothing.
"""

from __future__ import annotations


class VendingError(Exception):
    """Base of every expected, user-facing failure of the vending core."""

    code = "vending_error"

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.__class__.__doc__ or self.code)

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.code


# --- bad input ---------------------------------------------------------------------------------


class InvalidRequest(VendingError):
    """The request is malformed or violates a domain rule."""

    code = "invalid_request"


class InvalidAmount(InvalidRequest):
    """The amount is not a valid positive amount of money."""

    code = "invalid_amount"


class UnknownCurrency(InvalidRequest):
    """The currency is not an ISO 4217 code."""

    code = "unknown_currency"


class CurrencyMismatch(InvalidRequest):
    """The amount's currency does not match the account or product currency."""

    code = "currency_mismatch"


class AmountOutOfRange(InvalidRequest):
    """The amount is below the minimum or above the maximum for this product."""

    code = "amount_out_of_range"


# --- lookups -----------------------------------------------------------------------------------


class NotFound(VendingError):
    code = "not_found"


class UnknownAccount(NotFound):
    """No such account."""

    code = "unknown_account"


class UnknownVendor(NotFound):
    """No vendor is registered under this client id."""

    code = "unknown_vendor"


class UnknownOperator(NotFound):
    """No such operator."""

    code = "unknown_operator"


class UnknownProduct(NotFound):
    """No such product, or it is not on sale."""

    code = "unknown_product"


class UnknownSale(NotFound):
    """No such sale."""

    code = "unknown_sale"


# --- state and permission ----------------------------------------------------------------------


class Blocked(VendingError):
    code = "blocked"


class AccountBlocked(Blocked):
    """The account is blocked."""

    code = "account_blocked"


class VendorBlocked(Blocked):
    """The vendor (client id) is blocked."""

    code = "vendor_blocked"


class OperatorBlocked(Blocked):
    """The operator is blocked."""

    code = "operator_blocked"


class InsufficientFunds(VendingError):
    """The debit would take the account beyond its credit limit."""

    code = "insufficient_funds"


class DeferredDebitRefused(VendingError):
    """A paying account's debit, deferred to the end of its transaction (a bulk chunk's
    holds), was refused there: over the account's credit limit, or the account blocked. The
    whole transaction is rolled back; debited one by one, each debit says which."""

    code = "deferred_debit_refused"


class NetworkRefusal(VendingError):
    """The merchant's place in the distribution network does not allow this sale."""

    code = "network_refused"


class NodeSuspended(NetworkRefusal):
    """The merchant's network node is suspended."""

    code = "node_suspended"


class ProductNotAllowed(NetworkRefusal):
    """The merchant's network node may not sell this product."""

    code = "product_not_allowed"


class ChannelNotAllowed(NetworkRefusal):
    """The merchant's network node may not sell through this channel."""

    code = "channel_not_allowed"


class DailySaleLimitExceeded(NetworkRefusal):
    """The sale would take the merchant beyond its daily sale limit."""

    code = "daily_sale_limit"


class AuthenticationFailed(VendingError):
    """Operator name or password is wrong."""

    code = "authentication_failed"


class NotAuthorised(VendingError):
    """The caller may not perform this operation."""

    code = "not_authorised"


class InvalidState(VendingError):
    """The operation is not allowed in the current state."""

    code = "invalid_state"


class ReversalRefused(InvalidState):
    """The sale cannot be reversed."""

    code = "reversal_refused"


class OutOfStock(VendingError):
    """No voucher of this product is available."""

    code = "out_of_stock"


# --- idempotency -------------------------------------------------------------------------------


class IdempotencyConflict(VendingError):
    """The request id was already used for a different request."""

    code = "idempotency_conflict"


class RequestInProgress(VendingError):
    """A request with this id is still being processed."""

    code = "request_in_progress"


class LedgerImbalance(VendingError):
    """A transfer's legs do not sum to zero per currency (a programming error)."""

    code = "ledger_imbalance"
