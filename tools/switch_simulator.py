"""An acquirer host simulator speaking ISO 8583 (``pyiso8583``, 2-byte length prefix) over
TCP, for tests, benchmarks and a newcomer's machine: ``evd simulate-switch --port P``.

What it answers is chosen by the amount's last three minor-unit digits (docs/CARDS.md):

    ...005  0210 with 39=05 (do not honour)      ...051  0210 with 39=51 (insufficient funds)
    ...091  no 0210 (timeout); the first 0420 is ignored too, so the client must repeat 0421
    ...092  the 0210 comes ``--late-seconds`` late   ...093  the 0210 is sent twice
    ...094  the connection is dropped on the 0200    anything else: 0210 with 39=00

0800 gets 0810 (sign-on 001, echo 301); 0420/0421 get 0430. ``--latency-ms`` delays every
answer. ``--settlement-file`` is rewritten (CSV ``rrn,amount_minor,status``) whenever a
transaction settles or is reversed: the switch's settlement report.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
from pathlib import Path
from typing import Any

from twisted.internet import protocol
from twisted.protocols.basic import Int16StringReceiver

from cardpay import iso

log = logging.getLogger("tools.switch")


class SwitchState:
    def __init__(self, latency: float, late: float, settlement: Path | None) -> None:
        self.latency = latency
        self.late = late
        self.settlement = settlement
        # rrn -> [amount, status]; (stan, de7) -> the 0210 sent
        self.ledger: dict[str, list[Any]] = {}
        self.answers: dict[tuple[str, str], dict[str, str]] = {}
        self.ignored_reversals: set[str] = set()
        self.received = 0

    def write_settlement(self) -> None:
        if self.settlement is None:
            return
        lines = ["rrn,amount_minor,status"]
        lines += [f"{rrn},{amount},{status}" for rrn, (amount, status) in self.ledger.items()]
        tmp = self.settlement.with_suffix(".tmp")
        tmp.write_text("\n".join(lines) + "\n")
        tmp.replace(self.settlement)


class SwitchProtocol(Int16StringReceiver):
    MAX_LENGTH = 4096

    def __init__(self, state: SwitchState, reactor: Any) -> None:
        self.state = state
        self.reactor = reactor

    def stringReceived(self, data: bytes) -> None:
        self.state.received += 1
        try:
            doc = iso.decode(data)
        except Exception as exc:
            log.warning("undecodable message: %s", exc.__class__.__name__)
            return
        mti = doc.get("t", "")
        if mti == "0800":
            self._answer({**_echo_fields(doc), "t": "0810", "39": "00"})
        elif mti == "0200":
            self._purchase(doc)
        elif mti in ("0420", "0421"):
            self._reversal(doc)

    def _send(self, doc: dict[str, str]) -> None:
        if self.transport is not None and self.connected:
            self.sendString(iso.encode(doc))

    def _answer(self, doc: dict[str, str], delay: float = 0.0) -> None:
        total = self.state.latency + delay
        if total > 0:
            self.reactor.callLater(total, self._send, doc)
        else:
            self._send(doc)

    def _purchase(self, doc: dict[str, str]) -> None:
        key = (doc["11"], doc["7"])
        previous = self.state.answers.get(key)
        if previous is not None:  # a retried 0200: the same answer
            self._answer(previous)
            return
        behaviour = int(doc["4"]) % 1000
        if behaviour == 94:
            self.transport.loseConnection()
            return
        code = {5: "05", 51: "51"}.get(behaviour, "00")
        answer = {**_echo_fields(doc), "t": "0210", "39": code}
        if code == "00":
            answer["38"] = f"{random.randrange(10**6):06d}"
            self.state.ledger[doc["37"]] = [int(doc["4"]), "approved"]
            self.state.write_settlement()
        self.state.answers[key] = answer
        if behaviour == 91:
            return  # never answered: the client times out and reverses
        if behaviour == 92:
            self._answer(answer, delay=self.state.late)
            return
        self._answer(answer)
        if behaviour == 93:
            self._answer(answer)

    def _reversal(self, doc: dict[str, str]) -> None:
        rrn = doc.get("37", "")
        original = self.state.ledger.get(rrn)
        if (
            original is not None
            and original[0] % 1000 == 91
            and doc["t"] == "0420"
            and rrn not in self.state.ignored_reversals
        ):
            self.state.ignored_reversals.add(rrn)
            return  # the first 0420 is lost: the client must repeat as 0421
        if original is not None and original[1] != "reversed":
            original[1] = "reversed"
            self.state.write_settlement()
        self._answer({**_echo_fields(doc), "t": "0430", "39": "00"})


def _echo_fields(doc: dict[str, str]) -> dict[str, str]:
    """What an answer repeats of its request (never DE 2)."""
    return {
        k: doc[k] for k in ("3", "4", "7", "11", "32", "37", "41", "42", "49", "70") if k in doc
    }


class SwitchFactory(protocol.ServerFactory):
    def __init__(self, state: SwitchState, reactor: Any) -> None:
        self.state = state
        self.reactor = reactor

    def buildProtocol(self, addr: Any) -> SwitchProtocol:
        return SwitchProtocol(self.state, self.reactor)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "simulate-switch",
        help="run an ISO 8583 acquirer host simulator (docs/CARDS.md)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=int, default=8583, help="TCP port (0: any free one)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay of every answer")
    parser.add_argument("--late-seconds", type=float, default=3.0, help="the late answer's delay")
    parser.add_argument("--settlement-file", help="CSV settlement report, kept current")
    parser.set_defaults(handler=_serve)


def _serve(context: Any, args: argparse.Namespace) -> int:
    from twisted.internet import reactor

    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    state = SwitchState(
        args.latency_ms / 1000.0,
        args.late_seconds,
        Path(args.settlement_file) if args.settlement_file else None,
    )
    state.write_settlement()
    port = reactor.listenTCP(args.port, SwitchFactory(state, reactor), interface=args.host)  # type: ignore[attr-defined]
    print(f"switch simulator listening on {args.host}:{port.getHost().port}", flush=True)
    reactor.run()  # type: ignore[attr-defined]
    return 0


__all__ = ["SwitchFactory", "SwitchProtocol", "SwitchState", "register"]
