"""The protocol layer's own transaction functions (``fn(txn, ...)``, run through the
:class:`~utilities.interface.TxnRunner`): voucher sales, advices, reprints, statements.

They only call the core's and the voucher stock's functions (no SQL here: ``xmlvend/`` has
none). State-changing ones claim their request key with
:func:`vending.requests.process_once`, so the response is stored in the same transaction
as the change it reports, and a retry gets the stored bytes back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from vending import batches, ledger
from vending.auth import Principal, revalidate
from vending.errors import IdempotencyConflict, InvalidState, RequestInProgress, ReversalRefused
from vending.keyring import Keyring
from vending.money import Money
from vending.products import Pricing, Product
from vending.requests import (
    Claim,
    Processed,
    RequestKey,
    RequestRecord,
    StoredResponse,
    claim_request,
    find_request,
    find_request_by_pk,
    process_once,
    store_response,
)
from vending.sales import Sale, confirm_sale, recent_sales, reverse_sale, sale_for_request
from vending.storage.database import Txn
from vending.vendors import Vendor, get_vendor_by_id
from vending.vouchers.selling import (
    VoucherSale,
    quote_voucher,
    reverse_voucher_sale,
    sell_voucher,
)
from xmlvend.server.errors import TransactionDelayed, UnknownConfirmation, UnknownReversal

# The channel name under which XMLVend requests are claimed (vending.requests).
CHANNEL = "xmlvend"


def created_by(principal: Principal) -> str:
    return f"vendor:{principal.client_id}:{principal.operator_name or '-'}"


# --- read-only -------------------------------------------------------------------------------


def vendor_balance(txn: Txn, principal: Principal) -> Money:
    """The vendor's available credit now (balance + credit limit: XMLVend's availCredit),
    for responses whose result carries none."""
    return get_vendor_by_id(txn, principal.vendor_id).available


def vendor_statement(
    txn: Txn, principal: Principal, limit: int
) -> tuple[Vendor, list[ledger.StatementLine]]:
    """The vendor, and its account's last ``limit`` ledger entries (oldest first)."""
    revalidate(txn, principal)
    vendor = get_vendor_by_id(txn, principal.vendor_id)
    lines = ledger.statement(txn, vendor.account_id, limit=limit)
    return vendor, list(reversed(lines))


def request_record(
    txn: Txn, keyring: Keyring, client_id: str, request_id: str
) -> RequestRecord | None:
    """The stored request (and its response, when completed) under a key."""
    return find_request(txn, keyring, client_id=client_id, request_id=request_id)


def record_answer(
    txn: Txn,
    keyring: Keyring,
    key: RequestKey,
    principal: Principal,
    response: StoredResponse,
    now: datetime,
) -> Processed:
    """Keep a read-only request's answer under its key (the first answer wins: an identical
    re-send gets that one back; the key reused for another request is refused). The
    (possibly cached) principal is re-checked here, so a vendor blocked a moment ago gets
    no answer."""
    revalidate(txn, principal)
    return process_once(txn, keyring, key, lambda _claim: response, now=now)


def reprint_originals(
    txn: Txn, keyring: Keyring, principal: Principal, target: str, limit: int
) -> list[bytes]:
    """The stored responses of the vendor's last ``limit`` completed sales for ``target``
    (a meter number or a voucher product code), oldest first; sales made through other
    channels, or whose answer was a fault, are left out."""
    revalidate(txn, principal)
    originals: list[bytes] = []
    for sale in recent_sales(txn, target=target, vendor_id=principal.vendor_id, limit=limit):
        record = find_request_by_pk(txn, keyring, sale.request_pk)
        if (
            record is None
            or record.channel != CHANNEL
            or record.response is None
            or record.response.http_status != 200
        ):
            continue
        originals.append(record.response.body)
    return list(reversed(originals))


@dataclass(frozen=True)
class VoucherQuote:
    product: Product
    pricing: Pricing
    in_stock: bool
    balance: Money


def quote_voucher_sale(
    txn: Txn, principal: Principal, product_code: str, amount: Money | None, now: datetime
) -> VoucherQuote:
    """A voucher trial vend: price and stock, nothing reserved, no money moves."""
    revalidate(txn, principal)
    product, pricing, in_stock = quote_voucher(
        txn, product_code=product_code, amount=amount, vendor_id=principal.vendor_id, now=now
    )
    return VoucherQuote(product, pricing, in_stock, vendor_balance(txn, principal))


# --- state-changing ----------------------------------------------------------------------------


def sell_voucher_once(
    txn: Txn,
    keyring: Keyring,
    key: RequestKey,
    principal: Principal,
    *,
    product_code: str,
    amount: Money | None,
    terminal_id: str,
    render: Callable[[VoucherSale], StoredResponse],
    now: datetime,
) -> Processed:
    """Claim the request, sell one PIN, render and store the response: one transaction."""

    def work(claim: Claim) -> StoredResponse:
        revalidate(txn, principal)
        sold = sell_voucher(
            txn,
            keyring,
            claim,
            vendor_id=principal.vendor_id,
            vendor_account_id=principal.account_id,
            product_code=product_code,
            amount=amount,
            terminal_id=terminal_id,
            operator_id=principal.operator_id,
            created_by=created_by(principal),
            now=now,
        )
        return render(sold)

    return process_once(txn, keyring, key, work, now=now)


