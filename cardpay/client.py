"""The acquirer's client: ISO 8583 over TCP with a 2-byte length prefix (Twisted
``Int16StringReceiver``), implementing the services' ``CardSwitch``.

* One connection, reconnected after a drop; 0800 sign-on (DE 70 001) on every connect,
  0800 echo (301) every ``echo_seconds``.
* STAN: 6 digits, cycling, unique per transmission second with DE 7; RRN: YDDDhh + STAN.
* A request waits for the answer with its response MTI and STAN for ``timeout`` seconds:
  none (or the connection drops) -> ``SwitchNoAnswer`` (the caller reverses). Not connected
  when asked -> ``SwitchUnavailable`` (nothing was sent). A second copy of an answer already
  matched (same MTI, STAN and DE 7) is dropped; any other answer nobody waits for (late)
  goes to ``on_unmatched``.
* Messages are never logged whole: ``iso.describe`` leaves out the PAN and expiry.
"""

from __future__ import annotations

import logging
import random
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from twisted.internet import defer
from twisted.internet.protocol import ClientFactory
from twisted.protocols.basic import Int16StringReceiver

from cardpay import iso
from vending.card_payments import CardPayment
from vending.services.card_checkout import SwitchAnswer, SwitchNoAnswer, SwitchUnavailable, Trace

log = logging.getLogger("evd.cards.switch")

# Answers matched to their requests, remembered to recognise a duplicate (an hour of a busy
# terminal's traffic; a duplicate comes within seconds).
ANSWERS_REMEMBERED = 4096


class _SwitchProtocol(Int16StringReceiver):
    MAX_LENGTH = 4096

    def __init__(self, client: SwitchClient) -> None:
        self.client = client

    def connectionMade(self) -> None:
        self.client._connected(self)

    def connectionLost(self, reason: Any = None) -> None:
        self.client._lost(self)

    def stringReceived(self, data: bytes) -> None:
        try:
            doc = iso.decode(data)
        except Exception as exc:
            log.warning("undecodable message from the switch: %s", exc.__class__.__name__)
            return
        self.client._received(doc)


class _Factory(ClientFactory):
    def __init__(self, client: SwitchClient) -> None:
        self.client = client

    def buildProtocol(self, addr: Any) -> _SwitchProtocol:
        return _SwitchProtocol(self.client)

    def clientConnectionFailed(self, connector: Any, reason: Any) -> None:
        self.client._retry_connect()

    def clientConnectionLost(self, connector: Any, reason: Any) -> None:
        self.client._retry_connect()


