"""``evd admin``: users of the admin web suite from the command line (the first
administrator of a new installation starts here). Every change is audited with the actor
running the command."""

from __future__ import annotations

import argparse

from staff import roles, users
from vending.cli.context import CommandError, Context
from vending.cli.groups import Subparsers, actor, command_group, print_rows
from vending.passwords import hash_password
from vending.services.staff import one_time_password


def register(subparsers: Subparsers) -> None:
    group = command_group(subparsers, "admin", "users of the admin web suite (/admin)")

    create = group.add_parser("create-user", help="a new user with a one-time password")
    create.add_argument("username")
    create.add_argument("--name", required=True, help="the user's full name")
    create.add_argument("--role", required=True, choices=sorted(roles.ROLES))
    create.add_argument("--node", help="a partner role's network node code")
    create.set_defaults(handler=_create)

    reset = group.add_parser(
        "reset-password", help="a new one-time password (changed at the next sign-in)"
    )
    reset.add_argument("username")
    reset.add_argument("--reset-totp", action="store_true", help="and enrol two-factor again")
    reset.set_defaults(handler=_reset)

    listing = group.add_parser("users", help="list the users")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_list)


def _create(ctx: Context, args: argparse.Namespace) -> int:
    temporary = one_time_password()
    hashed = hash_password(temporary, log_n=ctx.config.security.scrypt_log_n)
    user = ctx.run(
        "admin_cli_create_user",
        users.create_user,
        username=args.username,
        display_name=args.name,
        role=args.role,
        password_hash=hashed,
        node_code=args.node,
        must_change_password=True,
        actor=actor(),
        now=ctx.now(),
    )
    print(f"created {user.username} ({user.role}); one-time password: {temporary}")
    print("It must be changed at the first sign-in, where two-factor is set up too.")
    return 0


def _reset(ctx: Context, args: argparse.Namespace) -> int:
    found = ctx.run("admin_cli_find_user", users.find_user, args.username)
    if found is None:
        raise CommandError(f"no user {args.username!r}")
    temporary = one_time_password()
    hashed = hash_password(temporary, log_n=ctx.config.security.scrypt_log_n)
    ctx.run(
        "admin_cli_reset_password",
        users.set_password,
        user_id=found.id,
        password_hash=hashed,
        must_change=True,
        actor=actor(),
        now=ctx.now(),
        action="user.password_reset",
    )
    if args.reset_totp:
        ctx.run(
            "admin_cli_reset_totp", users.reset_totp, user_id=found.id, actor=actor(), now=ctx.now()
        )
    print(f"{found.username}: one-time password {temporary} (changed at the next sign-in)")
    return 0


def _list(ctx: Context, args: argparse.Namespace) -> int:
    rows = [
        {
            "username": u.username,
            "name": u.display_name,
            "role": u.role,
            "node": u.node_code or "",
            "status": u.status,
            "two_factor": "on" if u.totp_enabled else "not set up",
        }
        for u in ctx.run("admin_cli_users", users.list_users)
    ]
    print_rows(rows, args.json)
    return 0