def _advised_sale(
    txn: Txn,
    keyring: Keyring,
    principal: Principal,
    original_id: str,
    unknown: type[Exception],
) -> Sale | None:
    """The sale made by the advised request; raises ``unknown`` when there is no such
    request and TransactionDelayed while it is still running."""
    record = find_request(txn, keyring, client_id=principal.client_id, request_id=original_id)
    if record is None:
        raise unknown(f"no transaction with msgID {original_id} for this client")
    if record.response is None:
        raise TransactionDelayed(
            original_id,
            f"Transaction {original_id} is still in progress; send the advice again once "
            "it has completed",
        )
    return sale_for_request(txn, principal.client_id, original_id)


def reverse_once(
    txn: Txn,
    keyring: Keyring,
    key: RequestKey,
    principal: Principal,
    original_id: str,
    render: Callable[[bool, str], StoredResponse],
    now: datetime,
) -> Processed:
    """ReversalAdviceReq: reverse the advised sale per its product's policy, refunding the
    vendor (a voucher's PIN is quarantined). Idempotent: a reversed sale stays reversed and
    is reported reversed again. Refusals are answered ``txReversed="false"`` with why."""

    def work(claim: Claim) -> StoredResponse:
        revalidate(txn, principal)
        sale = _advised_sale(txn, keyring, principal, original_id, UnknownReversal)
        if sale is None:
            return render(False, "The advised request made no sale: there is nothing to reverse")
        if sale.state == "reversed":
            return render(True, f"Sale {sale.receipt_no} is reversed")
        if sale.state == "failed":
            return render(False, f"Sale {sale.receipt_no} failed and was refunded already")
        reason = f"reversal advice {key.request_id}"
        try:
            if sale.product_kind == "voucher":
                reverse_voucher_sale(
                    txn, sale.id, reason=reason, created_by=created_by(principal), now=now
                )
            else:
                reverse_sale(txn, sale.id, reason=reason, created_by=created_by(principal), now=now)
        except ReversalRefused as refused:
            return render(False, f"Not reversed: {refused.message}")
        return render(True, f"Sale {sale.receipt_no} reversed; the vendor has been refunded")

    return process_once(txn, keyring, key, work, now=now)


def confirm_once(
    txn: Txn,
    keyring: Keyring,
    key: RequestKey,
    principal: Principal,
    original_id: str,
    render: Callable[[bool, str], StoredResponse],
    now: datetime,
) -> Processed:
    """ConfirmationAdviceReq: record that the client completed the advised transaction."""

    def work(claim: Claim) -> StoredResponse:
        revalidate(txn, principal)
        sale = _advised_sale(txn, keyring, principal, original_id, UnknownConfirmation)
        if sale is None:
            return render(True, "Transaction confirmed")
        try:
            confirmed = confirm_sale(txn, sale.id, now=now)
        except InvalidState:
            return render(False, f"Sale {sale.receipt_no} is {sale.state} and cannot be confirmed")
        return render(True, f"Sale {confirmed.receipt_no} confirmed")

    return process_once(txn, keyring, key, work, now=now)


def store_late_failure(
    txn: Txn, keyring: Keyring, key: RequestKey, response: StoredResponse, now: datetime
) -> bool:
    """Store the fault of a request that failed after its client was told it is delayed,
    so that the client's last-response advice gets the definitive answer. Nothing is stored
    when a response already is, or when the key belongs to another request. True if stored.
    """
    try:
        claimed = claim_request(
            txn,
            keyring,
            channel=key.channel,
            client_id=key.client_id,
            request_id=key.request_id,
            operation=key.operation,
            fingerprint=key.fingerprint,
            now=now,
        )
    except (IdempotencyConflict, RequestInProgress):
        return False
    if isinstance(claimed, StoredResponse):
        return False
    store_response(txn, keyring, claimed, response.body, http_status=response.http_status, now=now)
    return True


# --- vendor batches (vending.batches) ---------------------------------------------------------


def batch_totals(
    txn: Txn, principal: Principal, terminal_id: str, kinds: tuple[str, ...], now: datetime
) -> list[batches.BatchReport]:
    """totalBatchReq: running totals of the terminal's open batches (they stay open)."""
    revalidate(txn, principal)
    return batches.batch_totals(
        txn,
        vendor_id=principal.vendor_id,
        account_id=principal.account_id,
        terminal_id=terminal_id,
        kinds=kinds,
        now=now,
    )


def closed_batch_report(
    txn: Txn, principal: Principal, terminal_id: str, kind: str, seq_no: int | None
) -> batches.BatchReport:
    """reprintEndBatchReq: a closed batch of the terminal with its closing totals."""
    revalidate(txn, principal)
    return batches.reprint_batch(
        txn,
        vendor_id=principal.vendor_id,
        account_id=principal.account_id,
        terminal_id=terminal_id,
        kind=kind,
        seq_no=seq_no,
    )
