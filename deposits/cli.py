"""``evd deposit``: the manual queue of bank deposits (list, assign, reject), unreadable
alerts, and merchants' deposit details (fee tier, virtual account, known payer accounts).
Every change is audited with the actor running the command."""

from __future__ import annotations

import argparse
from typing import Any

from vending.cli.context import CommandError, Context
from vending.cli.groups import Subparsers, actor, command_group, print_rows


def register(subparsers: Subparsers) -> None:
    group = command_group(subparsers, "deposit", "bank deposits recognised from bank alerts")

    listing = group.add_parser("list", help="the manual queue (suspense and review)")
    listing.add_argument("--all", action="store_true", help="every state, not only the queue")
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_list)

    alerts = group.add_parser("alerts", help="alerts a bank's template could not read")
    alerts.add_argument("--json", action="store_true")
    alerts.set_defaults(handler=_alerts)

    assign = group.add_parser("assign", help="credit a queued deposit to a merchant")
    assign.add_argument("deposit_id", type=int)
    assign.add_argument("client_id", help="the merchant (vendor clientID)")
    assign.add_argument("--reason", required=True, help="recorded in the audit log")
    assign.add_argument("--amount", help="the corrected amount when two reports disagreed")
    assign.set_defaults(handler=_assign)

    reject = group.add_parser("reject", help="refuse a queued deposit (to be returned)")
    reject.add_argument("deposit_id", type=int)
    reject.add_argument("--reason", required=True, help="recorded in the audit log")
    reject.set_defaults(handler=_reject)

    merchant = group.add_parser("merchant", help="a merchant's fee tier and virtual account")
    merchant.add_argument("client_id")
    merchant.add_argument("--tier")
    merchant.add_argument("--virtual-account")
    merchant.set_defaults(handler=_merchant)

    payer = group.add_parser("payer", help="a bank account known to pay for a merchant")
    payer.add_argument("client_id")
    payer.add_argument("payer_account")
    payer.set_defaults(handler=_payer)


def _settings(ctx: Context) -> Any:
    from deposits.settings import DepositSettings
    from deposits.templates import TemplateError

    path = ctx.config.deposits.settings_file
    if not path:
        raise CommandError("deposits are off: set deposits.settings_file in the configuration")
    try:
        return DepositSettings.load(ctx.config.path(path))
    except TemplateError as exc:
        raise CommandError(str(exc)) from exc


def _list(ctx: Context, args: argparse.Namespace) -> int:
    from deposits import queue
    from deposits.tables import DEPOSIT_STATES

    states = DEPOSIT_STATES if args.all else queue.QUEUE_STATES
    found = ctx.run("deposit_list", queue.list_deposits, states, args.limit)
    print_rows([d.as_row() for d in found], args.json)
    return 0


def _alerts(ctx: Context, args: argparse.Namespace) -> int:
    from deposits import queue

    rows = ctx.run("deposit_alerts", queue.unparsed_alerts)
    print_rows(
        [
            {k: row[k] for k in ("id", "received_at", "source", "sender", "bank", "reason")}
            for row in rows
        ],
        args.json,
    )
    return 0


def _assign(ctx: Context, args: argparse.Namespace) -> int:
    from deposits import queue
    from vending.money import Money

    settings = _settings(ctx)
    amount = None
    if args.amount:
        current = ctx.run("deposit_get", queue.get_deposit, args.deposit_id)
        amount = Money.parse(args.amount, current.amount.currency)
    done = ctx.run(
        "deposit_assign",
        queue.assign,
        settings,
        args.deposit_id,
        args.client_id,
        actor=actor(),
        reason=args.reason,
        now=ctx.clock(),
        amount=amount,
    )
    print(
        f"deposit {done.id} credited to {done.vendor}: {done.amount.format()} "
        f"less fee {done.fee.format()} {done.amount.currency}"
    )
    return 0


def _reject(ctx: Context, args: argparse.Namespace) -> int:
    from deposits import queue

    done = ctx.run(
        "deposit_reject",
        queue.reject,
        args.deposit_id,
        actor=actor(),
        reason=args.reason,
        now=ctx.clock(),
    )
    print(f"deposit {done.id} rejected")
    return 0


def _merchant(ctx: Context, args: argparse.Namespace) -> int:
    from deposits import queue

    ctx.run(
        "deposit_merchant",
        queue.set_merchant,
        args.client_id,
        tier=args.tier,
        virtual_account=args.virtual_account,
        actor=actor(),
        settings=_settings(ctx),
        now=ctx.clock(),
    )
    print(f"deposit details of {args.client_id} updated")
    return 0


def _payer(ctx: Context, args: argparse.Namespace) -> int:
    from deposits import queue

    ctx.run(
        "deposit_payer",
        queue.add_payer,
        args.client_id,
        args.payer_account,
        actor=actor(),
        now=ctx.clock(),
    )
    print(f"payer account registered for {args.client_id}")
    return 0
