"""Core ``evd`` commands: database, demo data, ledger, vendors, operators, products, keys.

Every command that changes data runs one named transaction and writes the audit log, so a
new operator can set everything up without SQL.
"""

from __future__ import annotations

import argparse
from importlib.metadata import entry_points
from typing import Any

from vending import accounts as accounts_mod
from vending import batches, ledger, products, vendors
from vending.cli.context import CommandError, Context
from vending.cli.groups import Subparsers, actor, command_group, print_rows, read_password
from vending.errors import VendingError
from vending.money import Money
from vending.passwords import PasswordPolicyError, hash_password
from vending.storage import migrate


def register(subparsers: Subparsers) -> None:
    _register_db(subparsers)
    _register_demo(subparsers)
    _register_ledger(subparsers)
    _register_vendor(subparsers)
    _register_operator(subparsers)
    _register_product(subparsers)
    _register_keys(subparsers)


# --- db ---------------------------------------------------------------------------------------


def _register_db(subparsers: Subparsers) -> None:
    group = command_group(subparsers, "db", "database schema")
    upgrade = group.add_parser(
        "upgrade", help="create or migrate the database to the newest schema"
    )
    upgrade.set_defaults(handler=_db_upgrade)
    current = group.add_parser("current", help="show the schema revision")
    current.set_defaults(handler=_db_current)


def _db_upgrade(context: Context, args: argparse.Namespace) -> int:
    engine = context.database.engine
    before = migrate.current_revision(engine)
    migrate.upgrade(engine)
    after = migrate.current_revision(engine)
    url = engine.url.render_as_string(hide_password=True)
    if before == after:
        print(f"database {url} is up to date (revision {after})")
    else:
        print(f"database {url} migrated from {before or 'empty'} to {after}")
    return 0


def _db_current(context: Context, args: argparse.Namespace) -> int:
    current = migrate.current_revision(context.database.engine)
    head = migrate.head_revision()
    print(f"revision {current or 'none'} (newest: {head})")
    return 0 if current == head else 1


# --- demo -------------------------------------------------------------------------------------


def _register_demo(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "demo", help="seed demo data (idempotent): vendors, operators, products, meters, stock"
    )
    parser.set_defaults(handler=_demo)


def _demo(context: Context, args: argparse.Namespace) -> int:
    from vending.demo import seed_core
    from vending.keyring import KeyringError, load_master_key, write_master_key_file

    config = context.config
    # Checked first: a refused command must not leave a new master key file behind.
    if migrate.current_revision(context.database.engine) != migrate.head_revision():
        raise CommandError("the database is not migrated; run `evd db upgrade` first")
    try:
        load_master_key(config)
    except KeyringError:
        path = config.path(config.security.master_key_file)
        write_master_key_file(path)
        print(f"created a demo master key in {path} (keep it out of version control)")
    created = context.run(
        "demo_seed_core", seed_core, now=context.now(), password_log_n=config.security.scrypt_log_n
    )
    for entry_point in sorted(entry_points(group="evd.demo"), key=lambda e: e.name):
        created += entry_point.load()(context)
    if created:
        print("demo data created:")
        for line in created:
            print(f"  - {line}")
    else:
        print("demo data already present")
    return 0


# --- ledger -----------------------------------------------------------------------------------


def _register_ledger(subparsers: Subparsers) -> None:
    group = command_group(subparsers, "ledger", "the double-entry ledger")
    verify = group.add_parser(
        "verify",
        help="recompute every balance from the journal and check every transfer balances",
    )
    verify.set_defaults(handler=_ledger_verify)
    statement = group.add_parser("statement", help="last entries of an account")
    statement.add_argument("account", help="account code, e.g. vendor:6004708000090")
    statement.add_argument("-n", "--lines", type=int, default=20)
    statement.set_defaults(handler=_ledger_statement)
    listing = group.add_parser("accounts", help="list accounts and balances")
    listing.add_argument("--kind", help="only accounts of this kind")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_ledger_accounts)


def _ledger_verify(context: Context, args: argparse.Namespace) -> int:
    report = context.run("ledger_verify", ledger.verify_ledger)
    for line in report.problems():
        print(line)
    status = "OK" if report.ok else "FAILED"
    print(
        f"ledger {status}: {report.accounts_checked} accounts, "
        f"{report.transfers_checked} transfers checked, {len(report.problems())} problems"
    )
    return 0 if report.ok else 1


