"""``evd network``, ``evd fund`` and ``evd points``: the distribution network, fund requests
and reward points from the command line. Staff act as the operator (the root node) unless
``--as NODE`` names another; every change is audited with the actor running the command.
Time comes from the command's clock (``ctx.clock``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from vending.cli.context import CommandError, Context
from vending.cli.groups import Subparsers, actor, command_group, print_rows


def register(subparsers: Subparsers) -> None:
    _network(command_group(subparsers, "network", "the dealer and franchise network"))
    _fund(command_group(subparsers, "fund", "fund requests of the network's nodes"))
    _points(command_group(subparsers, "points", "reward points: rules, balances, expiry"))


def _as(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--as", dest="actor_node", help="act as this node (default: the root)")


def _network(group: Any) -> None:
    root = group.add_parser("root", help="create the operator's root node")
    root.add_argument("code")
    root.add_argument("--name", required=True)
    root.add_argument("--currency", required=True)
    root.set_defaults(handler=_root)

    add = group.add_parser("add", help="a node under PARENT (a merchant with --vendor)")
    add.add_argument("parent")
    add.add_argument("code")
    add.add_argument("--name", required=True)
    add.add_argument("--vendor", help="the merchant's clientID (it shares its account)")
    add.add_argument("--credit-limit")
    _as(add)
    add.set_defaults(handler=_add)

    limits = group.add_parser("limits", help="a node's sale-time limits")
    limits.add_argument("code")
    limits.add_argument("--daily", help="daily sale limit (amount, or 'none')")
    limits.add_argument("--products", help="comma-separated codes or kinds ('' lifts it)")
    limits.add_argument("--channels", help="comma-separated: xmlvend,json,sms,ussd ('' lifts)")
    limits.add_argument("--credit-limit", help="amount, or 'none'")
    limits.add_argument("--status", choices=("active", "suspended"))
    _as(limits)
    limits.set_defaults(handler=_limits)

    tree = group.add_parser("tree", help="the acting node's subtree")
    tree.add_argument("--json", action="store_true")
    _as(tree)
    tree.set_defaults(handler=_tree)

    for name, help_text in (("transfer", "credit down to a node"), ("recall", "credit back up")):
        move = group.add_parser(name, help=help_text)
        move.add_argument("node")
        move.add_argument("amount")
        move.add_argument("--reason", required=True)
        _as(move)
        move.set_defaults(handler=_move, kind=name)

    slabs = group.add_parser("slabs", help="load commission slabs from a JSON file")
    slabs.add_argument("file", type=Path)
    slabs.set_defaults(handler=_slabs)


def _fund(group: Any) -> None:
    ask = group.add_parser("ask", help="NODE asks its parent for AMOUNT")
    ask.add_argument("node")
    ask.add_argument("amount")
    ask.add_argument("reference")
    ask.set_defaults(handler=_fund_ask)

    listing = group.add_parser("list", help="a node's own requests")
    listing.add_argument("node")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_fund_list)

    pending = group.add_parser("pending", help="pending requests of the acting subtree")
    pending.add_argument("--json", action="store_true")
    _as(pending)
    pending.set_defaults(handler=_fund_pending)

    for name in ("approve", "reject"):
        decide = group.add_parser(name, help=f"{name} a request (the approval is the transfer)")
        decide.add_argument("request_id", type=int)
        decide.add_argument("--reason", required=name == "reject", default="")
        _as(decide)
        decide.set_defaults(handler=_fund_decide, approve=name == "approve")

    expire = group.add_parser("expire", help="expire overdue requests and tell the requesters")
    expire.set_defaults(handler=_fund_expire)


def _points(group: Any) -> None:
    rule = group.add_parser("rule", help="points per product for merchants or consumers")
    rule.add_argument("product")
    rule.add_argument("holder", choices=("merchant", "consumer"))
    rule.add_argument("--per", type=int, required=True, help="minor units of sale per point")
    rule.add_argument("--value", type=int, required=True, help="minor units a point is worth")
    rule.add_argument("--days", type=int, required=True, help="days until points expire")
    rule.set_defaults(handler=_points_rule)

    rules = group.add_parser("rules", help="the rules")
    rules.add_argument("--json", action="store_true")
    rules.set_defaults(handler=_points_rules)

    for name, help_text in (
        ("balance", "a holder's unexpired points"),
        ("statement", "a holder's points moves"),
    ):
        show = group.add_parser(name, help=help_text)
        show.add_argument("holder", choices=("merchant", "consumer"))
        show.add_argument("who", help="the merchant's clientID or the consumer's number")
        show.add_argument("--json", action="store_true")
        show.set_defaults(handler=_points_show, what=name)

    redeem = group.add_parser("redeem", help="redeem a holder's points into its account")
    redeem.add_argument("holder", choices=("merchant", "consumer"))
    redeem.add_argument("who")
    redeem.add_argument("points", type=int)
    redeem.add_argument("--reference", required=True)
    redeem.set_defaults(handler=_points_redeem)

    expire = group.add_parser("expire", help="expire points past their date (the sweep)")
    expire.set_defaults(handler=_points_expire)


# --- helpers ---------------------------------------------------------------------------------


def _acting(ctx: Context, args: argparse.Namespace) -> str:
    from sqlalchemy import select

    from distribution.tables import distribution_nodes

    if getattr(args, "actor_node", None):
        return str(args.actor_node)

    def root(txn: Any) -> str | None:
        query = select(distribution_nodes.c.code).where(distribution_nodes.c.parent_id.is_(None))
        return txn.execute(query).scalar()

    found = ctx.run("network_root", root)
    if found is None:
        raise CommandError("no network yet: evd network root CODE --name N --currency CUR")
    return found


def _money(ctx: Context, node: str, text: str) -> Any:
    from distribution import nodes
    from vending.money import Money

    currency = ctx.run("node", nodes.get_node, node).currency
    try:
        return Money.parse(text, currency)
    except Exception as exc:
        raise CommandError(f"{text!r} is not an amount in {currency}") from exc


def _optional_money(ctx: Context, node: str, text: str | None) -> Any:
    from distribution.nodes import _UNSET

    if text is None:
        return _UNSET
    return None if text.lower() == "none" else _money(ctx, node, text)


def _node_row(node: Any) -> dict[str, Any]:
    return {
        "code": node.code,
        "level": node.level_name,
        "status": node.status,
        "balance": node.balance.format(),
        "credit_limit": "" if node.credit_limit is None else node.credit_limit.format(),
        "daily_limit": "" if node.daily_sale_limit is None else node.daily_sale_limit.format(),
        "products": ",".join(node.allowed_products),
        "channels": ",".join(node.allowed_channels),
    }


def _request_row(request: Any) -> dict[str, Any]:
    return {
        "id": request.id,
        "requester": request.requester,
        "reference": request.reference,
        "amount": f"{request.amount.format()} {request.amount.currency}",
        "state": request.state,
        "reason": request.reason,
        "expires_at": request.expires_at.isoformat(),
    }


# --- network ---------------------------------------------------------------------------------


def _root(ctx: Context, args: argparse.Namespace) -> int:
    from distribution import nodes

    node = ctx.run(
        "network_root",
        nodes.create_root,
        code=args.code,
        name=args.name,
        currency=args.currency.upper(),
        actor=actor(),
        now=ctx.clock(),
    )
    print(f"root node {node.code} ({node.currency})")
    return 0


def _add(ctx: Context, args: argparse.Namespace) -> int:
    from distribution import nodes

    acting = _acting(ctx, args)
    limit = None if args.credit_limit is None else _money(ctx, args.parent, args.credit_limit)
    node = ctx.run(
        "network_add",
        nodes.create_node,
        actor_node=acting,
        parent=args.parent,
        code=args.code,
        name=args.name,
        credit_limit=limit,
        vendor_client_id=args.vendor,
        actor=actor(),
        now=ctx.clock(),
    )
    print(f"node {node.code}: {node.level_name} under {args.parent}")
    return 0


def _limits(ctx: Context, args: argparse.Namespace) -> int:
    from distribution import nodes

    acting = _acting(ctx, args)
    limits: dict[str, Any] = {
        "daily_sale_limit": _optional_money(ctx, args.code, args.daily),
        "credit_limit": _optional_money(ctx, args.code, args.credit_limit),
    }
    if args.products is not None:
        limits["allowed_products"] = [p.strip() for p in args.products.split(",") if p.strip()]
    if args.channels is not None:
        limits["allowed_channels"] = [c.strip() for c in args.channels.split(",") if c.strip()]
    node = ctx.run(
        "network_limits",
        nodes.set_limits,
        actor_node=acting,
        code=args.code,
        actor=actor(),
        now=ctx.clock(),
        **limits,
    )
    if args.status:
        node = ctx.run(
            "network_status",
            nodes.set_status,
            actor_node=acting,
            code=args.code,
            status=args.status,
            actor=actor(),
            now=ctx.clock(),
        )
    print_rows([_node_row(node)])
    return 0


def _tree(ctx: Context, args: argparse.Namespace) -> int:
    from distribution import nodes

    found = ctx.run("network_tree", nodes.subtree, _acting(ctx, args))
    print_rows([_node_row(node) for node in found], args.json)
    return 0


def _move(ctx: Context, args: argparse.Namespace) -> int:
    from distribution import nodes

    acting = _acting(ctx, args)
    amount = _money(ctx, acting, args.amount)
    common = {"amount": amount, "reason": args.reason, "actor": actor(), "now": ctx.clock()}
    if args.kind == "transfer":
        posted = ctx.run(
            "network_transfer", nodes.transfer_down, actor_node=acting, to=args.node, **common
        )
    else:
        posted = ctx.run(
            "network_recall", nodes.recall, actor_node=acting, from_=args.node, **common
        )
    print(f"{args.kind} {amount.format()} {amount.currency}: transfer {posted.id}")
    return 0


def _slabs(ctx: Context, args: argparse.Namespace) -> int:
    from distribution import commissions

    try:
        data = json.loads(args.file.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot read {args.file}: {exc}") from exc
    if not isinstance(data, dict):
        raise CommandError("the slabs file is a JSON object: product -> level -> bands")
    book = ctx.run("network_slabs", commissions.set_slabs, data, actor=actor(), now=ctx.clock())
    print(f"{sum(len(b) for b in book.slabs.values())} bands for {len(data)} product(s)")
    return 0


# --- fund requests ---------------------------------------------------------------------------


def _fund_ask(ctx: Context, args: argparse.Namespace) -> int:
    from distribution import fund_requests

    request = ctx.run(
        "fund_ask",
        fund_requests.ask,
        requester=args.node,
        amount=_money(ctx, args.node, args.amount),
        reference=args.reference,
        now=ctx.clock(),
    )
    print(f"fund request {request.id} ({request.reference}) pending")
    return 0


def _fund_list(ctx: Context, args: argparse.Namespace) -> int:
    from distribution import fund_requests

    found = ctx.run("fund_list", fund_requests.mine, args.node)
    print_rows([_request_row(r) for r in found], args.json)
    return 0


def _fund_pending(ctx: Context, args: argparse.Namespace) -> int:
    from distribution import fund_requests

    found = ctx.run("fund_pending", fund_requests.pending_for, _acting(ctx, args), ctx.clock())
    print_rows([_request_row(r) for r in found], args.json)
    return 0


class _AtOnce:
    """The services' runner over the command's own transactions (they finish at once)."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    def run(self, desc: str, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        result = self._ctx.run(desc, fn, *args, **kwargs)

        async def done() -> Any:
            return result

        return done()


