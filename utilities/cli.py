"""``evd`` commands of the utility side, so a utility can set itself up without SQL:

* ``evd meter add|import|list|show|block|unblock|debt|restrict-sgc``
* ``evd keys import|list|current`` (vending keys per SGC/KRN, encrypted at rest)
* ``evd tariff add|list|assign``
* ``evd fault list|show|close`` (customers' fault reports: :mod:`utilities.faults.cli`)

Key material is never taken from the command line (other users can read the process list):
``--key-file FILE`` or ``--key-stdin``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from utilities.faults import cli as faults_cli
from vending.cli.context import CommandError, Context
from vending.cli.groups import Subparsers, actor, command_group, print_rows
from vending.errors import VendingError
from vending.money import Money


def register(subparsers: Subparsers) -> None:
    _register_meter(subparsers)
    _register_keys(subparsers)
    _register_tariff(subparsers)
    faults_cli.register(subparsers)


# --- meter ------------------------------------------------------------------------------------


def _register_meter(subparsers: Subparsers) -> None:
    group = command_group(subparsers, "meter", "the meter registry")
    add = group.add_parser("add", help="register a meter")
    add.add_argument("msno", help="11- or 13-digit meter number (with its check digit)")
    add.add_argument("--sgc", required=True, help="supply group code (6 digits)")
    add.add_argument("--krn", type=int, required=True, help="key revision number the meter holds")
    add.add_argument("--ti", default="01", help="tariff index (default 01)")
    add.add_argument("--tariff", help="tariff code")
    add.add_argument("--name", default="", help="customer name")
    add.add_argument("--address", default="", help="customer address")
    add.add_argument("--account", help="customer account number")
    add.add_argument("--contact", help="customer contact number")
    add.add_argument("--key-type", type=int, help="decoder key type (default: the key's)")
    add.add_argument("--ea", type=int, choices=(7, 11), help="7 STA, 11 MISTY1")
    add.add_argument("--tt", default="02", choices=("01", "02"), help="token carrier")
    add.add_argument("--fbe", action="store_true", help="eligible for free basic electricity")
    add.add_argument("--debt", help="outstanding debt, e.g. 500.00")
    add.add_argument("--blocked", action="store_true")
    add.set_defaults(handler=_meter_add)

    imp = group.add_parser("import", help="register meters from a CSV file (all or nothing)")
    imp.add_argument("file", help="CSV with a header: msno,sgc,krn[,ti,tariff,customer_name,...]")
    imp.set_defaults(handler=_meter_import)

    listing = group.add_parser("list", help="list meters")
    listing.add_argument("--sgc")
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_meter_list)

    show = group.add_parser("show", help="everything about one meter")
    show.add_argument("msno")
    show.set_defaults(handler=_meter_show)

    for name, blocked in (("block", True), ("unblock", False)):
        cmd = group.add_parser(name, help=f"{name} a meter (blocked meters cannot vend)")
        cmd.add_argument("msno")
        cmd.set_defaults(handler=_meter_block, blocked=blocked)

    debt = group.add_parser("debt", help="set a meter customer's outstanding debt")
    debt.add_argument("msno")
    debt.add_argument("amount", help="e.g. 500.00 (0 clears it)")
    debt.add_argument("--description", default="Arrears")
    debt.set_defaults(handler=_meter_debt)

    restrict = group.add_parser(
        "restrict-sgc", help="only listed vendors may sell for a supply group; add one"
    )
    restrict.add_argument("sgc")
    restrict.add_argument("client_id", help="the vendor's client id")
    restrict.set_defaults(handler=_meter_restrict)


def _money(context: Context, text: str | None) -> Money | None:
    if text is None:
        return None
    try:
        return Money.parse(text, context.config.currency.default)
    except VendingError as exc:
        raise CommandError(exc.message) from exc


def _meter_add(context: Context, args: argparse.Namespace) -> int:
    from utilities.registry import MeterSpec, add_meter

    spec = MeterSpec(
        msno=args.msno,
        sgc=args.sgc,
        krn=args.krn,
        ti=args.ti,
        tariff=args.tariff,
        customer_name=args.name,
        customer_address=args.address,
        account_no=args.account,
        contact_no=args.contact,
        key_type=args.key_type,
        ea=args.ea,
        tt=args.tt,
        blocked=args.blocked,
        fbe_eligible=args.fbe,
        debt=_money(context, args.debt),
    )
    meter = context.run("meter_add", add_meter, spec, actor=actor())
    print(f"meter {meter.msno} registered (SGC {meter.sgc} KRN {meter.krn} TI {meter.ti})")
    return 0


def _meter_import(context: Context, args: argparse.Namespace) -> int:
    from utilities.registry import import_meters, parse_meter_csv

    try:
        text = Path(args.file).read_text(encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"cannot read {args.file}: {exc}") from exc
    try:
        specs = parse_meter_csv(text, currency=context.config.currency.default)
    except VendingError as exc:
        raise CommandError(f"{args.file}: {exc.message}") from exc
    count = context.run("meter_import", import_meters, specs, actor=actor())
    print(f"{count} meters registered")
    return 0


def _meter_row(meter: Any) -> dict[str, Any]:
    return {
        "msno": meter.msno,
        "sgc": meter.sgc,
        "krn": meter.krn,
        "ti": meter.ti,
        "ea": meter.at,
        "tariff": meter.tariff_code or "-",
        "customer": meter.customer_name or "-",
        "blocked": meter.blocked,
        "fbe": meter.fbe_eligible,
        "debt": "-" if meter.debt is None else meter.debt.format(),
    }


def _meter_list(context: Context, args: argparse.Namespace) -> int:
    from utilities.registry import list_meters

    meters = context.run("meter_list", list_meters, sgc=args.sgc, limit=args.limit)
    print_rows([_meter_row(m) for m in meters], args.json)
    return 0


def _meter_show(context: Context, args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from utilities.registry import get_meter

    meter = context.run("meter_show", get_meter, args.msno)
    for name, value in asdict(meter).items():
        print(f"{name:22} {value}")
    return 0


def _meter_block(context: Context, args: argparse.Namespace) -> int:
    from utilities.registry import set_blocked

    meter = context.run("meter_block", set_blocked, args.msno, args.blocked, actor=actor())
    print(f"meter {meter.msno} {'blocked' if meter.blocked else 'unblocked'}")
    return 0


def _meter_debt(context: Context, args: argparse.Namespace) -> int:
    from utilities.registry import set_debt

    amount = _money(context, args.amount)
    assert amount is not None
    context.run("meter_debt", set_debt, args.msno, amount, description=args.description,
         actor=actor())  # fmt: skip
    print(f"meter {args.msno}: debt {amount}")
    return 0


def _meter_restrict(context: Context, args: argparse.Namespace) -> int:
    from utilities.registry import authorise_vendor

    context.run("sgc_authorise", authorise_vendor, args.sgc, args.client_id, actor=actor())
    print(f"supply group {args.sgc}: vendor {args.client_id} may sell")
    return 0


# --- keys -------------------------------------------------------------------------------------


def _register_keys(subparsers: Subparsers) -> None:
    group = command_group(subparsers, "keys", "keys: master key, data keys, STS vending keys")
    imp = group.add_parser("import", help="import a vending key (SGC + KRN), encrypted at rest")
    imp.add_argument("--sgc", required=True)
    imp.add_argument("--krn", type=int, required=True)
    imp.add_argument("--dkga", type=int, choices=(2, 4), required=True)
    imp.add_argument("--base-date", type=int, choices=(1993, 2014, 2035), required=True)
    imp.add_argument("--ea", type=int, choices=(7, 11), default=7)
    imp.add_argument("--key-type", type=int, choices=(0, 1, 2, 3), default=2,
                     help="type of the derived decoder keys (default 2, DUTK)")  # fmt: skip
    imp.add_argument("--ken", type=int, default=255, help="key expiry number (255 = never)")
    imp.add_argument("--current", action="store_true", help="make it the current revision")
    imp.add_argument("--description", default="")
    source = imp.add_mutually_exclusive_group(required=True)
    source.add_argument("--key-file", help="file holding the key as hex")
    source.add_argument("--key-stdin", action="store_true", help="read the hex key from stdin")
    imp.set_defaults(handler=_keys_import)

    listing = group.add_parser("list", help="list vending key revisions (never the keys)")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_keys_list)

    current = group.add_parser("current", help="make a revision the one meters change to")
    current.add_argument("sgc")
    current.add_argument("krn", type=int)
    current.set_defaults(handler=_keys_current)


def _keys_import(context: Context, args: argparse.Namespace) -> int:
    from utilities.keys import import_vending_key, parse_key_hex

    if args.key_stdin:
        text = sys.stdin.readline()
    else:
        try:
            text = Path(args.key_file).read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {args.key_file}: {exc}") from exc
    try:
        key = parse_key_hex(text)
    except VendingError as exc:
        raise CommandError(exc.message) from exc
    info = context.run(
        "vending_key_import",
        import_vending_key,
        context.keyring,
        sgc=args.sgc,
        krn=args.krn,
        key=key,
        dkga=args.dkga,
        ea=args.ea,
        key_type=args.key_type,
        base_date=args.base_date,
        ken=args.ken,
        make_current=args.current,
        description=args.description,
        actor=actor(),
    )
    state = "current" if info.is_current else "not current"
    print(f"vending key SGC {info.sgc} KRN {info.krn} imported ({state}); stored encrypted")
    return 0


def _keys_list(context: Context, args: argparse.Namespace) -> int:
    from utilities.keys import KEY_TYPE_NAMES, list_vending_keys

    keys = context.run("vending_key_list", list_vending_keys)
    print_rows(
        [
            {
                "sgc": k.sgc,
                "krn": k.krn,
                "dkga": f"{k.dkga:02d}",
                "ea": f"{k.ea:02d}",
                "key_type": KEY_TYPE_NAMES[k.key_type],
                "base_date": k.base_date,
                "ken": k.ken,
                "current": k.is_current,
                "description": k.description,
            }
            for k in keys
        ],
        args.json,
    )
    return 0


def _keys_current(context: Context, args: argparse.Namespace) -> int:
    from utilities.keys import set_current_key

    info = context.run("vending_key_current", set_current_key, args.sgc, args.krn, actor=actor())
    print(f"SGC {info.sgc}: KRN {info.krn} is current")
    return 0


# --- tariff -----------------------------------------------------------------------------------


def _register_tariff(subparsers: Subparsers) -> None:
    group = command_group(subparsers, "tariff", "electricity tariffs")
    add = group.add_parser("add", help="add a flat (--rate) or block (--block ...) tariff")
    add.add_argument("code")
    add.add_argument("--name", required=True)
    add.add_argument("--currency", help="default: currency.default")
    add.add_argument("--vat", default="15", help="VAT percentage (default 15)")
    rates = add.add_mutually_exclusive_group(required=True)
    rates.add_argument("--rate", help="flat price per kWh excluding VAT, e.g. 2.50")
    rates.add_argument(
        "--block",
        action="append",
        metavar="UPTO:PRICE",
        help="a block: month-to-date kWh where it ends and its price per kWh excluding VAT; "
        "the last one without UPTO (e.g. --block 50:1.80 --block 350:2.60 --block :3.20)",
    )
    add.add_argument("--service-charge", default="0", help="monthly, excluding VAT")
    add.add_argument("--debt-recovery", default="0", help="percentage of each purchase")
    add.add_argument("--fbe-kwh", default="0", help="free basic electricity per month")
    add.set_defaults(handler=_tariff_add)

    listing = group.add_parser("list", help="list tariffs")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_tariff_list)

    assign = group.add_parser("assign", help="give a meter a tariff")
    assign.add_argument("msno")
    assign.add_argument("code")
    assign.set_defaults(handler=_tariff_assign)


def _tariff_add(context: Context, args: argparse.Namespace) -> int:
    from utilities.billing import Block
    from utilities.tariffs import add_tariff, percent_to_bp, rate_from_text, units_from_kwh

    currency = args.currency or context.config.currency.default
    try:
        if args.rate is not None:
            blocks = (Block(None, rate_from_text(args.rate, currency)),)
        else:
            parsed = []
            for text in args.block:
                up_to, sep, price = text.partition(":")
                if not sep:
                    raise CommandError(f"--block {text}: expected UPTO:PRICE")
                limit = units_from_kwh(up_to) if up_to.strip() else None
                parsed.append(Block(limit, rate_from_text(price, currency)))
            blocks = tuple(parsed)
        service = Money.parse(args.service_charge, currency)
        vat = percent_to_bp(args.vat)
        recovery = percent_to_bp(args.debt_recovery)
        fbe = units_from_kwh(args.fbe_kwh)
    except VendingError as exc:
        raise CommandError(exc.message) from exc
    tariff = context.run(
        "tariff_add",
        add_tariff,
        code=args.code,
        name=args.name,
        currency=currency,
        vat_rate_bp=vat,
        blocks=blocks,
        service_charge=service,
        debt_recovery_bp=recovery,
        fbe_units=fbe,
        actor=actor(),
    )
    print(f"tariff {tariff.code} added ({len(tariff.terms.blocks)} block(s))")
    return 0


def _tariff_list(context: Context, args: argparse.Namespace) -> int:
    from utilities.tariffs import list_tariffs, rate_to_text

    tariffs = context.run("tariff_list", list_tariffs)
    rows = []
    for tariff in tariffs:
        terms = tariff.terms
        blocks = ", ".join(
            f"{'' if b.up_to_units is None else f'<{b.up_to_units / 10:g} kWh '}"
            f"{rate_to_text(b.rate, terms.currency)}"
            for b in terms.blocks
        )
        rows.append(
            {
                "code": terms.code,
                "name": terms.name,
                "currency": terms.currency,
                "vat_%": terms.vat_rate_bp / 100,
                "price_per_kWh": blocks,
                "service": Money(terms.service_charge, terms.currency).format(),
                "debt_%": terms.debt_recovery_bp / 100,
                "fbe_kWh": terms.fbe_units / 10,
            }
        )
    print_rows(rows, args.json)
    return 0


def _tariff_assign(context: Context, args: argparse.Namespace) -> int:
    from utilities.registry import assign_tariff

    meter = context.run("tariff_assign", assign_tariff, args.msno, args.code, actor=actor())
    print(f"meter {meter.msno}: tariff {meter.tariff_code}")
    return 0
