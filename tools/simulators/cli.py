"""``evd simulate-provider KIND --port P``: run a provider simulator in the foreground."""

from __future__ import annotations

import argparse
import os
import sys

from vending.cli.context import CommandError, Context
from vending.cli.groups import Subparsers


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "simulate-provider",
        help="run a simulated recharge aggregator, BBPS network, money transfer bank, AEPS "
        "sponsor bank, insurer or bus travel partner",
        description="A provider simulator on a loopback port (see docs/CATALOGUE.md): "
        "outcomes by the target's last digit, latency, outages (POST /_control/outage?on=1), "
        "pending orders completed with POST /_control/complete?order_id=..&status=SUCCESS.",
    )
    parser.add_argument("kind", choices=("recharge", "bbps", "dmt", "aeps", "insurance", "travel"))
    parser.add_argument("--port", type=int, required=True, help="0: any free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="every answer this late")
    parser.add_argument("--hang", type=float, default=30.0, help="seconds hung answers wait")
    parser.add_argument(
        "--callback-url", help="where callbacks are sent (recharge, insurance, travel)"
    )
    parser.add_argument(
        "--secret-env",
        metavar="VAR",
        help="environment variable holding the shared HMAC secret (never on the command line)",
    )
    parser.set_defaults(handler=_simulate)


def _simulate(context: Context, args: argparse.Namespace) -> int:
    from twisted.internet import reactor
    from twisted.web.server import Site

    from tools.simulators.bbps import BbpsSimulator
    from tools.simulators.common import SimSettings
    from tools.simulators.recharge import RechargeSimulator

    settings = SimSettings(latency=args.latency_ms / 1000.0, hang=args.hang)
    secret = None
    if args.secret_env:
        value = os.environ.get(args.secret_env)
        if not value:
            raise CommandError(f"${args.secret_env} is empty")
        secret = value.encode()
    if args.kind == "recharge":
        resource = RechargeSimulator(
            reactor, settings, secret=secret, callback_url=args.callback_url
        )
    elif args.kind == "aeps":
        from tools.simulators.aeps import AepsSimulator

        resource = AepsSimulator(reactor, settings)
    elif args.kind in ("dmt", "insurance", "travel"):
        from tools.simulators.dmt import DmtSimulator
        from tools.simulators.insurance import InsuranceSimulator
        from tools.simulators.travel import TravelSimulator

        kind = {"dmt": DmtSimulator, "insurance": InsuranceSimulator, "travel": TravelSimulator}
        resource = kind[args.kind](reactor, settings, secret=secret, callback_url=args.callback_url)
    else:
        resource = BbpsSimulator(reactor, settings)
    site = Site(resource)
    site.noisy = False
    port = reactor.listenTCP(args.port, site, interface=args.host)  # type: ignore[attr-defined]
    print(f"{args.kind} provider simulator on http://{args.host}:{port.getHost().port}", flush=True)
    sys.stdout.flush()
    reactor.run()  # type: ignore[attr-defined]
    return 0