def _finish(coroutine: Any) -> Any:
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value
    raise RuntimeError("the service did not finish at once")  # pragma: no cover


def _distribution(ctx: Context) -> Any:
    """The network service, texting requesters when a keyring is configured (else the
    outbox event alone tells them)."""
    from vending.services.distribution import Distribution

    try:
        keyring = ctx.keyring
    except CommandError:
        keyring = None
        print("note: no master key configured: the requester is not texted")
    return Distribution(_AtOnce(ctx), ctx.clock, keyring, sms_sender=ctx.config.sms.short_code)


def _fund_decide(ctx: Context, args: argparse.Namespace) -> int:
    decided = _finish(
        _distribution(ctx).decide(
            _acting(ctx, args),
            args.request_id,
            approve=args.approve,
            reason=args.reason,
            actor=actor(),
        )
    )
    print(f"fund request {decided.id}: {decided.state}")
    return 0 if decided.state != "expired" else 1


def _fund_expire(ctx: Context, args: argparse.Namespace) -> int:
    expired = _finish(_distribution(ctx).expire_fund_requests())
    print(f"{len(expired)} fund request(s) expired")
    return 0


# --- points ----------------------------------------------------------------------------------


def _holder(ctx: Context, kind: str, who: str) -> Any:
    from distribution import rewards
    from vending.consumers import get_consumer, normalize_msisdn
    from vending.vendors import get_vendor

    def find(txn: Any) -> Any:
        if kind == "merchant":
            holder_id = get_vendor(txn, who).id
        else:
            holder_id = get_consumer(txn, normalize_msisdn(who)).id
        return rewards.holder_for(txn, kind, holder_id)

    return ctx.run("points_holder", find)