def _ledger_statement(context: Context, args: argparse.Namespace) -> int:
    def fetch(txn: Any) -> list[ledger.StatementLine]:
        account = accounts_mod.get_account(txn, args.account)
        return ledger.statement(txn, account.id, args.lines)

    lines = context.run("ledger_statement", fetch)
    print_rows(
        [
            {
                "at": line.applied_at.isoformat(timespec="seconds"),
                "transfer": line.transfer_id,
                "kind": line.kind,
                "role": line.role,
                "amount": line.amount.format(),
                "balance": line.balance_after.format(),
                "description": line.description,
            }
            for line in lines
        ],
        False,
    )
    return 0


def _ledger_accounts(context: Context, args: argparse.Namespace) -> int:
    rows = context.run("list_accounts", accounts_mod.list_accounts, args.kind)
    print_rows(
        [
            {
                "code": a.code,
                "kind": a.kind,
                "currency": a.currency,
                "balance": a.balance.format(),
                "credit_limit": "-" if a.credit_limit is None else a.credit_limit.format(),
                "blocked": a.blocked,
            }
            for a in rows
        ],
        args.json,
    )
    return 0


# --- vendors ----------------------------------------------------------------------------------


def _register_vendor(subparsers: Subparsers) -> None:
    group = command_group(subparsers, "vendor", "vendors (merchants) and their sales accounts")
    add = group.add_parser("add", help="register a vendor and open its prepaid sales account")
    add.add_argument("client_id", help="the XMLVend clientID (EAN-13 or generic id)")
    add.add_argument("--name", required=True)
    add.add_argument("--address", default="")
    add.add_argument("--currency", default="ZAR")
    add.add_argument("--credit-limit", default="0", help="overdraft allowed, e.g. 500.00")
    auth = add.add_mutually_exclusive_group()
    auth.add_argument("--require-auth", dest="require_auth", action="store_true", default=None)
    auth.add_argument("--no-require-auth", dest="require_auth", action="store_false")
    add.set_defaults(handler=_vendor_add)

    listing = group.add_parser("list", help="list vendors with balances")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_vendor_list)

    for name, sign, text in (("credit", 1, "credit (deposit)"), ("debit", -1, "debit (withdraw)")):
        cmd = group.add_parser(name, help=f"{text} a vendor's sales account, with a reason")
        cmd.add_argument("client_id")
        cmd.add_argument("amount", help="major units, e.g. 250.00")
        cmd.add_argument("--reason", required=True, help="recorded in the ledger and audit log")
        cmd.add_argument("--reference", help="e.g. the bank deposit reference")
        cmd.set_defaults(handler=_vendor_adjust, sign=sign)

    for name, blocked in (("block", True), ("unblock", False)):
        cmd = group.add_parser(name, help=f"{name} a vendor (all its requests are refused)")
        cmd.add_argument("client_id")
        cmd.add_argument("--reason", default="")
        cmd.set_defaults(handler=_vendor_block, blocked=blocked)

    for name, verb in (("grant", "grant"), ("revoke", "revoke")):
        cmd = group.add_parser(
            name,
            help=f"{verb} privileges beyond selling",
            description="Privileges: "
            + "; ".join(f"{k}: {v}" for k, v in vendors.PRIVILEGES.items()),
        )
        cmd.add_argument("client_id")
        cmd.add_argument("privilege", nargs="+", choices=sorted(vendors.PRIVILEGES))
        cmd.set_defaults(handler=_vendor_privileges, verb=verb)

    limit = group.add_parser("limit", help="set a vendor's credit limit")
    limit.add_argument("client_id")
    limit.add_argument("amount")
    limit.set_defaults(handler=_vendor_limit)

    batches_cmd = group.add_parser(
        "batches",
        help="a vendor's banking, sales and shift batches with their totals",
        description="Batches are opened and closed by the vendor's terminals over XMLVend "
        "(startBatchReq, endBatchReq); open ones show their running totals.",
    )
    batches_cmd.add_argument("client_id")
    batches_cmd.add_argument("--terminal", help="only this terminalID")
    batches_cmd.add_argument("--limit", type=int, default=20, help="newest N (default 20)")
    batches_cmd.add_argument("--json", action="store_true")
    batches_cmd.set_defaults(handler=_vendor_batches)


def _vendor_row(vendor: vendors.Vendor) -> dict[str, Any]:
    return {
        "client_id": vendor.client_id,
        "name": vendor.name,
        "currency": vendor.currency,
        "balance": vendor.balance.format(),
        "credit_limit": vendor.credit_limit.format(),
        "available": vendor.available.format(),
        "blocked": vendor.blocked,
        "privileges": ",".join(sorted(vendor.privileges)) or "-",
    }


