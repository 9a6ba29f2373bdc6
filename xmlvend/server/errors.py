"""Failures the server itself raises (beside the core's and the utility side's domain errors).

Each is mapped to its XMLVend fault class in :mod:`xmlvend.server.faults`, the one table of
that mapping. Messages are shown to operators: never a password, PIN or token.
"""

from __future__ import annotations

from vending.errors import VendingError


class ServerError(VendingError):
    """Base of the protocol layer's own failures."""

    code = "server_error"


class ClientIDMismatch(ServerError):
    """The clientID of the request is not the one in the client's TLS certificate."""

    code = "client_id_ssl"


def describe_msg_id(request_id: str) -> str:
    """``dateTime/uniqueNumber`` (a request key) as an operator reads it."""
    date_time, _, unique_number = request_id.partition("/")
    return f"dateTime {date_time} uniqueNumber {unique_number}"


class TransactionDelayed(ServerError):
    """The transaction is still running; its result can be fetched with a last-response
    advice quoting its msgID (``request_id`` is the ``dateTime/uniqueNumber`` key)."""

    code = "transaction_delayed"

    def __init__(self, request_id: str, message: str | None = None) -> None:
        super().__init__(
            message
            or "Transaction delayed, still in progress: fetch the result with a "
            f"LastRespAdviceReq whose adviceReqMsgID is {describe_msg_id(request_id)}"
        )
        self.request_id = request_id


class NoLastResponse(ServerError):
    """A last-response advice for a msgID we hold no transaction for."""

    code = "no_last_response"


class UnknownReversal(ServerError):
    """A reversal advice for a msgID we hold no transaction for."""

    code = "unknown_reversal"


class UnknownConfirmation(ServerError):
    """A confirmation advice for a msgID we hold no transaction for."""

    code = "unknown_confirmation"


class NothingToReprint(ServerError):
    """No transactions found for reprint."""

    code = "nothing_to_reprint"


class UseCaseNotSupported(ServerError):
    """The request is understood but this form of it is not supported by this server."""

    code = "use_case_not_supported"


class OperationNotAllowed(ServerError):
    """The vendor is not allowed to use this operation."""

    code = "operation_not_allowed"


class DeadlinePassed(ServerError):
    """A read-only request could not be answered within the server's deadline."""

    code = "deadline_passed"


class ParserBusy(ServerError):
    """No parser thread was free to read the request within ``server.parse_wait_seconds``;
    the request was not read, nothing changed."""

    code = "parser_busy"
