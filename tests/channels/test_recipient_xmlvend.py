"""The XMLVend extension's recipient: a voucher sale with ``ext:ProductIdentifier/@recipient``
also sends the PIN to that phone by SMS, queued in the sale's own transaction."""

from __future__ import annotations

import re

from channel_support import CONSUMER, ChannelWorld
from server_support import VOUCHER_PRODUCT, voucher_vend

from vending.channel_tables import sms_messages
from xmlvend.codec import types_base as b
from xmlvend.codec import types_ext as ext


def _with_recipient(world: ChannelWorld, recipient: str):  # type: ignore[no-untyped-def]
    request = voucher_vend(world.xml.header())
    identifier = ext.ProductIdentifier(product_code=VOUCHER_PRODUCT, recipient=recipient)
    return type(request)(
        header=request.header,
        resource=request.resource,
        id_method=b.VendIDMethod(meter_identifier=identifier),
        purchase_value=request.purchase_value,
    )


def test_an_xmlvend_voucher_sale_sends_the_pin_to_the_recipient(world: ChannelWorld) -> None:
    request = _with_recipient(world, "+27831234567")
    response = world.xml.call(request)
    assert response.status == 200, response.body[:400]
    pin = re.search(rb'pin="(\d{16})"', response.body)
    assert pin
    world.deliver()
    (text,) = world.gateway.texts_to(CONSUMER)
    assert pin.group(1).decode() in text
    # A retry of the same request replays the answer and queues nothing new.
    assert world.xml.call(request).body == response.body and world.sale_count() == 1
    world.deliver()
    assert len(world.gateway.texts_to(CONSUMER)) == 1
    rows = world.database.run_txn("t", lambda txn: txn.execute(sms_messages.select()).all())
    assert len(rows) == 1 and rows[0].purpose == "recipient" and rows[0].request_pk


def test_a_recipient_that_is_not_a_phone_number_sells_nothing(world: ChannelWorld) -> None:
    response = world.xml.call(_with_recipient(world, "not-a-phone"))
    assert response.status == 500 and world.sale_count() == 0
    assert b"phone number" in response.body
