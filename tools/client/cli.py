"""``evd client``: send one XMLVend request and show the answer, for support staff and
integrators.

    evd client confirm --url URL --meter 04100000019
    evd client vend    --url URL --meter 04100000019 --amount 50.00 [--tender 100.00]
    evd client vend    --url URL --product AIR-DEMO-10 --amount 10.00      # a voucher
    evd client trial   --url URL --meter 04100000019 --amount 50.00
    evd client reprint --url URL --meter 04100000019
    evd client advice last|reversal|confirmation DATETIME:UNIQUE --url URL
    evd client statement --url URL

Credentials default to our demo vendor (as ``evd conformance``); ``--msg-id`` sets the
request's own msgID (to resend a request exactly), ``--raw`` prints the XML as received.
Exit status: 0 for a normal response, 1 for a fault, 2 when there was no usable answer.
"""

from __future__ import annotations

import argparse
from decimal import Decimal, InvalidOperation

from tools.client.readable import render_reply
from tools.conformance import builders
from tools.conformance.cli import add_client_options, client_from, tls_from
from tools.conformance.reply import UnreadableReply, read_reply
from tools.conformance.session import MsgIdSource
from tools.conformance.transport import HttpClient, TransportError
from vending.cli.context import CommandError, Context
from vending.cli.groups import Subparsers
from xmlvend.codec import render_request
from xmlvend.codec.types_base import BaseReq, MsgID, RequestHeader

ADVICES = ("last", "reversal", "confirmation")


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "client",
        help="send one XMLVend request and print the answer readably",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="client_command", metavar="REQUEST", required=True)
    for name, help_text in (
        ("confirm", "confirmCustomerReq for a meter"),
        ("vend", "creditVendReq for a meter or a product"),
        ("trial", "trialCreditVendReq for a meter or a product"),
        ("reprint", "reprintReq for a meter"),
        ("statement", "vendorStatementReq"),
        ("advice", "adviceReq about an earlier request"),
    ):
        action = actions.add_parser(name, help=help_text, description=help_text)
        if name == "advice":
            action.add_argument("kind", choices=ADVICES)
            action.add_argument("original", metavar="DATETIME:UNIQUE", help="the advised msgID")
        if name in ("confirm", "vend", "trial", "reprint"):
            target = action.add_mutually_exclusive_group(required=name != "vend")
            target.add_argument("--meter", metavar="MSNO")
            if name in ("vend", "trial"):
                target.add_argument("--product", metavar="CODE", help="a voucher product")
        if name in ("vend", "trial"):
            action.add_argument("--amount", required=True, help="e.g. 50.00")
            action.add_argument("--tender", help="cash handed over (change is given back)")
            action.add_argument("--currency", default="ZAR")
        action.add_argument("--url", required=True, help="the server's XMLVend endpoint")
        add_client_options(action)
        action.add_argument("--msg-id", metavar="DATETIME:UNIQUE", help="this request's msgID")
        action.add_argument("--timeout", type=float, default=30.0, help="seconds (default 30)")
        action.add_argument("--raw", action="store_true", help="print the XML as received")
        action.set_defaults(handler=_client)


def parse_msg_id(text: str) -> MsgID:
    date_time, sep, unique = text.partition(":")
    if not sep or not date_time.isdigit() or not unique.isdigit():
        raise CommandError(f"a msgID is DATETIME:UNIQUE (digits), got {text!r}", exit_code=2)
    return MsgID(date_time=date_time, unique_number=unique)


def _money(text: str | None, what: str) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        raise CommandError(f"{what} {text!r} is not an amount", exit_code=2) from None


def build_request(args: argparse.Namespace, header: RequestHeader) -> BaseReq:
    command = args.client_command
    if command == "advice":
        original = parse_msg_id(args.original)
        build = {
            "last": builders.last_response,
            "reversal": builders.reversal,
            "confirmation": builders.confirmation,
        }[args.kind]
        return build(header, original)
    if command == "statement":
        return builders.vendor_statement(header)
    if command == "confirm":
        return builders.confirm_customer(header, args.meter)
    if command == "reprint":
        return builders.reprint(header, args.meter)
    amount = _money(args.amount, "--amount")
    tender = _money(args.tender, "--tender")
    assert amount is not None
    if getattr(args, "product", None):
        return builders.voucher_vend(
            header, args.product, amount, args.currency, trial=command == "trial"
        )
    if not args.meter:
        raise CommandError("vend: give --meter MSNO or --product CODE", exit_code=2)
    return builders.credit_vend(
        header, args.meter, amount, args.currency, tender=tender, trial=command == "trial"
    )


def _client(context: Context, args: argparse.Namespace) -> int:
    credentials = client_from(args)
    msg_id = parse_msg_id(args.msg_id) if args.msg_id else MsgIdSource().next()
    header = builders.request_header(credentials, msg_id)
    request = build_request(args, header)
    try:
        http = HttpClient(args.url, args.timeout, tls_from(args))
    except (ValueError, OSError) as exc:
        raise CommandError(str(exc), exit_code=2) from None
    print(f"{request.operation} msgID {msg_id.date_time}:{msg_id.unique_number} -> {args.url}")
    try:
        result = http.post(render_request(request))
    except TransportError as exc:
        print(f"no answer: {exc}")
        print(
            "The server may have processed it: ask with "
            f"`evd client advice last {msg_id.date_time}:{msg_id.unique_number} --url ...`"
        )
        return 2
    if args.raw:
        print(result.body.decode("utf-8", "replace"))
        try:
            return 1 if read_reply(result).is_fault else 0
        except UnreadableReply:
            return 2
    try:
        reply = read_reply(result)
    except UnreadableReply as exc:
        print(f"unreadable answer: {exc}")
        print(result.body.decode("utf-8", "replace")[:2000])
        return 2
    print(render_reply(reply))
    return 1 if reply.is_fault else 0
