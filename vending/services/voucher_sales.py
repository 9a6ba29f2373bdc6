"""Selling PIN vouchers from stock (any channel).

A sale is one transaction through :func:`vending.services.idempotency.run_once`: claim the
request key, re-check the principal, reserve the earliest-expiring unsold PIN, post the
balanced sale transfer, render the channel's answer with the PIN and store it encrypted.
A trial (quote) prices the sale and checks the stock: nothing is reserved, nothing moves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from vending import recipient_sms
from vending.auth import Principal, revalidate
from vending.errors import OutOfStock
from vending.keyring import Keyring
from vending.money import Money
from vending.products import Pricing, Product
from vending.requests import Claim, Processed
from vending.services import idempotency
from vending.services.context import Clock, RequestContext, TxnRunner, created_by
from vending.services.rendering import ChannelRenderer
from vending.services.results import Outcome
from vending.storage.database import Txn
from vending.vendors import get_vendor_by_id
from vending.vouchers.selling import VoucherSale, quote_voucher, sell_voucher


@dataclass(frozen=True)
class VoucherSaleRequest:
    """Buy one PIN of ``product_code`` (``amount`` for open-value products, else None).
    ``recipient`` (an MSISDN): the PIN is also sent to that number by SMS, queued in the
    sale's own transaction (:mod:`vending.recipient_sms`)."""

    ctx: RequestContext
    product_code: str
    amount: Money | None = None
    recipient: str | None = None


@dataclass(frozen=True)
class VoucherQuoteRequest:
    principal: Principal
    product_code: str
    amount: Money | None = None


@dataclass(frozen=True)
class VoucherQuote:
    product: Product
    pricing: Pricing
    in_stock: bool
    # The vendor's available credit (balance + credit limit).
    balance: Money


class VoucherSales:
    def __init__(
        self,
        runner: TxnRunner,
        keyring: Keyring,
        clock: Clock,
        on_sms_queued: Callable[[], None] | None = None,
    ) -> None:
        self._runner = runner
        self._keyring = keyring
        self._clock = clock
        # Wakes the SMS deliverer once a sale with a recipient committed (else it polls).
        self._on_sms_queued = on_sms_queued or (lambda: None)

    async def sell(self, request: VoucherSaleRequest, renderer: ChannelRenderer) -> Outcome:
        """Sell one PIN and answer with ``renderer.voucher_sale`` (stored for replay)."""
        processed = await self._runner.run(
            "sell_voucher", self._sell, request, renderer, self._clock()
        )
        if request.recipient and not processed.replayed:
            self._on_sms_queued()
        return Outcome.of(processed, product=request.product_code)

    def _sell(
        self, txn: Txn, request: VoucherSaleRequest, renderer: ChannelRenderer, now: datetime
    ) -> Processed:
        ctx = request.ctx
        principal = ctx.principal

        def change(txn: Txn, claim: Claim) -> VoucherSale:
            sold = sell_voucher(
                txn,
                self._keyring,
                claim,
                vendor_id=principal.vendor_id,
                vendor_account_id=principal.account_id,
                product_code=request.product_code,
                amount=request.amount,
                terminal_id=ctx.terminal_id,
                operator_id=principal.operator_id,
                created_by=created_by(principal),
                now=now,
                paying_consumer_id=principal.consumer_id,
                details=recipient_sms.notify_details({}, request.recipient),
            )
            # The PIN to the consumer's phone: in this transaction, encrypted, unlogged.
            recipient_sms.queue_pin(
                txn, self._keyring, sold, now=now, vendor_name=principal.vendor_name
            )
            return sold

        return idempotency.run_once(
            txn,
            self._keyring,
            ctx.key,
            principal,
            change,
            lambda sold: renderer.voucher_sale(ctx.request, sold),
            now=now,
        )

    async def quote(self, request: VoucherQuoteRequest) -> VoucherQuote:
        """A trial: the price, nothing reserved, no money moves. Raises OutOfStock when no
        PIN of the product could be sold now (as the sale would)."""
        quote = await self._runner.run("quote_voucher", self._quote, request, self._clock())
        if not quote.in_stock:
            raise OutOfStock(f"{request.product_code} is out of stock")
        return quote

    @staticmethod
    def _quote(txn: Txn, request: VoucherQuoteRequest, now: datetime) -> VoucherQuote:
        principal = request.principal
        revalidate(txn, principal)
        product, pricing, in_stock = quote_voucher(
            txn,
            product_code=request.product_code,
            amount=request.amount,
            vendor_id=principal.vendor_id,
            now=now,
        )
        available = get_vendor_by_id(txn, principal.vendor_id).available
        return VoucherQuote(product, pricing, in_stock, available)


__all__ = ["VoucherQuote", "VoucherQuoteRequest", "VoucherSaleRequest", "VoucherSales"]
