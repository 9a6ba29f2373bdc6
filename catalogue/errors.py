"""The catalogue's user-facing errors (each channel maps them: XMLVend faults, RFC 9457
problems). Messages are safe to show: never a secret, never a PID block."""

from __future__ import annotations

from vending.errors import InvalidRequest, NotFound, VendingError


class CatalogueError(VendingError):
    code = "catalogue_error"


class InvalidNumber(InvalidRequest):
    """The mobile number or subscriber id is not valid for the operator."""

    code = "invalid_number"


class UnknownRechargeOperator(NotFound):
    code = "unknown_recharge_operator"


class UnknownCircle(NotFound):
    code = "unknown_circle"


class UnknownBiller(NotFound):
    code = "unknown_biller"


class UnknownProvider(NotFound):
    code = "unknown_provider"


class UnknownOrder(NotFound):
    code = "unknown_order"


class InvalidCustomerParams(InvalidRequest):
    """The customer parameters do not match the biller's."""

    code = "invalid_customer_params"


class FetchRequired(InvalidRequest):
    """This biller is paid only against a fetched bill (quote its reference)."""

    code = "fetch_required"


class FetchNotSupported(InvalidRequest):
    code = "fetch_not_supported"


class UnknownBillFetch(NotFound):
    code = "unknown_bill_fetch"


class AmountRuleViolation(InvalidRequest):
    """The amount breaks the biller's payment amount rule."""

    code = "amount_rule"


class PaymentPending(CatalogueError):
    """A payment for this bill is pending: never pay twice, ask its status."""

    code = "payment_pending"


class NoProviderAvailable(CatalogueError):
    """No provider is mapped or reachable for this product."""

    code = "no_provider"


class ProviderError(CatalogueError):
    """The provider refused or could not answer a read-only request (fetch, plans)."""

    code = "provider_error"


class UnknownBooking(NotFound):
    """No travel booking by that reference (for this vendor)."""


class BookingState(CatalogueError):
    """The booking is not in a state that allows this (expired, already booked ...)."""
