"""Pushing the final result of a provider sale that was answered "pending" (issue 14 §7):
when a callback or a status poll closes the order, in the same transaction,

* the API client's webhook is queued (``vending.webhooks``; delivered, signed and retried by
  ``jsonapi.webhooks``) when the request came through a channel whose renderer names one
  (``renderer.webhook(request, request_id, response)`` -> (API key id, event, payload)),
  to the key's callback URL;
* an SMS goes to the merchant's registered number (``sms_merchants``) and, for a mobile
  recharge, to the recharged number (``vending.sms_outbox``; the deliverer sends it).

The same answer stays available by status query on every channel."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from vending import api_keys, sms_outbox, webhooks
from vending.channel_tables import sms_merchants
from vending.keyring import Keyring
from vending.requests import Claim, StoredResponse
from vending.sms_text import split
from vending.storage.database import Txn

LABELS = {
    "mobile": "Recharge", "dth": "DTH recharge", "datacard": "Data card recharge",
    "bill": "Bill payment", "transfer": "Money transfer", "dmt": "Money transfer",
    "insurance": "Policy", "travel": "Bus ticket",
}  # fmt: skip
# Who besides the merchant is told a success: the recharged number, the passenger's contact.
TOLD_ON_SUCCESS = ("mobile", "travel")


def result_text(sold: Any) -> str:
    label = LABELS.get(sold.service, sold.service.title())
    amount = sold.amount.format()
    if sold.state == "success":
        ref = f" ref {sold.operator_ref}" if sold.operator_ref else ""
        return f"{label} {sold.order_id} for {sold.shown_target} Rs {amount} SUCCESSFUL{ref}."
    return f"{label} {sold.order_id} for {sold.shown_target} Rs {amount} FAILED; amount refunded."


class ResultPush:
    def __init__(self, keyring: Keyring, sms_sender: str, *, sms: bool = True) -> None:
        self._keyring = keyring
        self._sender = sms_sender
        # Off when the SMS channel is ([sms] enabled = false): nothing would send them.
        self._sms = sms

    def __call__(
        self,
        txn: Txn,
        *,
        request: Any,
        claim: Claim,
        response: StoredResponse,
        sold: Any,
        renderer: Any,
        now: datetime,
    ) -> None:
        hook = getattr(renderer, "webhook", None)
        built = hook(request, claim.request_id, response) if hook is not None else None
        if built is not None:
            api_key_id, event, payload = built
            callback = api_keys.callback_of(txn, self._keyring, api_key_id)
            if callback is not None:
                webhooks.enqueue(
                    txn, api_key_id=api_key_id, request_pk=claim.request_pk, event=event,
                    url=callback.url, payload=payload, now=now,
                )  # fmt: skip
        if not self._sms:
            return
        text = split(result_text(sold))
        vendor_id = sold.sale.vendor_id
        numbers = [
            ("merchant", row.msisdn)
            for row in txn.execute(
                select(sms_merchants.c.msisdn).where(sms_merchants.c.vendor_id == vendor_id)
            )
        ]
        if sold.service in TOLD_ON_SUCCESS and sold.state == "success":
            numbers.append(("recipient", "91" + sold.target))
        for purpose, msisdn in numbers:
            sms_outbox.enqueue(
                txn, self._keyring, source=f"result:{claim.request_pk}:{purpose}:{msisdn}",
                purpose="result", msisdn=msisdn, sender=self._sender, parts=text, now=now,
                vendor_id=vendor_id, request_pk=claim.request_pk,
            )  # fmt: skip