class SwitchClient:
    def __init__(
        self,
        reactor: Any,
        host: str,
        port: int,
        *,
        terminal_id: str,
        merchant_id: str,
        acquirer_id: str,
        timeout: float = 30.0,
        echo_seconds: float = 60.0,
        reconnect_seconds: float = 1.0,
        on_unmatched: Callable[[dict[str, str]], Any] | None = None,
        clock: Callable[[], datetime],
    ) -> None:
        self._clock = clock
        self._reactor = reactor
        self._host = host
        self._port = port
        self._terminal = terminal_id
        self._merchant = merchant_id
        self._acquirer = acquirer_id
        self._timeout = timeout
        self._echo_seconds = echo_seconds
        self._reconnect = reconnect_seconds
        self.on_unmatched = on_unmatched or (lambda doc: None)
        self._protocol: _SwitchProtocol | None = None
        self._pending: dict[tuple[str, str], defer.Deferred] = {}
        # (MTI, STAN, DE 7) of the last answers matched to their requests: a duplicate of one
        # is not a late answer (taken for one, it had the payment being completed reversed).
        self._answered: OrderedDict[tuple[str, str, str], None] = OrderedDict()
        self._stan = random.randrange(1, 999_999)
        self._stopped = True
        self._echo: Any = None
        self._ready: list[defer.Deferred] = []
        self.signed_on = False

    # --- connection ------------------------------------------------------------------------

    def start(self) -> None:
        self._stopped = False
        self._connect()

    def _connect(self) -> None:
        if not self._stopped:
            self._reactor.connectTCP(self._host, self._port, _Factory(self), timeout=5)

    def _retry_connect(self) -> None:
        if not self._stopped:
            self._reactor.callLater(self._reconnect, self._connect)

    def stop(self) -> None:
        self._stopped = True
        if self._echo is not None and self._echo.active():
            self._echo.cancel()
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.loseConnection()

    def when_connected(self) -> defer.Deferred:
        if self._protocol is not None and self.signed_on:
            return defer.succeed(None)
        waiting: defer.Deferred = defer.Deferred()
        self._ready.append(waiting)
        return waiting

    def _connected(self, protocol: _SwitchProtocol) -> None:
        self._protocol = protocol
        defer.ensureDeferred(self._sign_on())

    async def _sign_on(self) -> None:
        try:
            await self._exchange(iso.network(self._next_stan(), iso.SIGN_ON, self._clock()))
        except (SwitchNoAnswer, SwitchUnavailable):
            log.warning("no answer to sign-on")
            return
        self.signed_on = True
        ready, self._ready = self._ready, []
        for waiting in ready:
            waiting.callback(None)
        self._schedule_echo()

    def _schedule_echo(self) -> None:
        if self._echo_seconds > 0 and not self._stopped:
            self._echo = self._reactor.callLater(self._echo_seconds, self._send_echo)

    def _send_echo(self) -> None:
        exchange = defer.ensureDeferred(
            self._exchange(iso.network(self._next_stan(), iso.ECHO, self._clock()))
        )
        exchange.addErrback(lambda f: log.warning("echo: %s", f.value.__class__.__name__))
        exchange.addBoth(lambda _: self._schedule_echo())

    def _lost(self, protocol: _SwitchProtocol) -> None:
        if self._protocol is protocol:
            self._protocol = None
            self.signed_on = False
        pending, self._pending = self._pending, {}
        for waiting in pending.values():
            if not waiting.called:
                waiting.errback(SwitchNoAnswer("connection to the switch lost"))

    # --- requests ---------------------------------------------------------------------------

    def _next_stan(self) -> str:
        self._stan = self._stan % 999_999 + 1
        return f"{self._stan:06d}"

    def new_trace(self, now: datetime) -> Trace:
        stan = self._next_stan()
        return Trace(stan=stan, rrn=iso.rrn(now, stan), transmitted_at=iso.de7(now))

    async def _exchange(self, doc: dict[str, str]) -> dict[str, str]:
        protocol = self._protocol
        if protocol is None or protocol.transport is None:
            raise SwitchUnavailable("not connected to the switch")
        key = (iso.response_mti(doc["t"]), doc["11"])
        waiting: defer.Deferred = defer.Deferred()
        self._pending[key] = waiting
        waiting.addTimeout(self._timeout, self._reactor)
        protocol.sendString(iso.encode(doc))
        try:
            return await waiting
        except defer.TimeoutError:
            raise SwitchNoAnswer("no answer from the switch in time") from None
        finally:
            if self._pending.get(key) is waiting:
                del self._pending[key]

    def _received(self, doc: dict[str, str]) -> None:
        key = (doc.get("t", ""), doc.get("11", ""))
        answered = (*key, doc.get("7", ""))
        waiting = self._pending.pop(key, None)
        if waiting is not None and not waiting.called:
            self._answered[answered] = None
            if len(self._answered) > ANSWERS_REMEMBERED:
                self._answered.popitem(last=False)
            waiting.callback(doc)
            return
        if answered in self._answered:
            log.warning("duplicate answer from the switch, dropped: %s", iso.describe(doc))
            return
        log.warning("unmatched answer from the switch (late): %s", iso.describe(doc))
        self.on_unmatched(doc)

    async def authorize(
        self, payment: CardPayment, pan: str, expiry: str, now: datetime
    ) -> SwitchAnswer:
        doc = iso.purchase(
            stan=payment.stan,
            rrn_=payment.rrn,
            pan=pan,
            expiry=expiry,
            amount_minor=payment.amount.amount,
            currency=payment.amount.currency,
            transmitted_at=payment.transmitted_at,
            now=now,
            terminal_id=self._terminal,
            merchant_id=self._merchant,
            acquirer_id=self._acquirer,
        )
        answer = await self._exchange(doc)
        return SwitchAnswer(answer.get("39", "96"), answer.get("38"))

    async def reverse(self, payment: CardPayment, *, repeat: bool, now: datetime) -> bool:
        doc = iso.reversal(
            repeat=repeat,
            stan=payment.stan,
            rrn_=payment.rrn,
            amount_minor=payment.amount.amount,
            currency=payment.amount.currency,
            transmitted_at=payment.transmitted_at,
            now=now,
            terminal_id=self._terminal,
            merchant_id=self._merchant,
            acquirer_id=self._acquirer,
        )
        answer = await self._exchange(doc)
        return answer.get("t") == "0430"


__all__ = ["SwitchClient"]
