"""Issue 10 §3: a delivered PIN is value, the buyer keeps it.

* PIN vouchers are reversible only while unconfirmed, never reprinted and within
  ``sales.reversal_window_seconds``; afterwards the advice answers ``txReversed`` false with
  the reason and nothing moves. Electricity keeps its product's policy, with the same window.
* After a reversal the sale's PIN or token is never served again: the replay of the
  original request and its last-response advice answer a ``BusinessRuleEx`` fault under the
  original header (byte-identical on every retry), a reprint leaves the sale out, the
  statement never carries PINs; the PIN stays quarantined.
* Property: however confirmations, reversals, replays and reprints interleave, no PIN is
  both refunded and delivered.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server_support import (
    NORMAL_METER,
    VOUCHER_PRODUCT,
    World,
    advice,
    build_world,
    credit_vend,
    make_config,
    voucher_vend,
    zar,
)
from sqlalchemy import select, update

from vending.config import SalesConfig
from vending.storage.database import Database
from vending.storage.schema import products
from vending.vouchers.tables import vouchers
from xmlvend.codec import SoapFault
from xmlvend.codec import types_base as b
from xmlvend.codec import types_ext as ext
from xmlvend.codec import types_revenue as r


def _sell(world: World) -> tuple[r.CreditVendReq, bytes, str]:
    """A voucher sale: the request, its answer and the PIN it delivered."""
    sale = voucher_vend(world.header())
    response = world.call(sale)
    assert response.status == 200
    pin = response.parsed().credit_vend_receipt.transactions.tx[0].voucher.pin
    return sale, response.body, pin


def _reverse(world: World, sale: b.BaseReq) -> Any:
    response = world.call(advice(b.ReversalAdviceReq, world.header(), sale.header.msg_id))
    assert response.status == 200
    return response.parsed()


def _confirm(world: World, sale: b.BaseReq) -> None:
    response = world.call(
        b.ConfirmationAdviceReq(
            header=world.header(),
            advice_req_msg_id=sale.header.msg_id,
            pay_type=b.Cash(tender_amt=zar("10.00")),
        )
    )
    assert response.parsed().tx_confirmed is True


def _reprint_vouchers(world: World) -> Any:
    request = r.ReprintReq(
        header=world.header(),
        id_method=b.VendIDMethod(
            meter_identifier=ext.ProductIdentifier(product_code=VOUCHER_PRODUCT)
        ),
    )
    return world.call(request)


def _voucher_state(world: World, pin_serial_of: str) -> str:
    return world.database.run_txn(
        "voucher_state",
        lambda txn: txn.execute(
            select(vouchers.c.state).where(vouchers.c.serial_no == pin_serial_of)
        ).scalar_one(),
    )


def _serial(body: bytes, world: World) -> str:
    from xmlvend.codec import parse_response

    return parse_response(body).credit_vend_receipt.transactions.tx[0].voucher.serial_no


# --- refusals ------------------------------------------------------------------------------------


def test_a_confirmed_voucher_is_not_reversed(world: World) -> None:
    sale, body, pin = _sell(world)
    _confirm(world, sale)
    balance = world.balance()
    parsed = _reverse(world, sale)
    assert parsed.tx_reversed is False
    assert "was confirmed" in parsed.header.operator_msg
    assert world.balance() == balance
    assert _voucher_state(world, _serial(body, world)) == "sold"
    # The buyer keeps the PIN: the original answer still replays with it.
    assert world.call(sale).body == body and pin.encode() in body


def test_a_reprinted_voucher_is_not_reversed(world: World) -> None:
    sale, body, pin = _sell(world)
    reprinted = _reprint_vouchers(world)
    assert reprinted.status == 200 and pin.encode() in reprinted.body
    balance = world.balance()
    parsed = _reverse(world, sale)
    assert parsed.tx_reversed is False
    assert "reprinted" in parsed.header.operator_msg
    assert world.balance() == balance
    assert _voucher_state(world, _serial(body, world)) == "sold"


def test_a_voucher_past_the_window_is_not_reversed(world: World) -> None:
    sale, body, _pin = _sell(world)
    world.clock.advance(world.config.sales.reversal_window_seconds + 1)
    balance = world.balance()
    parsed = _reverse(world, sale)
    assert parsed.tx_reversed is False
    assert "reversal window" in parsed.header.operator_msg
    assert world.balance() == balance
    assert _voucher_state(world, _serial(body, world)) == "sold"


def test_the_window_is_configurable(
    database: Database, keyring: Any, secrets_sentinel: Any
) -> None:
    config = dataclasses.replace(make_config(), sales=SalesConfig(reversal_window_seconds=30))
    world = build_world(database, keyring, secrets_sentinel, config=config)
    inside, _, _ = _sell(world)
    world.clock.advance(29)
    assert _reverse(world, inside).tx_reversed is True
    outside, _, _ = _sell(world)
    world.clock.advance(31)
    parsed = _reverse(world, outside)
    assert parsed.tx_reversed is False and "0.5 min" in parsed.header.operator_msg


# --- a reversed sale serves no value --------------------------------------------------------------


def test_a_reversed_voucher_serves_its_pin_nowhere(world: World) -> None:
    before = world.balance()
    sale, body, pin = _sell(world)
    serial = _serial(body, world)
    assert _reverse(world, sale).tx_reversed is True
    assert world.balance() == before

    # The original request again: a fault under the original header, without the PIN.
    replay = world.call(sale)
    assert replay.status == 500 and replay.fault_class() == "BusinessRuleEx"
    assert pin.encode() not in replay.body and serial.encode() not in replay.body
    fault = replay.parsed()
    assert isinstance(fault, SoapFault)
    assert "reversed" in fault.desc
    assert fault.detail.header.req_msg_id == sale.header.msg_id
    assert world.call(sale).body == replay.body  # every later retry: the same bytes

    # Its last-response advice embeds that fault, not the sale.
    last = world.call(advice(b.LastRespAdviceReq, world.header(), sale.header.msg_id))
    assert last.status == 200 and pin.encode() not in last.body
    assert b"BusinessRuleEx" in last.body

    # A reprint leaves it out (here: nothing else to reprint).
    reprinted = _reprint_vouchers(world)
    assert reprinted.fault_class() == "ReprintEx" and pin.encode() not in reprinted.body

    # The statement shows the sale and its refund, never a PIN.
    statement = world.call(r.VendorStatementReq(header=world.header()))
    assert statement.status == 200 and pin.encode() not in statement.body
    assert b"Reversal of sale" in statement.body

    # The PIN stays quarantined: never sold again.
    assert _voucher_state(world, serial) == "quarantined"


def test_a_reversal_of_a_voucher_reprinted_among_others_keeps_it_out_of_reprints(
    world: World,
) -> None:
    kept, kept_body, kept_pin = _sell(world)
    gone, _gone_body, gone_pin = _sell(world)
    assert _reverse(world, gone).tx_reversed is True
    reprinted = _reprint_vouchers(world)
    assert reprinted.status == 200
    assert kept_pin.encode() in reprinted.body and gone_pin.encode() not in reprinted.body
    assert world.call(kept).body == kept_body


def _refundable_electricity(world: World) -> None:
    world.database.run_txn(
        "policy",
        lambda txn: txn.execute(
            update(products)
            .where(products.c.code == world.config.utilities.product_code)
            .values(reversal_policy="refund")
        ),
    )


def test_a_reversed_electricity_sale_serves_its_token_nowhere(world: World) -> None:
    _refundable_electricity(world)
    before = world.balance()
    sale = credit_vend(world.header(), NORMAL_METER)
    response = world.call(sale)
    token = response.parsed().credit_vend_receipt.transactions.tx[0].credit_token_issue.token
    digits = token.sts_cipher.encode()
    assert digits in response.body
    assert _reverse(world, sale).tx_reversed is True
    assert world.balance() == before
    replay = world.call(sale)
    assert replay.fault_class() == "BusinessRuleEx" and digits not in replay.body
    last = world.call(advice(b.LastRespAdviceReq, world.header(), sale.header.msg_id))
    assert digits not in last.body
    reprinted = world.call(r.ReprintReq(header=world.header(), id_method=sale.id_method))
    assert digits not in reprinted.body


def test_electricity_past_the_window_is_not_reversed(world: World) -> None:
    _refundable_electricity(world)
    sale = credit_vend(world.header(), NORMAL_METER)
    body = world.call(sale).body
    world.clock.advance(world.config.sales.reversal_window_seconds + 1)
    balance = world.balance()
    parsed = _reverse(world, sale)
    assert parsed.tx_reversed is False and "reversal window" in parsed.header.operator_msg
    assert world.balance() == balance
    assert world.call(sale).body == body


# --- property -------------------------------------------------------------------------------------

_ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(["confirm", "reverse", "replay", "reprint", "last_response", "wait"]),
        st.integers(0, 2),
    ),
    min_size=1,
    max_size=10,
)


@pytest.fixture
def stocked_world(
    sqlite_template: Path, tmp_path: Path, keyring: Any, secrets_sentinel: Any
) -> Iterator[World]:
    """A world on SQLite with enough PINs for every example of the property test."""
    path = tmp_path / "stocked.db"
    shutil.copyfile(sqlite_template, path)
    database = Database(f"sqlite:///{path}", pool_size=4)
    try:
        yield build_world(database, keyring, secrets_sentinel, vouchers=40)
    finally:
        database.close()


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(actions=_ACTIONS)
def test_no_pin_is_both_refunded_and_delivered(stocked_world: World, actions: list) -> None:
    """However confirmations, reversals, replays and reprints of three voucher sales
    interleave: a sale is refunded only if its PIN was never delivered (confirmed,
    reprinted) before, no answer after its refund carries its PIN, and the vendor's
    balance is the opening balance less what the sales it keeps cost it."""
    world = stocked_world
    opening = world.balance()
    sales: list[tuple[Any, bytes, str]] = []
    costs: list[Any] = []
    for _ in range(3):
        before = world.balance()
        sales.append(_sell(world))
        costs.append(before.to_decimal() - world.balance().to_decimal())
    delivered: set[int] = set()
    refunded: set[int] = set()
    answers_after_refund: dict[int, list[bytes]] = {i: [] for i in range(len(sales))}

    def record(body: bytes) -> None:
        for i in refunded:
            answers_after_refund[i].append(body)

    for action, index in actions:
        sale, _body, _pin = sales[index]
        if action == "confirm":
            response = world.call(
                b.ConfirmationAdviceReq(header=world.header(), advice_req_msg_id=sale.header.msg_id)
            )
            if response.parsed().tx_confirmed and index not in refunded:
                delivered.add(index)
            record(response.body)
        elif action == "reverse":
            parsed = _reverse(world, sale)
            if parsed.tx_reversed:
                assert index not in delivered, "a delivered PIN was refunded"
                refunded.add(index)
        elif action == "replay":
            record(world.call(sale).body)
        elif action == "reprint":
            response = _reprint_vouchers(world)
            for i, (_s, _b, other_pin) in enumerate(sales):
                if other_pin.encode() in response.body:
                    assert i not in refunded, "a refunded PIN was reprinted"
                    delivered.add(i)
            record(response.body)
        elif action == "last_response":
            response = world.call(advice(b.LastRespAdviceReq, world.header(), sale.header.msg_id))
            record(response.body)
        else:
            world.clock.advance(world.config.sales.reversal_window_seconds / 2)
    for i in refunded:
        assert i not in delivered
        pin = sales[i][2].encode()
        assert all(pin not in body for body in answers_after_refund[i])
        assert pin not in world.call(sales[i][0]).body
    kept = sum(cost for i, cost in enumerate(costs) if i not in refunded)
    assert opening.to_decimal() - world.balance().to_decimal() == kept
