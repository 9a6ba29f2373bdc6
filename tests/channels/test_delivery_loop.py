"""The one outbox-delivery loop (vending.services.delivery_loop) that the SMS deliverer and
the webhook deliverer share: on task.Clock, a round at start, at once when kicked, another
right after a round that was kicked while running, else every poll; a failing round is
logged and the loop goes on; stop waits for the running round."""

from __future__ import annotations

import logging

import pytest
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.task import Clock

from vending.services.delivery_loop import DeliveryLoop


class Outbox:
    def __init__(self) -> None:
        self.rounds = 0
        self.gate: Deferred | None = None
        self.fail = False

    async def drain(self) -> int:
        self.rounds += 1
        if self.gate is not None:
            await self.gate
        if self.fail:
            raise RuntimeError("database away")
        return 0


def _loop(outbox: Outbox, reactor: Clock) -> DeliveryLoop:
    return DeliveryLoop("test", outbox.drain, reactor, ensureDeferred, poll_seconds=5.0)


def test_polls_and_runs_at_once_when_kicked() -> None:
    reactor, outbox = Clock(), Outbox()
    loop = _loop(outbox, reactor)
    loop.start()
    reactor.advance(0)
    assert outbox.rounds == 1
    reactor.advance(4.9)
    assert outbox.rounds == 1
    loop.kick()
    reactor.advance(0)
    assert outbox.rounds == 2  # woken: no wait for the poll
    reactor.advance(5)
    assert outbox.rounds == 3  # the poll, counted from the last round
    loop.stop()
    reactor.advance(60)
    loop.kick()
    reactor.advance(0)
    assert outbox.rounds == 3 and not reactor.getDelayedCalls()


def test_a_kick_during_a_round_runs_another_right_after() -> None:
    reactor, outbox = Clock(), Outbox()
    loop = _loop(outbox, reactor)
    outbox.gate = Deferred()
    loop.start()
    reactor.advance(0)
    loop.kick()
    loop.kick()
    assert outbox.rounds == 1
    gate, outbox.gate = outbox.gate, None
    gate.callback(None)
    reactor.advance(0)
    assert outbox.rounds == 2  # one more round for both kicks, not one each
    reactor.advance(0)
    assert outbox.rounds == 2
    loop.stop()


def test_a_failing_round_is_logged_and_the_loop_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    reactor, outbox = Clock(), Outbox()
    loop = _loop(outbox, reactor)
    outbox.fail = True
    with caplog.at_level(logging.ERROR, "evd.delivery"):
        loop.start()
        reactor.advance(0)
    assert "test delivery round failed" in caplog.text
    outbox.fail = False
    reactor.advance(5)
    assert outbox.rounds == 2
    loop.stop()


def test_stop_hands_back_the_running_round() -> None:
    reactor, outbox = Clock(), Outbox()
    loop = _loop(outbox, reactor)
    outbox.gate = Deferred()
    loop.start()
    reactor.advance(0)
    running = loop.stop()
    assert isinstance(running, Deferred) and not running.called
    outbox.gate.callback(None)
    assert running.called
    assert loop.stop() is None and not reactor.getDelayedCalls()