def _parse_money(text: str, currency: str) -> Money:
    try:
        return Money.parse(text, currency)
    except VendingError as exc:
        raise CommandError(exc.message) from exc


def _vendor_add(context: Context, args: argparse.Namespace) -> int:
    vendor = context.run(
        "vendor_add",
        vendors.create_vendor,
        client_id=args.client_id,
        name=args.name,
        address=args.address,
        currency=args.currency,
        credit_limit=_parse_money(args.credit_limit, args.currency),
        require_auth=args.require_auth,
        actor=actor(),
        now=context.now(),
    )
    print(f"vendor {vendor.client_id} created with sales account vendor:{vendor.client_id}")
    return 0


def _vendor_list(context: Context, args: argparse.Namespace) -> int:
    rows = context.run("vendor_list", vendors.list_vendors)
    print_rows([_vendor_row(v) for v in rows], args.json)
    return 0


def _vendor_adjust(context: Context, args: argparse.Namespace) -> int:
    vendor = context.run("vendor_get", vendors.get_vendor, args.client_id)
    amount = _parse_money(args.amount, vendor.currency)
    if amount.amount <= 0:
        raise CommandError("the amount must be positive (use credit or debit for the direction)")
    context.run(
        "vendor_adjust",
        vendors.adjust_vendor_balance,
        args.client_id,
        amount if args.sign > 0 else -amount,
        reason=args.reason,
        actor=actor(),
        reference=args.reference,
        now=context.now(),
    )
    vendor = context.run("vendor_get", vendors.get_vendor, args.client_id)
    print(f"vendor {vendor.client_id}: balance {vendor.balance}, available {vendor.available}")
    return 0


def _vendor_batches(context: Context, args: argparse.Namespace) -> int:
    vendor = context.run("vendor_get", vendors.get_vendor, args.client_id)
    reports = context.run(
        "vendor_batches",
        batches.list_batches,
        vendor_id=vendor.id,
        terminal_id=args.terminal,
        limit=args.limit,
        now=context.now(),
    )
    rows = [
        {
            "terminal": report.batch.terminal_id,
            "kind": report.batch.kind,
            "seq_no": report.batch.seq_no,
            "state": report.batch.state,
            "started": report.batch.started_at.isoformat(timespec="seconds"),
            "ended": "-"
            if report.batch.ended_at is None
            else report.batch.ended_at.isoformat(timespec="seconds"),
            "sales": report.totals.sale_count,
            "sales_amount": report.totals.sales.format(),
            "reversals": report.totals.reversal_count,
            "reversed_amount": report.totals.reversals.format(),
            "total": report.totals.net.format(),
            "vendor_net": report.totals.vendor_net.format(),
        }
        for report in reports
    ]
    print_rows(rows, args.json)
    return 0


def _vendor_block(context: Context, args: argparse.Namespace) -> int:
    vendor = context.run(
        "vendor_block",
        vendors.set_vendor_blocked,
        args.client_id,
        args.blocked,
        actor=actor(),
        reason=args.reason,
        now=context.now(),
    )
    print(f"vendor {vendor.client_id} {'blocked' if vendor.blocked else 'unblocked'}")
    return 0


def _vendor_privileges(context: Context, args: argparse.Namespace) -> int:
    change = (
        {"grant": set(args.privilege)} if args.verb == "grant" else {"revoke": set(args.privilege)}
    )
    vendor = context.run(
        "vendor_privileges",
        vendors.set_vendor_privileges,
        args.client_id,
        actor=actor(),
        now=context.now(),
        **change,
    )
    held = ", ".join(sorted(vendor.privileges)) or "none"
    print(f"vendor {vendor.client_id} privileges: {held}")
    return 0


def _vendor_limit(context: Context, args: argparse.Namespace) -> int:
    vendor = context.run("vendor_get", vendors.get_vendor, args.client_id)
    vendor = context.run(
        "vendor_limit",
        vendors.set_vendor_credit_limit,
        args.client_id,
        _parse_money(args.amount, vendor.currency),
        actor=actor(),
        now=context.now(),
    )
    print(f"vendor {vendor.client_id}: credit limit {vendor.credit_limit}")
    return 0


# --- operators --------------------------------------------------------------------------------


