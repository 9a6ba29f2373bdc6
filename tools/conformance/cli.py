"""``evd conformance``: run the XMLVend 2.1 conformance kit against a server.

    evd conformance http://127.0.0.1:8080/xmlvend               # our `make run`, no options
    evd conformance https://vend.example/xmlvend --client-id 6001234000017 \\
        --op-name pos1 --password s3cret --cert client.pem --key client.key --ca ca.pem \\
        --meter normal=01234567890 --meter blocked=... --only CV-001,fault --junit report.xml
    evd conformance --list                                        # the catalogue (Markdown)

Exit status: 0 when no selected case failed (skips allowed), 1 when one did, 2 on usage
errors.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from pathlib import Path

from tools.conformance import catalogue, report
from tools.conformance.profile import (
    DEMO_LOW_CREDIT,
    DEMO_OTHER,
    DEMO_PRIMARY,
    METER_ROLES,
    Credentials,
    Profile,
    parse_bill,
    parse_key_data,
    parse_meter_overrides,
    parse_voucher,
)
from tools.conformance.runner import CaseResult, run
from tools.conformance.transport import TLSFiles
from vending.cli.context import CommandError, Context
from vending.cli.groups import Subparsers


def register(subparsers: Subparsers) -> None:
    roles = ", ".join(f"{r.name} ({r.default})" for r in METER_ROLES)
    parser = subparsers.add_parser(
        "conformance",
        help="run the XMLVend 2.1 conformance kit against a server",
        description="Run the XMLVend 2.1 conformance catalogue against URL and print one\n"
        "line per case. Without credentials it uses our demo data (make run).\n"
        "See docs/CONFORMANCE.md.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"meter roles and our demo defaults: {roles}",
    )
    parser.add_argument("url", nargs="?", help="the server's XMLVend endpoint")
    add_client_options(parser)
    other = parser.add_argument_group("second client (isolation cases; default: demo platform)")
    other.add_argument("--other-client-id", metavar="EAN", help='"none" skips those cases')
    other.add_argument("--other-terminal-id", metavar="ID", default="1")
    other.add_argument("--other-op-name", metavar="NAME")
    other.add_argument("--other-password", metavar="PASSWORD")
    other.add_argument("--other-cert", metavar="PEM", help="its client certificate (TLS)")
    other.add_argument("--other-key", metavar="PEM", help="its private key")
    low = parser.add_argument_group(
        "low-credit client (the VendorCreditEx case; default: demo Low Credit Kiosk)"
    )
    low.add_argument("--low-credit-client-id", metavar="EAN", help='"none": primary only')
    low.add_argument("--low-credit-op-name", metavar="NAME")
    low.add_argument("--low-credit-password", metavar="PASSWORD")
    kit = parser.add_argument_group("the run")
    kit.add_argument(
        "--meter",
        action="append",
        default=[],
        metavar="ROLE=MSNO",
        help="test meter for a role (repeatable; empty MSNO switches the role off)",
    )
    kit.add_argument(
        "--key-change-from",
        metavar="SGC:KRN:TI",
        help="key data the key_change meter holds (default: our demo 123456:1:01)",
    )
    kit.add_argument(
        "--voucher",
        metavar="CODE=AMOUNT",
        help="voucher product of our extension namespace and its face value "
        '(default AIR-DEMO-10=10.00; "none" skips the extension cases)',
    )
    kit.add_argument(
        "--bill",
        metavar="BILLERID:PARAMETER=VALUE",
        help="a biller and customer the server's bill payment network answers for "
        "(extension namespace; without it the bill fetch-and-pay case is skipped)",
    )
    kit.add_argument("--currency", default="ZAR", help="ISO 4217 code of the amounts")
    kit.add_argument("--amount", default="10.00", help="amount of each test sale")
    kit.add_argument(
        "--timeout", type=float, default=9.0, help="seconds per HTTP request (default 9)"
    )
    kit.add_argument(
        "--only", action="append", metavar="ID,...", help="case ids or categories to run"
    )
    kit.add_argument("--junit", metavar="FILE", help="write a JUnit XML report")
    kit.add_argument("--wire", action="store_true", help="print the wire log of failed cases")
    kit.add_argument("--list", action="store_true", help="print the catalogue and exit")
    parser.set_defaults(handler=_conformance)


def add_client_options(parser: argparse.ArgumentParser) -> None:
    """--client-id/--terminal-id/--op-name/--password and --cert/--key/--ca (shared with
    ``evd client``)."""
    client = parser.add_argument_group("who we are (default: demo vendor 6004708000090)")
    client.add_argument("--client-id", metavar="EAN")
    client.add_argument("--terminal-id", metavar="ID")
    client.add_argument("--op-name", metavar="NAME")
    client.add_argument(
        "--password", metavar="PASSWORD", help="operator password (test systems only)"
    )
    tls = parser.add_argument_group("TLS")
    tls.add_argument("--cert", metavar="PEM", help="client certificate")
    tls.add_argument("--key", metavar="PEM", help="its private key")
    tls.add_argument("--ca", metavar="PEM", help="CA bundle to trust for the server")


def client_from(args: argparse.Namespace) -> Credentials:
    """The demo vendor, unless --client-id names another client (then only what is given)."""
    if args.client_id is None:
        base = DEMO_PRIMARY
    else:
        base = Credentials(args.client_id, "1", None, None)
    return replace(
        base,
        terminal_id=args.terminal_id or base.terminal_id,
        op_name=args.op_name or base.op_name,
        password=args.password or base.password,
    )


def tls_from(args: argparse.Namespace) -> TLSFiles:
    if args.key and not args.cert:
        raise CommandError("--key needs --cert", exit_code=2)
    return TLSFiles(cert=args.cert, key=args.key, ca=args.ca)


def _other_client(args: argparse.Namespace) -> Credentials | None:
    if args.other_client_id is None:
        # Our demo platform vendor goes with our demo vendor only.
        return DEMO_OTHER if args.client_id is None else None
    if args.other_client_id.lower() == "none":
        return None
    return Credentials(
        args.other_client_id, args.other_terminal_id, args.other_op_name, args.other_password
    )


def _low_credit_client(args: argparse.Namespace) -> Credentials | None:
    if args.low_credit_client_id is None:
        # Our demo low-credit vendor goes with our demo vendor only.
        return DEMO_LOW_CREDIT if args.client_id is None else None
    if args.low_credit_client_id.lower() == "none":
        return None
    return Credentials(
        args.low_credit_client_id, "1", args.low_credit_op_name, args.low_credit_password
    )


def profile_from(args: argparse.Namespace) -> Profile:
    try:
        amount = Decimal(args.amount)
    except InvalidOperation:
        raise CommandError(f"--amount {args.amount!r} is not a number", exit_code=2) from None
    profile = Profile(
        url=args.url,
        client=client_from(args),
        other_client=_other_client(args),
        low_credit_client=_low_credit_client(args),
        currency=args.currency,
        amount=amount,
        tls=tls_from(args),
        other_tls=TLSFiles(cert=args.other_cert, key=args.other_key, ca=args.ca),
        timeout=args.timeout,
    )
    try:
        if args.voucher:
            profile = replace(profile, voucher=parse_voucher(args.voucher))
        if args.bill:
            profile = replace(profile, bill=parse_bill(args.bill))
        if args.key_change_from:
            profile = replace(profile, key_change_from=parse_key_data(args.key_change_from))
        return profile.with_meters(parse_meter_overrides(args.meter))
    except ValueError as exc:
        raise CommandError(str(exc), exit_code=2) from None


def _conformance(context: Context, args: argparse.Namespace) -> int:
    if args.list:
        sys.stdout.write(catalogue.catalogue_markdown())
        return 0
    if not args.url:
        raise CommandError("conformance: give the server's URL (or --list)", exit_code=2)
    profile = profile_from(args)
    only = None if not args.only else [i for item in args.only for i in item.split(",")]
    try:
        cases = catalogue.select(only)
    except ValueError as exc:
        raise CommandError(str(exc), exit_code=2) from None

    print(f"XMLVend 2.1 conformance: {len(cases)} case(s) against {profile.url}")

    def show(result: CaseResult) -> None:
        print(report.case_line(result), flush=True)
        if args.wire and result.status == "FAIL":
            for entry in result.log:
                print(_indent(entry.render()))

    try:
        outcome = run(profile, cases, on_result=show)
    except ValueError as exc:  # e.g. not an http(s) URL
        raise CommandError(str(exc), exit_code=2) from None
    except OSError as exc:  # unreadable certificate files
        raise CommandError(f"TLS files: {exc}", exit_code=2) from None
    print(report.summary(outcome))
    if args.junit:
        Path(args.junit).write_bytes(report.junit_xml(outcome))
        print(f"JUnit report: {args.junit}")
    return 0 if outcome.passed else 1


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())
