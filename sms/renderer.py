"""The SMS channel's answers: short texts (UTF-8 bytes) the services store under the request
key, so a gateway retry replays the very same reply. Pure and thread-safe.

Implements the services' ``ChannelRenderer``; what SMS does not offer (engineering tokens,
account payments, batches, fault reports) is answered with a short refusal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from distribution.nodes import NotInNetwork
from vending.errors import (
    AmountOutOfRange,
    AuthenticationFailed,
    Blocked,
    ChannelNotAllowed,
    DailySaleLimitExceeded,
    IdempotencyConflict,
    InsufficientFunds,
    NotFound,
    OutOfStock,
    ProductNotAllowed,
    RequestInProgress,
    VendingError,
)
from vending.money import Money
from vending.requests import StoredResponse
from vending.sales import Sale

OK = 200
REFUSED = 422


def text(body: str, status: int = OK) -> StoredResponse:
    return StoredResponse(body.encode("utf-8"), status)


def _available(balance: Money | None) -> str:
    return "" if balance is None else f" Bal {balance}"


def _recipient(request: Any) -> str:
    recipient = getattr(request, "recipient", None)
    return f" Sent to {recipient}." if recipient else ""


def group(token: str) -> str:
    return " ".join(token[i : i + 4] for i in range(0, len(token), 4))


def fund_request_text(request: Any) -> str:
    """The answer to FUND: the request is with the parent node now."""
    amount = f"{request.amount.format()} {request.amount.currency}"
    return (
        f"Fund request {request.reference} for {amount} sent (no. {request.id}). "
        f"You get an SMS when it is decided."
    )


def error_text(error: BaseException) -> str:
    """A short, clear reply for a refused request (never a secret: messages are safe)."""
    if isinstance(error, InsufficientFunds):
        return "Not enough credit for this sale. Nothing was sold."
    if isinstance(error, DailySaleLimitExceeded):
        return f"Daily sale limit reached: {error.message[:90]}. Nothing was sold."
    if isinstance(error, ProductNotAllowed | ChannelNotAllowed):
        return f"Not allowed: {error.message[:100]}. Nothing was sold."
    if isinstance(error, NotInNetwork):
        return "Your account is not in a dealer network: no fund requests."
    if isinstance(error, OutOfStock):
        return "Out of stock for this product. Nothing was sold."
    if isinstance(error, AmountOutOfRange):
        return f"Amount not allowed: {error.message[:100]}. Nothing was sold."
    if isinstance(error, IdempotencyConflict | RequestInProgress):
        return "This message is already being handled."
    if isinstance(error, AuthenticationFailed | Blocked):
        return "Your number may not sell now. Call support."
    if isinstance(error, NotFound):
        return f"{error.message[:110]}. Nothing was sold."
    if isinstance(error, VendingError):
        return f"Refused: {error.message[:110]}. Nothing was sold."
    return "Sorry, that failed. Nothing was sold. Try again later."


def _provider_head(sold: Any) -> str:
    """What a provider sale's answer starts with: the service, its target, the amount
    and our order id (the reference to ask its status with)."""
    amount, order_id = sold.amount.format(), sold.order_id
    if sold.service == "bill":  # the customer's account masked: the last four
        return f"Bill {sold.shown_target} {amount} {order_id}"
    if sold.service == "dmt":  # the amount charged is the amount sent + the fee
        account = str(sold.params.get("account", ""))[-4:]
        sent = Money(int(sold.params.get("amount", sold.amount.amount)), sold.amount.currency)
        fee = sold.amount - sent
        return f"Transfer {sent.format()} + fee {fee.format()} to a/c ..{account} {order_id}"
    return f"Recharge {sold.shown_target} {amount} {order_id}"


class SmsRenderer:
    channel = "sms"

    def voucher_sale(self, request: Any, sold: Any) -> StoredResponse:
        voucher = sold.voucher
        expiry = f" Exp {voucher.expiry.isoformat()}" if voucher.expiry else ""
        return text(
            f"{voucher.product_code} {sold.sale.amount.format()} PIN {voucher.pin} "
            f"Serial {voucher.serial_no}{expiry} Ref {sold.sale.receipt_no}."
            f"{_recipient(request)}{_available(sold.vendor_available)}"
        )

    def vend(self, request: Any, result: Any, sale: Sale | None, balance: Money | None) -> Any:
        token = result.token
        units = f"{format(token.units, 'f')}{token.si_unit}"
        ref = sale.receipt_no if sale is not None else "-"
        extra = ""
        if result.key_change is not None:
            extra = " Key change: " + " ".join(group(t) for t in result.key_change.tokens)
        return text(
            f"Elec {result.meter.msno} {result.price.format()} Token {group(token.token)} "
            f"{units}{extra} Ref {ref}.{_recipient(request)}{_available(balance)}"
        )

    def failure(self, request: Any, error: Exception) -> StoredResponse:
        return text(error_text(error), REFUSED)

    def provider_sale(self, request: Any, sold: Any) -> StoredResponse:
        """A recharge (RCH), a bill payment (BILL, USSD) or a transfer (USSD): done,
        refused and refunded, or pending (not stored; the final result follows by SMS)."""
        head = _provider_head(sold)
        if sold.state == "success":
            ref_name = "UTR" if sold.service == "dmt" else "Ref"
            ref = f" {ref_name} {sold.operator_ref}" if sold.operator_ref else ""
            return text(f"{head} done.{ref}{_available(sold.available)}")
        if sold.state == "failed":
            return text(f"{head} failed: {sold.message[:60]}. Refunded.", REFUSED)
        return text(f"{head} pending. The result follows by SMS.", 202)

    def load(self, request_body: bytes) -> Any:
        from sms.grammar import Command

        fields = dict(item.split("=", 1) for item in request_body.decode().split("&") if item)
        return Command(fields.get("kind", "buy"), recipient=fields.get("recipient") or None)

    def advice(self, request: Any, done: bool, message: str) -> StoredResponse:
        return text(message[:150], OK if done else REFUSED)

    def withdrawn(self, original: StoredResponse, message: str) -> StoredResponse:
        return text(f"Sale reversed: {message[:130]}", REFUSED)

    def _unsupported(self, what: str) -> StoredResponse:
        return text(f"{what} is not available by SMS.", REFUSED)

    def engineering(self, request: Any, token: Any) -> StoredResponse:
        return self._unsupported("Engineering tokens")

    def payment(self, request: Any, result: Any, sale: Sale, balance: Money) -> StoredResponse:
        return self._unsupported("Account payment")

    def batches_started(self, request: Any, started: Sequence[Any]) -> StoredResponse:
        return self._unsupported("Batches")

    def batches_ended(self, request: Any, closed: Sequence[Any]) -> StoredResponse:
        return self._unsupported("Batches")

    def fault_logged(self, request: Any, ref_no: str) -> StoredResponse:
        return self._unsupported("Fault reports")


def request_body(command: Any) -> bytes:
    """The command kept with a pending sale (no PIN: ``Command.canonical`` fields only)."""
    return f"kind={command.kind}&recipient={command.recipient or ''}".encode()


__all__ = ["SmsRenderer", "error_text", "fund_request_text", "group", "request_body", "text"]
