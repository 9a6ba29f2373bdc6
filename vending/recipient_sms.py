"""A sale's PIN or token to the consumer's phone: queued in the MT outbox inside the sale's
own transaction, whatever the channel and whichever side made the sale.

The number travels with the sale, in its details under :data:`NOTIFY`: the services put it
into the request context's details (``ctx.details`` join the sale's), so whoever completes
the sale -- the voucher sale, our embedded STS engine, a utility's server settled now or by
recovery after a restart -- finds it on the :class:`~vending.sales.Sale` it has in hand and
queues the text in the same transaction (:func:`queue_for_sale`). A sale that commits has
its MT; one that rolls back has none; a replay queues nothing new (the outbox's ``source``
is the sale's request). The text is encrypted at rest (:mod:`vending.sms_outbox`) and never
logged.

Recipient messages are stored without a sender: the SMS channel sends them from its short
code (``[sms] short_code``), which the utility side does not know.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from vending import sms_outbox
from vending.keyring import Keyring
from vending.sales import Sale
from vending.sms_text import split
from vending.sms_texts import electricity_token_text, voucher_pin_text
from vending.storage.database import Txn

# The sale detail naming the consumer's phone (E.164 digits).
NOTIFY = "notify_msisdn"
PURPOSE = "recipient"


def notify_details(details: dict[str, Any], msisdn: str | None) -> dict[str, Any]:
    """``details`` with the consumer's number to notify (unchanged without one)."""
    return details if not msisdn else {**details, NOTIFY: msisdn}


def notify_number(sale: Sale) -> str | None:
    value = sale.details.get(NOTIFY)
    return str(value) if value else None


def _vendor_name(txn: Txn, vendor_id: int) -> str:
    from vending.vendors import get_vendor_by_id

    return str(get_vendor_by_id(txn, vendor_id).name)


def queue_for_sale(
    txn: Txn, keyring: Keyring, sale: Sale, text: str, *, now: datetime
) -> list[int]:
    """Queue ``text`` to the sale's consumer number, if it has one (in ``txn``). The ids of
    newly queued parts (none on a replay or without a number)."""
    msisdn = notify_number(sale)
    if msisdn is None:
        return []
    return sms_outbox.enqueue(
        txn,
        keyring,
        source=f"sale:{sale.request_pk}",
        purpose=PURPOSE,
        msisdn=msisdn,
        sender="",
        parts=split(text),
        now=now,
        vendor_id=sale.vendor_id,
        request_pk=sale.request_pk,
    )


def _queue_text(
    txn: Txn,
    keyring: Keyring,
    sale: Sale,
    text_for: Callable[[str], str],
    *,
    now: datetime,
    vendor_name: str | None,
) -> list[int]:
    """``text_for(vendor name)`` to the sale's consumer; the vendor's name is read only
    when there is a number to send to and the caller did not have it."""
    if notify_number(sale) is None:
        return []
    name = vendor_name or _vendor_name(txn, sale.vendor_id)
    return queue_for_sale(txn, keyring, sale, text_for(name), now=now)


def queue_token(
    txn: Txn,
    keyring: Keyring,
    sale: Sale,
    result: Any,
    *,
    now: datetime,
    vendor_name: str | None = None,
) -> list[int]:
    """An electricity sale's token (``result``: a ``CreditVendResult``) to its consumer."""

    def text_for(name: str) -> str:
        return electricity_token_text(result, sale.receipt_no, name)

    return _queue_text(txn, keyring, sale, text_for, now=now, vendor_name=vendor_name)


def queue_pin(
    txn: Txn, keyring: Keyring, sold: Any, *, now: datetime, vendor_name: str | None = None
) -> list[int]:
    """A voucher sale's PIN (``sold``: a ``VoucherSale``) to its consumer."""

    def text_for(name: str) -> str:
        return voucher_pin_text(sold, name)

    return _queue_text(txn, keyring, sold.sale, text_for, now=now, vendor_name=vendor_name)


__all__ = ["NOTIFY", "PURPOSE", "notify_details", "notify_number", "queue_pin", "queue_token"]
