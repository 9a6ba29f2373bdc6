"""XMLVend answers for people: the header in one line, then every field of the response
by name, money as ``ZAR 20.00``, tokens in groups of four, faults with their class.

Generic over the codec's dataclasses, so every response type reads the same way; the
field names are the XML names, which is what support staff see in logs and manuals.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from tools.conformance.reply import Reply
from xmlvend.codec.binding import type_qname
from xmlvend.codec.types_base import (
    BaseResp,
    Currency,
    DeviceID,
    KCToken,
    MsgID,
    ResponseHeader,
    STS1Token,
    Units,
)
from xmlvend.codec.types_ext import VoucherVendTx
from xmlvend.codec.types_revenue import CreditVendTx, PayAccTx, Tx


def group_token(digits: str) -> str:
    """``12345678901234567890`` -> ``1234 5678 9012 3456 7890``."""
    if digits.isdigit():
        return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))
    return digits


def _xml_name(field: dataclasses.Field) -> str:  # type: ignore[type-arg]
    spec = field.metadata.get("xml") if field.metadata else None
    name = getattr(spec, "name", None)  # binding.XmlField: the XML local name
    if name:
        return name
    parts = field.name.split("_")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


def _type_name(value: object) -> str:
    try:
        return type_qname(type(value))[1]
    except (KeyError, TypeError, ValueError):
        return type(value).__name__


def scalar(value: object) -> str | None:
    """One-line form of simple values; None for structures."""
    if value is None:
        return None
    if isinstance(value, Currency):
        return f"{value.symbol} {value.value}"
    if isinstance(value, Units):
        return f"{value.value} {value.si_unit}"
    if isinstance(value, STS1Token):
        return group_token(value.sts_cipher)
    if isinstance(value, MsgID):
        return f"{value.date_time}:{value.unique_number}"
    if isinstance(value, DeviceID):
        return str(getattr(value, "ean", None) or getattr(value, "id", "?"))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str | int | Decimal):
        return str(value)
    if dataclasses.is_dataclass(value) and not dataclasses.fields(value):
        return _type_name(value)  # e.g. Electricity
    return None


def describe(value: object, indent: int = 1) -> list[str]:
    """The fields of a codec dataclass, one per line, nested by indentation."""
    lines: list[str] = []
    pad = "  " * indent
    for field in dataclasses.fields(value):  # type: ignore[arg-type]
        if field.name in ("header", "soap_version"):
            continue
        item = getattr(value, field.name)
        if item is None or item == ():
            continue
        name = _xml_name(field)
        items = item if isinstance(item, tuple) else (item,)
        for element in items:
            text = scalar(element)
            if text is not None:
                lines.append(f"{pad}{name}: {text}")
                continue
            kind = _type_name(element)
            lines.append(
                f"{pad}{name} ({kind}):" if kind.lower() != name.lower() else f"{pad}{name}:"
            )
            lines.extend(describe(element, indent + 1))
    return lines


def header_line(header: ResponseHeader | None) -> str:
    if header is None:
        return "  (no response header)"
    return (
        f"  server {scalar(header.server_id)}  client {scalar(header.client_id)}  "
        f"terminal {scalar(header.terminal_id)}  reqMsgID {scalar(header.req_msg_id)}  "
        f"at {header.resp_date_time}"
    )


def messages(header: ResponseHeader | None) -> list[str]:
    if header is None:
        return []
    shown = (
        ("display", header.disp_header),
        ("operator", header.operator_msg),
        ("customer", header.cust_msg),
    )
    return [f"  {label}: {text}" for label, text in shown if text]


def _tx_line(tx: Tx) -> list[str]:
    """One receipt line (what, how much, tax) and the tokens or PIN it carries."""
    taxes = sum((t.amt.value for t in tx.tax), Decimal("0"))
    money = f"{tx.amt.symbol} {tx.amt.value}" + (f" + tax {taxes}" if taxes else "")
    if isinstance(tx, CreditVendTx):
        issue = tx.credit_token_issue
        lines = [f"    {issue.desc}  {scalar(issue.units)}  {money}"]
        lines.append(f"      TOKEN  {scalar(issue.token)}")
        if tx.kc_token_issue is not None:
            kct = tx.kc_token_issue.token
            if isinstance(kct, KCToken):
                for part in (kct.set1st_meter_key, kct.set2nd_meter_key):
                    lines.append(f"      KEY CHANGE  {scalar(part)}")
        return lines
    if isinstance(tx, PayAccTx):
        balance = getattr(tx, "balance", None)
        return [f"    {tx.acc_desc}  {money}" + (f"  balance {scalar(balance)}" if balance else "")]
    if isinstance(tx, VoucherVendTx):
        voucher = tx.voucher
        pin = f"      PIN  {group_token(voucher.pin)}  serial {voucher.serial_no}"
        return [f"    {voucher.desc}  {money}", pin]
    return [f"    {_type_name(tx)}  {money}"]


def receipt_summary(message: object) -> list[str]:
    """The receipt as a till prints it, for vend and payment responses."""
    receipt = getattr(message, "credit_vend_receipt", None) or getattr(
        message, "pay_acc_receipt", None
    )
    if receipt is None:
        return []
    txs = receipt.transactions
    lines = [f"  Receipt {receipt.receipt_no}"]
    for tx in txs.tx:
        lines.extend(_tx_line(tx))
    totals = [
        f"{label} {scalar(value)}"
        for label, value in (("tendered", txs.tender_amt), ("change", txs.change))
        if value is not None
    ]
    if totals:
        lines.append("    " + "  ".join(totals))
    status = getattr(message, "client_status", None)
    if status is not None:
        lines.append(f"  Available credit {scalar(status.avail_credit)}")
    return lines


def render_reply(reply: Reply) -> str:
    """The whole answer for a terminal."""
    status = f"HTTP {reply.http.status}, {reply.http.elapsed:.2f} s"
    if reply.fault is not None:
        fault = reply.fault
        lines = [
            f"FAULT {fault.class_name or '(no class)'} ({fault.faultcode}, {status})",
            f"  {fault.desc or fault.faultstring}",
        ]
        header = getattr(reply.message, "header", None)
        lines.append(header_line(header))
        lines.extend(messages(header))
        return "\n".join(lines)
    message = reply.message
    assert isinstance(message, BaseResp)
    lines = [f"{_type_name(message)} ({status})", header_line(message.header)]
    lines.extend(messages(message.header))
    inner = getattr(message, "last_response", None)  # a last-response advice: the original
    lines.extend(receipt_summary(inner if inner is not None else message))
    lines.append("  Details:")
    lines.extend(describe(message, indent=2))
    return "\n".join(lines)
