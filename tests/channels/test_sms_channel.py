"""The SMS channel over the in-process server: MOs through /sms/mo, sales through the
services, replies and recipients' PINs through the MT outbox, delivery reports, retries."""

from __future__ import annotations

import re

from channel_support import CONSUMER, MERCHANT, MERCHANT_PIN, ChannelWorld
from server_support import CAFE, NORMAL_METER

from vending.channel_tables import sms_merchants, sms_messages
from vending.money import Money
from vending.sms_merchants import MAX_FAILED_PINS


def _rows(world: ChannelWorld, table) -> list:  # type: ignore[no-untyped-def]
    return world.database.run_txn("t_rows", lambda txn: txn.execute(table.select()).all())


def test_buy_by_sms_replies_with_the_pin_and_queues_the_reply(world: ChannelWorld) -> None:
    before = world.balance()
    reply = world.mo(f"{MERCHANT_PIN} BUY AIR-DEMO-10")
    pin = re.search(r"PIN (\d{16})", reply)
    assert pin and pin.group(1) in world.xml.pins
    assert world.balance() < before and world.sale_count() == 1
    world.deliver()
    assert world.gateway.texts_to(MERCHANT) == [reply]
    # The outbox keeps the text encrypted: no PIN in the table.
    for row in _rows(world, sms_messages):
        world.sentinel.assert_absent(bytes(row.body), "sms_messages.body")


def test_the_same_mo_twice_sells_once_and_gets_the_same_reply(world: ChannelWorld) -> None:
    first = world.mo(f"{MERCHANT_PIN} BUY AIR-DEMO-10", message_id="kannel-1")
    again = world.mo(f"{MERCHANT_PIN} BUY AIR-DEMO-10", message_id="kannel-1")
    assert first == again and world.sale_count() == 1
    world.deliver()
    assert world.gateway.texts_to(MERCHANT) == [first]  # one MT, not two


def test_a_new_message_id_is_a_new_sale(world: ChannelWorld) -> None:
    world.mo(f"{MERCHANT_PIN} BUY AIR-DEMO-10", message_id="a")
    world.mo(f"{MERCHANT_PIN} BUY AIR-DEMO-10", message_id="b")
    assert world.sale_count() == 2


def test_refusals_are_short_and_sell_nothing(world: ChannelWorld) -> None:
    before = world.balance()
    assert "not registered" in world.mo(f"{MERCHANT_PIN} BAL", sender="27829999999")
    assert "start with your SMS PIN" in world.mo("BUY AIR-DEMO-10")
    assert "Wrong PIN" in world.mo("0000 BUY AIR-DEMO-10")
    assert "not a meter" in world.mo(f"{MERCHANT_PIN} ELEC 12 50")
    assert "Nothing was sold" in world.mo(f"{MERCHANT_PIN} BUY NOPE-PRODUCT")
    assert world.sale_count() == 0 and world.balance() == before
    world.deliver()
    assert all(len(text) <= 160 for text in world.gateway.texts_to(MERCHANT))


def test_insufficient_funds_sells_nothing(world: ChannelWorld) -> None:
    before = world.balance()
    reply = world.mo(f"{MERCHANT_PIN} ELEC {NORMAL_METER} 4900000")
    assert "Nothing was sold" in reply and world.sale_count() == 0
    assert world.balance() == before


def test_wrong_pins_lock_the_number_and_the_lock_expires(world: ChannelWorld) -> None:
    for _ in range(MAX_FAILED_PINS - 1):
        assert "Wrong PIN" in world.mo("0000 BAL")
    assert "locked" in world.mo("0000 BAL")
    # Locked: even the right PIN is refused until the lock expires.
    assert "locked" in world.mo(f"{MERCHANT_PIN} BUY AIR-DEMO-10")
    assert world.sale_count() == 0
    world.advance(601)
    assert "PIN" in world.mo(f"{MERCHANT_PIN} BUY AIR-DEMO-10")
    assert world.sale_count() == 1


def test_the_pin_is_stored_only_as_a_hash(world: ChannelWorld) -> None:
    (row,) = _rows(world, sms_merchants)
    assert row.pin_hash.startswith("scrypt$") and MERCHANT_PIN not in row.pin_hash


def test_change_pin_then_only_the_new_pin_works(world: ChannelWorld) -> None:
    world.sentinel.register("8642")
    assert "changed" in world.mo(f"{MERCHANT_PIN} PIN 8642 8642", message_id="chg")
    # A gateway retry of the change replays its answer (not "wrong PIN").
    assert "changed" in world.mo(f"{MERCHANT_PIN} PIN 8642 8642", message_id="chg")
    assert "Wrong PIN" in world.mo(f"{MERCHANT_PIN} BAL")
    assert "Bal" in world.mo("8642 BAL")


def test_balance_and_last_sale(world: ChannelWorld) -> None:
    assert world.mo(f"{MERCHANT_PIN} LAST").startswith("No sale")
    sold = world.mo(f"{MERCHANT_PIN} BUY AIR-DEMO-10")
    balance = world.mo(f"{MERCHANT_PIN} BAL")
    assert f"Bal {world.balance()}" in balance
    assert world.mo(f"{MERCHANT_PIN} LAST") == "Last: " + sold


