"""What a consumer's phone shows when a merchant sells to its number: the PIN of a voucher
(with its network's redeem instructions) or an electricity token. Short, GSM-7 where the
data allows, built from the sale alone. Written in the sale's transaction into the
encrypted outbox (:mod:`vending.sms_outbox`), never logged."""

from __future__ import annotations

from typing import Any


def voucher_pin_text(sold: Any, vendor_name: str) -> str:
    voucher = sold.voucher
    how = f" {voucher.instructions}" if voucher.instructions else ""
    return (
        f"{voucher.product_code} {sold.sale.amount.format()} from {vendor_name}: "
        f"PIN {voucher.pin} Serial {voucher.serial_no} Ref {sold.sale.receipt_no}.{how}"
    )


def electricity_token_text(result: Any, receipt_no: str | None, vendor_name: str) -> str:
    token = result.token.token
    grouped = " ".join(token[i : i + 4] for i in range(0, len(token), 4))
    return (
        f"Electricity {result.meter.msno} {result.amount.format()} from {vendor_name}: "
        f"Token {grouped} {format(result.token.units, 'f')}{result.token.si_unit} "
        f"Ref {receipt_no or '-'}"
    )


__all__ = ["electricity_token_text", "voucher_pin_text"]
