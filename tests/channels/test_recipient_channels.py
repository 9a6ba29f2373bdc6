"""The PIN or token to the consumer's phone from every channel (issue 12 §3): XMLVend's
``notifyMsisdn`` extension (docs/EXTENSION-NAMESPACE.md), the JSON API, SMS and USSD. The
MT is queued with the sale, its commit wakes the deliverer (no poll wait), its text never
reaches a log, and the merchant and staff see its delivery state."""

from __future__ import annotations

import dataclasses
import logging
import re

import pytest
from channel_support import CONSUMER, MERCHANT_PIN, ChannelWorld
from server_support import NORMAL_METER, credit_vend, voucher_vend
from sqlalchemy import select

from vending.channel_tables import sms_messages
from xmlvend.codec import types_ext as ext


def _messages(world: ChannelWorld) -> list:  # type: ignore[type-arg]
    return world.database.run_txn(
        "t_sms", lambda txn: list(txn.execute(select(sms_messages)).all())
    )


def _electricity(world: ChannelWorld, notify: str, amount: str = "50.00"):  # type: ignore[no-untyped-def]
    request = credit_vend(world.xml.header(), NORMAL_METER, amount)
    return dataclasses.replace(request, resource=ext.Electricity(notify_msisdn=notify))


def _voucher(world: ChannelWorld, notify: str | None):  # type: ignore[no-untyped-def]
    request = voucher_vend(world.xml.header())
    return dataclasses.replace(
        request, resource=dataclasses.replace(request.resource, notify_msisdn=notify)
    )


def test_xmlvend_electricity_with_notify_msisdn_sends_the_token(
    world: ChannelWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    world.sms.start()
    answer = world.xml.call(_electricity(world, "+27831234567"))
    assert answer.status == 200, answer.body[:400]
    token = answer.parsed().credit_vend_receipt.transactions.tx[0].credit_token_issue.token
    digits = token.sts_cipher
    # The sale's commit woke the deliverer: sent now, not at the next poll.
    world.xml.reactor.advance(0)
    (sent,) = world.gateway.texts_to(CONSUMER)
    assert " ".join(digits[i : i + 4] for i in range(0, 20, 4)) in sent
    assert digits not in caplog.text and sent not in caplog.text
    (row,) = _messages(world)
    assert (row.purpose, row.state) == ("recipient", "submitted")
    world.sms.stop()


def test_xmlvend_voucher_with_notify_msisdn_sends_the_pin_once(world: ChannelWorld) -> None:
    request = _voucher(world, "27831234567")
    answer = world.xml.call(request)
    assert answer.status == 200, answer.body[:400]
    pin = answer.parsed().credit_vend_receipt.transactions.tx[0].voucher.pin
    replay = world.xml.call(request)
    assert replay.body == answer.body
    world.deliver()
    assert [pin in text for text in world.gateway.texts_to(CONSUMER)] == [True]


def test_a_bad_notify_msisdn_is_refused_and_sells_nothing(world: ChannelWorld) -> None:
    before = world.balance()
    answer = world.xml.call(_electricity(world, "12ab"))
    assert answer.fault_class() is not None
    assert b"notifyMsisdn" in answer.body
    assert world.sale_count() == 0 and world.balance() == before and _messages(world) == []


def test_a_recharge_with_notify_msisdn_is_refused(world: ChannelWorld) -> None:
    request = _voucher(world, "27831234567")
    recharge = dataclasses.replace(
        request,
        id_method=dataclasses.replace(
            request.id_method,
            meter_identifier=ext.ProductIdentifier(
                product_code="AIR-DEMO-10", recipient="27831234567"
            ),
        ),
    )
    answer = world.xml.call(recharge)
    assert answer.fault_class() is not None and b"notifyMsisdn" in answer.body
    assert world.sale_count() == 0


def test_the_merchant_and_staff_see_the_delivery_state(world: ChannelWorld) -> None:
    reply = world.mo(f"{MERCHANT_PIN} ELEC {NORMAL_METER} 50 0831234567")
    assert re.search(r"Token ((?:\d{4} ){4}\d{4})", reply), reply
    world.deliver()
    (message,) = [m for m in world.gateway.sent if m.msisdn == CONSUMER]
    assert message.sender == "12345"  # queued without one: the channel's short code
    status, _ = world.http_get(f"/sms/dlr?id={message.id}&t={message.dlr_token}&s=1")
    assert status == 200
    assert f"SMS to {CONSUMER}: delivered" in world.mo(f"{MERCHANT_PIN} LAST")
    outbox = world.sms.outbox
    (delivered,) = world.wait(outbox.recipient_messages(state="delivered"))
    assert delivered.msisdn == CONSUMER and delivered.request_pk is not None
    assert world.wait(outbox.recipient_messages(state="failed")) == []
    sale_id = world.database.run_txn(
        "t_sale",
        lambda txn: txn.execute(
            select(world_sales().c.id).where(world_sales().c.request_pk == delivered.request_pk)
        ).scalar_one(),
    )
    (for_sale,) = world.wait(outbox.sale_messages(sale_id))
    assert for_sale.state == "delivered" and for_sale.dlr_status == 1


def world_sales():  # type: ignore[no-untyped-def]
    from vending.storage.schema import sales

    return sales