def _register_operator(subparsers: Subparsers) -> None:
    group = command_group(subparsers, "operator", "operators (opName/password) and staff")
    add = group.add_parser("add", help="add an operator of a vendor, or a staff admin")
    add.add_argument("name")
    add.add_argument("--vendor", metavar="CLIENT_ID", help="the vendor this operator works for")
    add.add_argument("--admin", action="store_true", help="staff administrator (no vendor)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(handler=_operator_add)

    listing = group.add_parser("list", help="list operators")
    listing.add_argument("--vendor", metavar="CLIENT_ID")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_operator_list)

    passwd = group.add_parser("passwd", help="set an operator's password")
    passwd.add_argument("name")
    passwd.add_argument("--vendor", metavar="CLIENT_ID")
    passwd.add_argument("--password-stdin", action="store_true")
    passwd.set_defaults(handler=_operator_passwd)

    for name, blocked in (("block", True), ("unblock", False)):
        cmd = group.add_parser(name, help=f"{name} an operator")
        cmd.add_argument("name")
        cmd.add_argument("--vendor", metavar="CLIENT_ID")
        cmd.set_defaults(handler=_operator_block, blocked=blocked)


def _hash(context: Context, args: argparse.Namespace) -> str:
    try:
        return hash_password(read_password(args), log_n=context.config.security.scrypt_log_n)
    except PasswordPolicyError as exc:
        raise CommandError(str(exc)) from exc


def _operator_add(context: Context, args: argparse.Namespace) -> int:
    if bool(args.vendor) == bool(args.admin):
        raise CommandError("give either --vendor CLIENT_ID or --admin")
    operator = context.run(
        "operator_add",
        vendors.create_operator,
        name=args.name,
        password_hash=_hash(context, args),
        vendor_client_id=args.vendor,
        role="admin" if args.admin else "operator",
        actor=actor(),
        now=context.now(),
    )
    print(f"operator {operator.name} created ({operator.role})")
    return 0


def _operator_list(context: Context, args: argparse.Namespace) -> int:
    rows = context.run("operator_list", vendors.list_operators, args.vendor)
    print_rows(
        [
            {
                "id": o.id,
                "name": o.name,
                "role": o.role,
                "vendor_id": o.vendor_id or "-",
                "blocked": o.blocked,
            }
            for o in rows
        ],
        args.json,
    )
    return 0


def _operator_passwd(context: Context, args: argparse.Namespace) -> int:
    operator = context.run("operator_get", vendors.get_operator, args.name, args.vendor)
    context.run(
        "operator_passwd",
        vendors.set_operator_password,
        operator.id,
        _hash(context, args),
        actor=actor(),
        now=context.now(),
    )
    print(f"password of operator {operator.name} changed")
    return 0


def _operator_block(context: Context, args: argparse.Namespace) -> int:
    operator = context.run("operator_get", vendors.get_operator, args.name, args.vendor)
    context.run(
        "operator_block",
        vendors.set_operator_blocked,
        operator.id,
        args.blocked,
        actor=actor(),
        now=context.now(),
    )
    print(f"operator {operator.name} {'blocked' if args.blocked else 'unblocked'}")
    return 0


# --- products ---------------------------------------------------------------------------------


def _register_product(subparsers: Subparsers) -> None:
    group = command_group(subparsers, "product", "the product catalogue")
    listing = group.add_parser("list", help="list products")
    listing.add_argument("--kind")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_product_list)

    add = group.add_parser("add", help="add a product")
    add.add_argument("code")
    add.add_argument(
        "--kind", required=True, help="electricity, voucher, pinless, bill_payment, ..."
    )
    add.add_argument("--name", required=True)
    add.add_argument("--currency", default="ZAR")
    add.add_argument("--supplier", required=True, help="supplier or utility account code")
    add.add_argument("--face-value", help="fixed price, e.g. 10.00")
    add.add_argument("--min", dest="min_amount", help="open amount: minimum")
    add.add_argument("--max", dest="max_amount", help="open amount: maximum")
    add.add_argument("--supplier-discount-bp", type=int, default=0)
    add.add_argument("--commission-bp", type=int, default=0, help="merchant commission")
    add.add_argument("--fee", default="0")
    add.add_argument(
        "--reversal-policy", default="refund", choices=("refund", "refund_unconfirmed", "none")
    )
    add.add_argument("--attribute", action="append", default=[], metavar="KEY=VALUE")
    add.set_defaults(handler=_product_add)

    for name, active in (("enable", True), ("disable", False)):
        cmd = group.add_parser(name, help=f"{name} sales of a product")
        cmd.add_argument("code")
        cmd.set_defaults(handler=_product_active, active=active)

    supplier = group.add_parser("supplier-account", help="open a supplier or utility account")
    supplier.add_argument("code", help="e.g. supplier:MTN or utility:CITY")
    supplier.add_argument("--name", required=True)
    supplier.add_argument("--kind", choices=("supplier", "utility"), default="supplier")
    supplier.add_argument("--currency", default="ZAR")
    supplier.set_defaults(handler=_supplier_account)


