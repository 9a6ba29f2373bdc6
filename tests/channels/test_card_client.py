"""The switch client matches answers to requests: a duplicate of an answer it has matched is
dropped, an answer to a request it gave up on goes to ``on_unmatched`` (the checkout
reverses a late approval). Before, a duplicate was taken for a late answer, and the payment
it approved -- being completed at that moment -- could be reversed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from twisted.internet.defer import ensureDeferred
from twisted.internet.task import Clock

from cardpay import iso
from cardpay.client import SwitchClient
from vending.services.card_checkout import SwitchNoAnswer

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


class _Link:
    transport = object()

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def sendString(self, data: bytes) -> None:
        self.sent.append(data)


def _client(clock: Clock, unmatched: list[dict[str, str]]) -> SwitchClient:
    client = SwitchClient(
        clock,
        "127.0.0.1",
        1,
        terminal_id="T0000001",
        merchant_id="M00000000000001",
        acquirer_id="123456",
        timeout=5.0,
        on_unmatched=unmatched.append,
        clock=lambda: NOW,
    )
    client._protocol = _Link()  # type: ignore[assignment]  # connected, without a socket
    return client


def _answer(request: dict[str, str]) -> dict[str, str]:
    return {"t": iso.response_mti(request["t"]), "11": request["11"], "7": request["7"], "39": "00"}


def test_a_duplicated_answer_is_dropped() -> None:
    clock, unmatched = Clock(), []
    client = _client(clock, unmatched)
    request = iso.network(client.new_trace(NOW).stan, iso.ECHO, NOW)
    exchange = ensureDeferred(client._exchange(request))
    client._received(_answer(request))
    client._received(_answer(request))  # the switch sent it twice
    assert exchange.result["39"] == "00"
    assert unmatched == []


def test_an_answer_after_the_timeout_is_unmatched() -> None:
    clock, unmatched = Clock(), []
    client = _client(clock, unmatched)
    request = iso.network(client.new_trace(NOW).stan, iso.ECHO, NOW)
    exchange = ensureDeferred(client._exchange(request))
    failures: list[Any] = []
    exchange.addErrback(failures.append)
    clock.advance(5.0)
    assert failures and failures[0].check(SwitchNoAnswer)
    client._received(_answer(request))  # late
    assert unmatched == [_answer(request)]
