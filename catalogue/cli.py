"""``evd`` commands of the catalogue (issue 14), so providers, mappings, operators and
billers are managed without SQL:

* ``evd provider add|list|enable|disable|map|unmap|mappings``
* ``evd recharge circles|operators|lookup|series|port``
* ``evd biller add|list|enable|disable``
* ``evd order show ORDER_ID`` (a provider order: state, references, every attempt)
* ``evd insurance plans`` (the plans sold and the insurers they are mapped to)
* ``evd travel list|show|release-expired`` (bus bookings; expired holds refunded now)

Secrets never come from the command line: ``--secret-env VAR`` names the variable.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from vending.cli.context import CommandError, Context
from vending.cli.groups import Subparsers, actor, command_group, print_rows


def register(subparsers: Subparsers) -> None:
    _register_provider(subparsers)
    _register_recharge(subparsers)
    _register_biller(subparsers)
    _register_order(subparsers)
    _register_insurance(subparsers)
    _register_travel(subparsers)


# --- provider ---------------------------------------------------------------------------------


def _register_provider(subparsers: Subparsers) -> None:
    group = command_group(subparsers, "provider", "upstream providers and product mappings")
    add = group.add_parser("add", help="register a provider")
    add.add_argument("name")
    add.add_argument(
        "--protocol", required=True, choices=("recharge-json", "bbps-xml", "dmt-json", "aeps-json")
    )
    add.add_argument("--url", required=True)
    add.add_argument("--timeout-ms", type=int, default=5000)
    add.add_argument("--callback-ip", action="append", default=[], help="allowed callback IP")
    add.add_argument("--secret-env", metavar="VAR", help="variable holding the HMAC secret")
    add.set_defaults(handler=_provider_add)
    listing = group.add_parser("list", help="list providers")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_provider_list)
    for name, active in (("enable", True), ("disable", False)):
        parser = group.add_parser(name, help=f"{name} a provider")
        parser.add_argument("name")
        parser.set_defaults(handler=_provider_active, active=active)
    mapping = group.add_parser("map", help="sell a product through a provider under its code")
    mapping.add_argument("product")
    mapping.add_argument("provider")
    mapping.add_argument("code", help="the provider's code ('*': send the biller id)")
    mapping.add_argument("--priority", type=int, default=1, help="lower first (default 1)")
    mapping.set_defaults(handler=_provider_map)
    unmap = group.add_parser("unmap", help="stop selling a product through a provider")
    unmap.add_argument("product")
    unmap.add_argument("provider")
    unmap.set_defaults(handler=_provider_unmap)
    mappings = group.add_parser("mappings", help="list product <-> provider code mappings")
    mappings.add_argument("--product")
    mappings.add_argument("--json", action="store_true")
    mappings.set_defaults(handler=_provider_mappings)


def _provider_add(context: Context, args: argparse.Namespace) -> int:
    from catalogue.providers import add_provider

    secret = None
    if args.secret_env:
        value = os.environ.get(args.secret_env, "")
        if not value:
            raise CommandError(f"${args.secret_env} is empty")
        secret = value.encode()
    provider = context.run(
        "provider_add",
        add_provider,
        context.keyring,
        name=args.name,
        protocol=args.protocol,
        url=args.url,
        timeout_ms=args.timeout_ms,
        callback_ips=tuple(args.callback_ip),
        secret=secret,
        actor=actor(),
        now=context.clock(),
    )
    print(f"provider {provider.name} ({provider.protocol}) at {provider.url}")
    return 0


def _provider_list(context: Context, args: argparse.Namespace) -> int:
    from catalogue.providers import list_providers

    rows = [
        {
            "name": p.name,
            "protocol": p.protocol,
            "url": p.url,
            "timeout_ms": p.timeout_ms,
            "active": p.active,
            "callback_ips": ",".join(p.callback_ips) or "-",
            "secret": "set" if p.has_secret else "-",
        }
        for p in context.run("provider_list", list_providers)
    ]
    print_rows(rows, args.json)
    return 0


def _provider_active(context: Context, args: argparse.Namespace) -> int:
    from catalogue.providers import set_provider_active

    provider = context.run(
        "provider_active",
        set_provider_active,
        args.name,
        args.active,
        actor=actor(),
        now=context.clock(),
    )
    print(f"provider {provider.name}: {'active' if provider.active else 'disabled'}")
    return 0


def _provider_map(context: Context, args: argparse.Namespace) -> int:
    from catalogue.providers import map_product

    mapping = context.run(
        "provider_map",
        map_product,
        product_code=args.product,
        provider=args.provider,
        provider_code=args.code,
        priority=args.priority,
        actor=actor(),
        now=context.clock(),
    )
    print(
        f"{mapping.product_code} -> {mapping.provider} as {mapping.provider_code} "
        f"(priority {mapping.priority})"
    )
    return 0


def _provider_unmap(context: Context, args: argparse.Namespace) -> int:
    from catalogue.providers import unmap_product

    context.run(
        "provider_unmap",
        unmap_product,
        product_code=args.product,
        provider=args.provider,
        actor=actor(),
        now=context.clock(),
    )
    print(f"{args.product} no longer sold through {args.provider}")
    return 0


def _provider_mappings(context: Context, args: argparse.Namespace) -> int:
    from catalogue.providers import list_mappings

    rows = [
        {
            "product": m.product_code,
            "provider": m.provider,
            "code": m.provider_code,
            "priority": m.priority,
            "active": m.active,
        }
        for m in context.run("provider_mappings", list_mappings, args.product)
    ]
    print_rows(rows, args.json)
    return 0


# --- recharge ---------------------------------------------------------------------------------


def _register_recharge(subparsers: Subparsers) -> None:
    group = command_group(subparsers, "recharge", "PIN-less recharge operators and numbers")
    group.add_parser("circles", help="the 22 telecom circles").set_defaults(handler=_circles)
    operators = group.add_parser("operators", help="recharge operators")
    operators.add_argument("--json", action="store_true")
    operators.set_defaults(handler=_operators)
    add = group.add_parser("operator-add", help="register an operator and its product")
    add.add_argument("code")
    add.add_argument("--name", required=True)
    add.add_argument("--service", required=True, choices=("mobile", "dth", "datacard"))
    add.add_argument("--product", required=True)
    add.set_defaults(handler=_operator_add)
    lookup = group.add_parser("lookup", help="operator and circle of a mobile number")
    lookup.add_argument("number")
    lookup.set_defaults(handler=_lookup)
    series = group.add_parser("series", help="assign a numbering series (first 4 digits)")
    series.add_argument("prefix")
    series.add_argument("operator")
    series.add_argument("circle")
    series.set_defaults(handler=_series)
    port = group.add_parser("port", help="record a number ported to another operator")
    port.add_argument("number")
    port.add_argument("operator")
    port.add_argument("circle")
    port.set_defaults(handler=_port)


def _circles(context: Context, args: argparse.Namespace) -> int:
    from catalogue.recharge import CIRCLES

    print_rows([{"code": code, "circle": name} for code, name in CIRCLES.items()])
    return 0


def _operators(context: Context, args: argparse.Namespace) -> int:
    from catalogue.recharge import list_operators

    rows = [
        {"code": o.code, "name": o.name, "service": o.service, "product": o.product_code}
        for o in context.run("recharge_operators", list_operators)
    ]
    print_rows(rows, args.json)
    return 0


def _operator_add(context: Context, args: argparse.Namespace) -> int:
    from catalogue.recharge import add_operator

    op = context.run(
        "recharge_operator_add",
        add_operator,
        code=args.code,
        name=args.name,
        service=args.service,
        product_code=args.product,
        actor=actor(),
        now=context.clock(),
    )
    print(f"operator {op.code} {op.name} ({op.service}) sold as {op.product_code}")
    return 0


def _lookup(context: Context, args: argparse.Namespace) -> int:
    from catalogue.recharge import lookup_number

    info = context.run("recharge_lookup", lookup_number, args.number)
    ported = " (ported)" if info.ported else ""
    print(
        f"{info.msisdn}: {info.operator.name} ({info.operator.code}), "
        f"{info.circle_name} ({info.circle}){ported}"
    )
    return 0


def _series(context: Context, args: argparse.Namespace) -> int:
    from catalogue.recharge import add_series

    context.run("recharge_series", add_series, args.prefix, args.operator, args.circle)
    print(f"{args.prefix}xxxxxx -> {args.operator.upper()} in {args.circle.upper()}")
    return 0


def _port(context: Context, args: argparse.Namespace) -> int:
    from catalogue.recharge import record_port

    context.run(
        "recharge_port", record_port, args.number, args.operator, args.circle, context.clock()
    )
    print(f"{args.number} ported to {args.operator.upper()}")
    return 0


# --- billers ----------------------------------------------------------------------------------


def _register_biller(subparsers: Subparsers) -> None:
    group = command_group(subparsers, "biller", "the bill payment biller registry")
    add = group.add_parser("add", help="register a biller")
    add.add_argument("biller_id", help="14 characters, e.g. VODA00000MUM03")
    add.add_argument("--name", required=True)
    add.add_argument("--category", required=True)
    add.add_argument("--product", required=True, help="the bill payment product sold")
    add.add_argument("--fetch", required=True, choices=("MANDATORY", "OPTIONAL", "NOT_SUPPORTED"))
    add.add_argument("--amount-rule", required=True, choices=("EXACT", "PARTIAL", "OVER", "ANY"))
    add.add_argument(
        "--param",
        action="append",
        required=True,
        help="customer parameter NAME=REGEX (NAME?=REGEX: optional), in the biller's order",
    )
    add.set_defaults(handler=_biller_add)
    listing = group.add_parser("list", help="list billers")
    listing.add_argument("--category")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_biller_list)
    for name in ("enable", "disable"):
        switch = group.add_parser(name, help=f"{name} a biller (payments and fetches)")
        switch.add_argument("biller_id")
        switch.set_defaults(handler=_biller_active, active=name == "enable")


def _biller_active(context: Context, args: argparse.Namespace) -> int:
    from catalogue.bbps import set_biller_active

    context.run("biller_active", set_biller_active, args.biller_id, args.active, actor=actor(),
                now=context.clock())  # fmt: skip
    print(f"biller {args.biller_id} {'enabled' if args.active else 'disabled'}")
    return 0


def _biller_add(context: Context, args: argparse.Namespace) -> int:
    from catalogue.bbps import CustomerParam, add_biller

    params = []
    for text in args.param:
        name, sep, pattern = text.partition("=")
        if not sep or not name:
            raise CommandError(f"--param {text!r}: NAME=REGEX")
        optional = name.endswith("?")
        params.append(CustomerParam(name.rstrip("?"), pattern, optional))
    biller = context.run(
        "biller_add",
        add_biller,
        biller_id=args.biller_id,
        name=args.name,
        category=args.category,
        product_code=args.product,
        fetch_requirement=args.fetch,
        amount_rule=args.amount_rule,
        params=params,
        actor=actor(),
        now=context.clock(),
    )
    print(f"biller {biller.biller_id} {biller.name} ({biller.category})")
    return 0


def _biller_list(context: Context, args: argparse.Namespace) -> int:
    from catalogue.bbps import list_billers

    rows = [
        {
            "biller_id": b.biller_id,
            "name": b.name,
            "category": b.category,
            "fetch": b.fetch_requirement,
            "amount": b.amount_rule,
            "product": b.product_code,
            "params": "; ".join(p.name + ("?" if p.optional else "") for p in b.params),
        }
        for b in context.run("biller_list", list_billers, args.category)
    ]
    print_rows(rows, args.json)
    return 0


# --- orders -----------------------------------------------------------------------------------


def _register_order(subparsers: Subparsers) -> None:
    group = command_group(subparsers, "order", "sales through providers")
    show = group.add_parser("show", help="a provider order and its attempts")
    show.add_argument("order_id")
    show.set_defaults(handler=_order_show)


def _order_show(context: Context, args: argparse.Namespace) -> int:
    from catalogue.orders import attempts_of, get_order

    def read(txn: Any) -> tuple[Any, list[dict[str, Any]]]:
        order = get_order(txn, args.order_id)
        return order, attempts_of(txn, order.pk)

    order, attempts = context.run("order_show", read)
    print(f"order {order.order_id}: {order.state} ({order.service} for {order.target})")
    print(
        f"provider {order.provider or '-'} ref {order.provider_ref or '-'} "
        f"operator ref {order.operator_ref or '-'}: {order.message or ''}"
    )
    print_rows(attempts)
    return 0


# --- insurance and travel -------------------------------------------------------------------


def _register_insurance(subparsers: Subparsers) -> None:
    group = command_group(subparsers, "insurance", "insurance plans and their insurers")
    plans = group.add_parser("plans", help="the plans sold and their insurer mappings")
    plans.add_argument("--json", action="store_true")
    plans.set_defaults(handler=_insurance_plans)


def _insurance_plans(context: Context, args: argparse.Namespace) -> int:
    from catalogue.insurance import PLANS
    from catalogue.providers import list_mappings

    mapped = context.run("insurance_mappings", list_mappings, None)
    rows = [
        {
            "product": code,
            "name": name,
            "terms": f"{shortest}-{longest} years",
            "insurers": ", ".join(
                f"{m.provider}:{m.provider_code}" for m in mapped if m.product_code == code
            )
            or "-",
        }
        for code, (name, shortest, longest) in PLANS.items()
    ]
    print_rows(rows, args.json)
    return 0


def _register_travel(subparsers: Subparsers) -> None:
    group = command_group(subparsers, "travel", "bus bookings through travel partners")
    listing = group.add_parser("list", help="bookings, newest first")
    listing.add_argument("--state", choices=("held", "booking", "booked", "failed", "released",
                                             "cancelled"))  # fmt: skip
    listing.add_argument("--limit", type=int, default=20)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_travel_list)
    show = group.add_parser("show", help="one booking")
    show.add_argument("booking_ref")
    show.set_defaults(handler=_travel_show)
    sweep = group.add_parser(
        "release-expired",
        help="refund every hold past its expiry now (evd serve does it every sweep)",
    )
    sweep.set_defaults(handler=_travel_release)


def _travel_list(context: Context, args: argparse.Namespace) -> int:
    from catalogue.travel import list_bookings

    rows = [
        {
            "ref": b.booking_ref, "state": b.state, "trip": b.trip.get("trip_id", ""),
            "seats": ",".join(b.seats), "fare": b.fare.format(), "pnr": b.pnr or "-",
            "expires": b.expires_at.isoformat(timespec="seconds"),
        }
        for b in context.run("travel_list", list_bookings, args.state, args.limit)
    ]  # fmt: skip
    print_rows(rows, args.json)
    return 0


def _travel_show(context: Context, args: argparse.Namespace) -> int:
    from catalogue.travel import get_booking

    b = context.run("travel_show", get_booking, args.booking_ref)
    print(f"booking {b.booking_ref}: {b.state} ({b.message})")
    print(f"trip {b.trip}")
    print(f"seats {', '.join(b.seats)}; fare {b.fare}; PNR {b.pnr or '-'}; "
          f"ticket {b.ticket_no or '-'}; refund {b.refund or '-'}")  # fmt: skip
    return 0


def _travel_release(context: Context, args: argparse.Namespace) -> int:
    from catalogue.travel import expired_holds, get_booking, release

    now = context.clock()

    def run(txn: Any) -> list[str]:
        done = []
        for ref in expired_holds(txn, now):
            if release(txn, get_booking(txn, ref), "the hold expired", now):
                done.append(ref)
        return done

    released = context.run("travel_release_expired", run)
    print(f"{len(released)} expired hold(s) released and refunded" + (
        ": " + ", ".join(released) if released else ""))  # fmt: skip
    return 0
