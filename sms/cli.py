"""``evd sms``: register a merchant's phone for SMS/USSD selling, type an MO as Kannel
would deliver it and see the reply, and look at the MT outbox."""

from __future__ import annotations

import argparse
import getpass
import sys
import uuid
from typing import Any
from urllib.parse import urlencode

from vending.cli.groups import Subparsers, command_group


def register(subparsers: Subparsers) -> None:
    group = command_group(subparsers, "sms", "the SMS and USSD channels (docs/SMS.md)")
    reg = group.add_parser(
        "register",
        help="let a phone number sell by SMS/USSD as a vendor's operator, with an SMS PIN",
    )
    reg.add_argument("msisdn", help="the merchant's number, E.164 (27821234567)")
    reg.add_argument("--vendor", required=True, metavar="CLIENT_ID")
    reg.add_argument("--operator", required=True, metavar="NAME")
    reg.add_argument("--pin-stdin", action="store_true", help="read the PIN from stdin")
    reg.set_defaults(handler=_register)

    send = group.add_parser(
        "send",
        help='type an SMS: deliver "TEXT" from FROM to the server\'s /sms/mo, print the reply',
    )
    send.add_argument("sender", metavar="FROM")
    send.add_argument("text", metavar="TEXT")
    send.add_argument("--url", help="the server (default: this config's host and port)")
    send.add_argument("--id", help="the gateway message id (default: a new one)")
    send.set_defaults(handler=_send)

    outbox = group.add_parser("outbox", help="MTs by delivery state")
    outbox.set_defaults(handler=_outbox)


def _register(context: Any, args: argparse.Namespace) -> int:
    from vending import sms_merchants

    if args.pin_stdin:
        pin = sys.stdin.readline().strip()
    else:
        pin = getpass.getpass("SMS PIN (4-6 digits): ")
        if getpass.getpass("Again: ") != pin:
            print("The PINs differ.", file=sys.stderr)
            return 1
    msisdn = sms_merchants.normalize_msisdn(args.msisdn)
    pin_hash = sms_merchants.hash_pin(pin, log_n=context.config.security.scrypt_log_n)
    context.run(
        "sms_register",
        sms_merchants.register,
        msisdn=msisdn,
        vendor_client_id=args.vendor,
        operator_name=args.operator,
        pin_hash=pin_hash,
        now=context.clock(),
    )
    print(f"{msisdn} sells by SMS/USSD as {args.operator} of {args.vendor}.")
    return 0


def _send(context: Any, args: argparse.Namespace) -> int:
    from urllib.request import urlopen

    config = context.config
    base = args.url or f"http://{config.server.host}:{config.server.port}"
    query = {"from": args.sender, "to": config.sms.short_code, "text": args.text}
    query["id"] = args.id or f"cli-{uuid.uuid4()}"
    if config.sms.gateway_token:
        query["g"] = config.sms.gateway_token
    with urlopen(f"{base.rstrip('/')}/sms/mo?{urlencode(query)}", timeout=30) as answer:
        print(answer.read().decode("utf-8"))
    return 0


def _outbox(context: Any, args: argparse.Namespace) -> int:
    from vending import sms_outbox

    counts = context.run("sms_counts", sms_outbox.count_by_state)
    for state in sorted(counts):
        print(f"{state:10} {counts[state]}")
    return 0