def test_a_recipient_gets_the_pin_and_the_merchant_sees_its_delivery(world: ChannelWorld) -> None:
    reply = world.mo(f"{MERCHANT_PIN} BUY AIR-DEMO-10 0831234567")
    assert f"Sent to {CONSUMER}" in reply
    world.deliver()
    (to_consumer,) = world.gateway.texts_to(CONSUMER)
    pin = re.search(r"PIN (\d{16})", reply)
    assert pin and pin.group(1) in to_consumer
    assert f"SMS to {CONSUMER}: submitted" in world.mo(f"{MERCHANT_PIN} BAL")
    (message,) = [m for m in world.gateway.sent if m.msisdn == CONSUMER]
    status, _ = world.http_get(f"/sms/dlr?id={message.id}&t={message.dlr_token}&s=1")
    assert status == 200
    assert f"SMS to {CONSUMER}: delivered" in world.mo(f"{MERCHANT_PIN} BAL")


def test_electricity_by_sms_with_a_recipient(world: ChannelWorld) -> None:
    reply = world.mo(f"{MERCHANT_PIN} ELEC {NORMAL_METER} 50 0831234567")
    token = re.search(r"Token ((?:\d{4} ){4}\d{4})", reply)
    assert token, reply
    world.deliver()
    (to_consumer,) = world.gateway.texts_to(CONSUMER)
    assert token.group(1) in to_consumer and world.sale_count() == 1


def test_a_forged_delivery_report_is_refused(world: ChannelWorld) -> None:
    world.mo(f"{MERCHANT_PIN} BAL")
    world.deliver()
    (message,) = world.gateway.sent
    status, _ = world.http_get(f"/sms/dlr?id={message.id}&t=guess&s=2")
    assert status == 404


def test_gateway_down_retries_with_backoff_and_sends_once(world: ChannelWorld) -> None:
    world.gateway.outcomes = ["unreachable", "unreachable"]
    world.mo(f"{MERCHANT_PIN} BAL")
    world.deliver()
    assert world.gateway.calls == 1 and not world.gateway.sent
    world.advance(4)  # first backoff is 5 s
    world.deliver()
    assert world.gateway.calls == 1
    world.advance(1)
    world.deliver()
    assert world.gateway.calls == 2  # second failure: 10 s more
    world.advance(10)
    world.deliver()
    assert world.gateway.calls == 3 and len(world.gateway.sent) == 1
    world.advance(600)
    world.deliver()
    assert world.gateway.calls == 3  # sent: never again


def test_a_lost_answer_is_never_resent(world: ChannelWorld) -> None:
    world.gateway.outcomes = ["lost"]
    world.mo(f"{MERCHANT_PIN} BAL")
    world.deliver()
    world.advance(3600)
    world.deliver()
    assert world.gateway.calls == 1
    (row,) = _rows(world, sms_messages)
    assert row.state == "unknown"


def test_the_deliverer_runs_on_the_injected_reactor(world: ChannelWorld) -> None:
    world.sms.start()
    world.mo(f"{MERCHANT_PIN} BAL")  # kicks the deliverer
    world.xml.reactor.advance(0)
    assert len(world.gateway.sent) == 1
    world.sms.stop()


def test_sms_sales_are_balanced_ledger_transfers(world: ChannelWorld) -> None:
    from vending.ledger import verify_ledger

    before = world.balance(CAFE)
    world.mo(f"{MERCHANT_PIN} BUY AIR-DEMO-10")
    # R10 face value less the vendor's commission (4 %): R9.60 leaves the vendor.
    assert before - world.balance(CAFE) == Money.parse("9.60", "ZAR")
    assert world.database.run_txn("t_verify", verify_ledger).ok


def test_bookkeeping_is_group_committed_on_the_reactor(world: ChannelWorld) -> None:
    """Queuing replies shares one transaction per batch; each caller gets its own result."""
    from sms.batching import BatchingRunner
    from vending.services.sms import SmsOutbox

    batch = BatchingRunner(world.xml.server.services.runner, world.xml.reactor, delay=0.005)
    outbox = SmsOutbox(
        world.xml.server.services.runner,
        world.xml.keyring,
        world.xml.clock,
        "12345",
        batch_runner=batch,
    )
    from twisted.internet.defer import ensureDeferred

    results: list = []
    for n in range(3):
        queued = outbox.queue(source=f"t:{n}", purpose="reply", msisdn=CONSUMER, text=f"hi {n}")
        ensureDeferred(queued).addCallback(results.append)
    again: list = []
    ensureDeferred(
        outbox.queue(source="t:0", purpose="reply", msisdn=CONSUMER, text="hi 0")
    ).addCallback(again.append)
    assert results == [] and batch.batches == 0  # nothing before the batch's moment
    world.xml.reactor.advance(0.005)
    assert batch.batches == 1 and [len(r) for r in results] == [1, 1, 1]
    assert again == [[]]  # the same source in the same batch: queued once
    world.deliver()
    assert sorted(world.gateway.texts_to(CONSUMER)) == ["hi 0", "hi 1", "hi 2"]