def _points_rule(ctx: Context, args: argparse.Namespace) -> int:
    from distribution import rewards

    rule = ctx.run(
        "points_rule",
        rewards.set_rule,
        product_code=args.product,
        holder=args.holder,
        per_amount=args.per,
        point_value=args.value,
        valid_days=args.days,
        actor=actor(),
        now=ctx.clock(),
    )
    print(f"{rule.product_code}/{rule.holder}: 1 point per {rule.per_amount} minor units, ")
    print(f"worth {rule.point_value} minor units, valid {rule.valid_days} days")
    return 0


def _points_rules(ctx: Context, args: argparse.Namespace) -> int:
    from distribution import rewards

    found = ctx.run("points_rules", rewards.list_rules)
    print_rows([dict(vars(r)) for r in found], args.json)
    return 0


def _points_show(ctx: Context, args: argparse.Namespace) -> int:
    from distribution import rewards

    holder = _holder(ctx, args.holder, args.who)
    if args.what == "balance":
        found = ctx.run("points_balance", lambda txn: rewards.balance(txn, holder, now=ctx.clock()))
        row = {
            "points": found.points,
            "value": f"{found.value.format()} {found.value.currency}",
            "next_expiry": "" if found.next_expiry is None else found.next_expiry.isoformat(),
            "expiring": found.expiring_points,
        }
        print_rows([row], args.json)
        return 0
    moves = ctx.run("points_statement", lambda txn: rewards.statement(txn, holder))
    rows = [
        {
            "id": m.id,
            "at": m.at.isoformat(),
            "kind": m.kind,
            "points": m.points,
            "value": m.value.format(),
            "sale": m.sale_id or "",
            "reference": m.reference or "",
        }
        for m in moves
    ]
    print_rows(rows, args.json)
    return 0


def _points_redeem(ctx: Context, args: argparse.Namespace) -> int:
    from distribution import rewards

    holder = _holder(ctx, args.holder, args.who)
    done = ctx.run(
        "points_redeem",
        lambda txn: rewards.redeem(
            txn, holder, points=args.points, reference=args.reference, now=ctx.clock()
        ),
    )
    again = " (already redeemed under this reference)" if done.replayed else ""
    print(f"{done.points} points -> {done.value.format()} {done.value.currency}{again}")
    return 0


def _points_expire(ctx: Context, args: argparse.Namespace) -> int:
    from distribution import rewards

    expired = ctx.run("points_expire", lambda txn: rewards.expire(txn, now=ctx.clock()))
    print(f"{expired} point(s) expired")
    return 0