def _product_list(context: Context, args: argparse.Namespace) -> int:
    rows = context.run("product_list", products.list_products, kind=args.kind)
    print_rows(
        [
            {
                "code": p.code,
                "kind": p.kind,
                "name": p.name,
                "price": p.face_value.format()
                if p.face_value
                else f"{p.min_amount.format()}-{p.max_amount.format()}",  # type: ignore[union-attr]
                "currency": p.currency,
                "commission_bp": p.merchant_commission_bp,
                "reversal": p.reversal_policy,
                "active": p.active,
            }
            for p in rows
        ],
        args.json,
    )
    return 0


def _product_add(context: Context, args: argparse.Namespace) -> int:
    attributes: dict[str, Any] = {}
    for item in args.attribute:
        key, sep, value = item.partition("=")
        if not sep:
            raise CommandError(f"--attribute {item!r}: expected KEY=VALUE")
        attributes[key] = int(value) if value.isdigit() else value

    def money(text: str | None) -> Money | None:
        return None if text is None else _parse_money(text, args.currency)

    product = context.run(
        "product_add",
        products.create_product,
        code=args.code,
        kind=args.kind,
        name=args.name,
        currency=args.currency,
        supplier_account_code=args.supplier,
        face_value=money(args.face_value),
        min_amount=money(args.min_amount),
        max_amount=money(args.max_amount),
        supplier_discount_bp=args.supplier_discount_bp,
        merchant_commission_bp=args.commission_bp,
        fee=money(args.fee),
        reversal_policy=args.reversal_policy,
        attributes=attributes,
        actor=actor(),
        now=context.now(),
    )
    print(f"product {product.code} created")
    return 0


def _product_active(context: Context, args: argparse.Namespace) -> int:
    context.run(
        "product_active",
        products.set_active,
        args.code,
        args.active,
        actor=actor(),
        now=context.now(),
    )
    print(f"product {args.code} {'enabled' if args.active else 'disabled'}")
    return 0


def _supplier_account(context: Context, args: argparse.Namespace) -> int:
    account = context.run(
        "supplier_account",
        accounts_mod.create_account,
        code=args.code,
        kind=args.kind,
        name=args.name,
        currency=args.currency,
        now=context.now(),
    )
    print(f"{account.kind} account {account.code} created")
    return 0


# --- keys -------------------------------------------------------------------------------------


def _register_keys(subparsers: Subparsers) -> None:
    group = command_group(subparsers, "keys", "keys: master key, data keys, STS vending keys")
    init = group.add_parser("init", help="create the master key file (security.master_key_file)")
    init.set_defaults(handler=_keys_init)
    rotate = group.add_parser(
        "rotate",
        help="start a new data key for new rows; with --new-master, re-wrap every data key "
        "under a new master key",
    )
    rotate.add_argument(
        "--new-master", metavar="FILE", help="file holding the new master key (base64 of 32 bytes)"
    )
    rotate.set_defaults(handler=_keys_rotate)


def _keys_init(context: Context, args: argparse.Namespace) -> int:
    from vending.keyring import write_master_key_file

    path = context.config.path(context.config.security.master_key_file)
    if path.exists():
        raise CommandError(f"{path} already exists; refusing to overwrite a master key")
    key = write_master_key_file(path)
    print(f"master key {key.fingerprint} written to {path} (mode 600); back it up safely")
    return 0


def _keys_rotate(context: Context, args: argparse.Namespace) -> int:
    from pathlib import Path

    from vending.keyring import KeyringError, MasterKey

    keyring = context.keyring
    if args.new_master:
        try:
            new_master = MasterKey.from_base64(Path(args.new_master).read_text(encoding="ascii"))
        except (OSError, UnicodeDecodeError, KeyringError) as exc:
            raise CommandError(f"new master key {args.new_master}: {exc}") from exc
    # A master key that does not match the stored data keys is the user's to fix.
    try:
        if args.new_master:
            count = context.run("keys_rewrap", keyring.rewrap, new_master)
            print(
                f"{count} data keys re-wrapped under master key {new_master.fingerprint}; "
                "configure the new master key before the next start"
            )
        else:
            key_id = context.run("keys_rotate", keyring.rotate_data_key, now=context.now())
            print(f"data key {key_id} is now active for new rows")
    except KeyringError as exc:
        raise CommandError(str(exc)) from exc
    return 0
