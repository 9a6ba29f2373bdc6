"""Failures the application services raise about requests and their advices, for every
channel (each adapter maps them: XMLVend in ``xmlvend.server.faults``; the JSON API to
RFC 9457 problems). Messages are shown to operators: never a password, PIN or token."""

from __future__ import annotations

from vending.errors import VendingError


class ServiceError(VendingError):
    code = "service_error"


def describe_msg_id(request_id: str) -> str:
    """``dateTime/uniqueNumber`` (a request key) as an operator reads it."""
    date_time, _, unique_number = request_id.partition("/")
    return f"dateTime {date_time} uniqueNumber {unique_number}"


class TransactionDelayed(ServiceError):
    """The transaction is still running; its result can be fetched with a last-response
    advice quoting its msgID (``request_id`` is the request key's id)."""

    code = "transaction_delayed"

    def __init__(self, request_id: str, message: str | None = None) -> None:
        super().__init__(
            message
            or "Transaction delayed, still in progress: fetch the result with a "
            f"LastRespAdviceReq whose adviceReqMsgID is {describe_msg_id(request_id)}"
        )
        self.request_id = request_id


class NoLastResponse(ServiceError):
    """A last-response advice for a request we hold no transaction for."""

    code = "no_last_response"


class UnknownReversal(ServiceError):
    """A reversal advice for a request we hold no transaction for."""

    code = "unknown_reversal"


class UnknownConfirmation(ServiceError):
    """A confirmation advice for a request we hold no transaction for."""

    code = "unknown_confirmation"


class NothingToReprint(ServiceError):
    """No transactions found for reprint."""

    code = "nothing_to_reprint"


class NoDepositSlips(ServiceError):
    """No deposit slips found for reprint."""

    code = "no_deposit_slips"


class DepositsOff(ServiceError):
    """Deposits are not offered here (no deposit settings, or no operator account in the
    vendor's currency)."""

    code = "deposits_off"


__all__ = [
    "DepositsOff",
    "NoDepositSlips",
    "NoLastResponse",
    "NothingToReprint",
    "ServiceError",
    "TransactionDelayed",
    "UnknownConfirmation",
    "UnknownReversal",
    "describe_msg_id",
]
