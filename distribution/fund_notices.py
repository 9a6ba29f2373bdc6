"""How the requester of a decided (or expired) fund request is told, on every channel a
merchant may use: a webhook event (``fund_request.approved|rejected|expired``) for each of
its API keys with a callback URL, and a text to each of its numbers registered for SMS --
both queued by :func:`tell_requester`, in the deciding transaction.

Every way of deciding (the API, SMS, USSD, ``evd fund``, the admin queue, the expiry sweep)
reaches the requester through this one function, called by ``fund_requests.decide`` and
``fund_requests.expire_due`` themselves: a path cannot push the webhook and forget the SMS.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from distribution import nodes
from vending import sms_merchants, sms_outbox, webhooks
from vending.keyring import Keyring
from vending.sms_text import split
from vending.storage.database import Txn

if TYPE_CHECKING:
    from distribution.fund_requests import FundRequest


@dataclass(frozen=True)
class FundNotices:
    """What texting a requester needs: the keyring the SMS outbox encrypts with and the
    sender (the short code). ``keyring`` None queues no SMS -- a deliberate choice of a
    caller without keys (some tests), never a default."""

    keyring: Keyring | None
    sms_sender: str = "12345"


_EVENT_FIELDS = ("id", "requester", "reference", "state", "reason", "transfer_id")


def event_data(request: FundRequest) -> dict[str, Any]:
    """The request as its webhook event's ``data`` (amounts in major units, as strings)."""
    data: dict[str, Any] = {name: getattr(request, name) for name in _EVENT_FIELDS}
    return data | {"amount": request.amount.format(), "currency": request.amount.currency}


def sms_text(request: FundRequest) -> str:
    amount = f"{request.amount.format()} {request.amount.currency}"
    if request.state == "approved":
        return f"Fund request {request.reference} for {amount} approved and credited."
    if request.state == "rejected":
        return f"Fund request {request.reference} for {amount} rejected: {request.reason[:80]}"
    if request.state == "expired":
        return f"Fund request {request.reference} for {amount} expired undecided."
    return f"Fund request {request.reference} for {amount} sent (ref {request.id})."


def tell_requester(txn: Txn, notices: FundNotices, request: FundRequest, now: datetime) -> None:
    """Queue the decided request's webhook event and SMS for the requester, if it is a
    merchant (a node without one has neither keys nor numbers)."""
    vendor_id = nodes.get_node(txn, request.requester).vendor_id
    if vendor_id is None:
        return
    webhooks.push_event(
        txn,
        vendor_id=vendor_id,
        event=f"fund_request.{request.state}",
        subject=str(request.id),
        data=event_data(request),
        now=now,
    )
    if notices.keyring is None:
        return
    for msisdn in sms_merchants.msisdns_of_vendor(txn, vendor_id):
        # The source names the decision and number: a retried transaction queues nothing
        # twice (sms_outbox.enqueue leaves a known source alone).
        sms_outbox.enqueue(
            txn,
            notices.keyring,
            source=f"fund_request:{request.id}:{request.state}:{msisdn}",
            purpose="notice",
            msisdn=msisdn,
            sender=notices.sms_sender,
            parts=split(sms_text(request)),
            now=now,
            vendor_id=vendor_id,
        )
