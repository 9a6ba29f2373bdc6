"""``evd api-key`` (JSON API keys and their webhook delivery log) and ``evd consumer``
(consumers and their wallets): entry point ``evd.commands: api``."""

from __future__ import annotations

import argparse
from typing import Any

from vending import api_keys, consumers, webhooks
from vending.cli.context import CommandError, Context
from vending.cli.groups import Subparsers, actor, command_group, print_rows, read_password
from vending.errors import VendingError
from vending.money import Money


def register(subparsers: Subparsers) -> None:
    keys = command_group(subparsers, "api-key", "JSON API keys")
    create = keys.add_parser(
        "create",
        help="a new key for a vendor's operator; the key is printed once, on the last line",
    )
    create.add_argument("--vendor", required=True, metavar="CLIENT_ID")
    create.add_argument("--operator", required=True, metavar="NAME")
    create.add_argument("--label", default="")
    create.set_defaults(handler=_key_create)
    listing = keys.add_parser("list", help="keys (never the keys themselves)")
    listing.add_argument("--vendor", metavar="CLIENT_ID")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_key_list)
    revoke = keys.add_parser("revoke", help="revoke a key (at once for changes)")
    revoke.add_argument("key_id", type=int)
    revoke.set_defaults(handler=_key_revoke)
    hooks = keys.add_parser("webhooks", help="a key's webhook deliveries and their attempts")
    hooks.add_argument("key_id", type=int)
    hooks.add_argument("--json", action="store_true")
    hooks.set_defaults(handler=_key_webhooks)

    group = command_group(subparsers, "consumer", "consumers and their prepaid wallets")
    add = group.add_parser("register", help="register a consumer (PIN read from the terminal)")
    add.add_argument("msisdn")
    add.add_argument("--name", required=True)
    add.add_argument("--kyc", type=int, default=0, choices=sorted(consumers.KYC_LIMITS))
    add.add_argument("--currency", default="ZAR")
    add.add_argument("--password-stdin", action="store_true", help="read the PIN from stdin")
    add.set_defaults(handler=_consumer_register)
    show = group.add_parser("list", help="consumers with their wallets")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=_consumer_list)
    change = group.add_parser("set", help="change a consumer's KYC level or status")
    change.add_argument("msisdn")
    change.add_argument("--kyc", type=int, choices=sorted(consumers.KYC_LIMITS))
    change.add_argument("--status", choices=("active", "blocked", "closed"))
    change.set_defaults(handler=_consumer_set)
    credit = group.add_parser("credit", help="staff credit to a wallet, with a reason")
    credit.add_argument("msisdn")
    credit.add_argument("amount", help="major units, e.g. 50.00")
    credit.add_argument("--reason", required=True)
    credit.set_defaults(handler=_consumer_credit)


def _key_create(context: Context, args: argparse.Namespace) -> int:
    record, key = context.run(
        "cli_api_key_create",
        api_keys.create_api_key,
        vendor_client_id=args.vendor,
        operator_name=args.operator,
        label=args.label,
        actor=actor(),
    )
    print(f"API key {record.id} for {record.vendor_client_id}/{record.operator_name} created.")
    print("It is shown only now; store it safely (only its hash is kept):")
    print(key)
    return 0


def _key_row(key: api_keys.ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "key": key.display,
        "vendor": key.vendor_client_id,
        "operator": key.operator_name,
        "label": key.label,
        "callback_url": key.callback_url or "",
        "created_at": key.created_at.isoformat(timespec="seconds"),
        "revoked_at": "" if key.revoked_at is None else key.revoked_at.isoformat("T", "seconds"),
    }


def _key_list(context: Context, args: argparse.Namespace) -> int:
    found = context.run("cli_api_key_list", api_keys.list_api_keys, args.vendor)
    print_rows([_key_row(k) for k in found], args.json)
    return 0


def _key_revoke(context: Context, args: argparse.Namespace) -> int:
    key = context.run("cli_api_key_revoke", api_keys.revoke_api_key, args.key_id, actor=actor())
    print(f"API key {key.id} ({key.display}) revoked")
    return 0


def _key_webhooks(context: Context, args: argparse.Namespace) -> int:
    context.run("cli_api_key_get", api_keys.get_api_key, args.key_id)
    found = context.run("cli_webhook_log", webhooks.deliveries_of, args.key_id)
    rows = [
        {
            "id": delivery.id,
            "event": delivery.event,
            "state": delivery.state,
            "attempts": len(attempts),
            "last": "" if not attempts else (attempts[-1].http_status or attempts[-1].error),
            "url": delivery.url,
            "created_at": delivery.created_at.isoformat(timespec="seconds"),
        }
        for delivery, attempts in found
    ]
    print_rows(rows, args.json)
    return 0


def _consumer_register(context: Context, args: argparse.Namespace) -> int:
    pin = read_password(args, "PIN: ")
    try:
        pin_hash = consumers.hash_pin(pin, log_n=context.config.security.scrypt_log_n)
    except VendingError as exc:
        raise CommandError(exc.message) from exc
    consumer = context.run(
        "cli_consumer_register",
        consumers.register_consumer,
        msisdn=args.msisdn,
        name=args.name,
        currency=args.currency,
        pin_hash=pin_hash,
        kyc_level=args.kyc,
        actor=actor(),
    )
    print(f"consumer {consumer.msisdn} registered (KYC level {consumer.kyc_level})")
    return 0


def _consumer_list(context: Context, args: argparse.Namespace) -> int:
    rows = [
        {
            "msisdn": c.msisdn,
            "name": c.name,
            "kyc": c.kyc_level,
            "status": c.status,
            "balance": c.balance.format(),
            "currency": c.balance.currency,
        }
        for c in context.run("cli_consumer_list", consumers.list_consumers)
    ]
    print_rows(rows, args.json)
    return 0


def _consumer_set(context: Context, args: argparse.Namespace) -> int:
    if args.kyc is None and args.status is None:
        raise CommandError("give --kyc and/or --status")
    consumer = context.run(
        "cli_consumer_set",
        consumers.set_consumer,
        args.msisdn,
        actor=actor(),
        kyc_level=args.kyc,
        status=args.status,
    )
    print(f"consumer {consumer.msisdn}: KYC level {consumer.kyc_level}, {consumer.status}")
    return 0


def _consumer_credit(context: Context, args: argparse.Namespace) -> int:
    found = context.run("cli_consumer_get", consumers.get_consumer, args.msisdn)
    try:
        amount = Money.parse(args.amount, found.balance.currency)
    except VendingError as exc:
        raise CommandError(exc.message) from exc
    consumer = context.run(
        "cli_consumer_credit",
        consumers.staff_credit,
        msisdn=args.msisdn,
        amount=amount,
        reason=args.reason,
        actor=actor(),
    )
    print(f"wallet of {consumer.msisdn}: {consumer.balance.format()} {amount.currency}")
    return 0
