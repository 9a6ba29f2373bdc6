"""Failures the server itself raises (beside the core's and the utility side's domain errors).

Each is mapped to its XMLVend fault class in :mod:`xmlvend.server.faults`, the one table of
that mapping. Messages are shown to operators: never a password, PIN or token.
"""

from __future__ import annotations

from vending.errors import VendingError
from vending.services.errors import (
    DepositsOff,
    NoDepositSlips,
    NoLastResponse,
    NothingToReprint,
    TransactionDelayed,
    UnknownConfirmation,
    UnknownReversal,
    describe_msg_id,
)


class ServerError(VendingError):
    """Base of the protocol layer's own failures."""

    code = "server_error"


class ClientIDMismatch(ServerError):
    """The clientID of the request is not the one in the client's TLS certificate."""

    code = "client_id_ssl"


# The services' own (channel-neutral) failures about requests and advices, under the names
# this layer has always used.
__all__ = [
    "ClientIDMismatch",
    "DeadlinePassed",
    "DepositsOff",
    "NoDepositSlips",
    "NoLastResponse",
    "NothingToReprint",
    "OperationNotAllowed",
    "ServerError",
    "TransactionDelayed",
    "UnknownConfirmation",
    "UnknownReversal",
    "UseCaseNotSupported",
    "describe_msg_id",
]


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
