"""``evd supplier``, ``evd voucher-product`` and ``evd stock`` commands.

Every command that changes data runs named transactions and is audited; nothing here
prints a PIN except ``evd stock reprint``, which is the authorised reprint.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from vending.cli.context import CommandError, Context
from vending.cli.groups import Subparsers, actor, command_group, print_rows
from vending.errors import VendingError
from vending.money import Money
from vending.storage.database import Txn
from vending.vouchers import alerts, quarantine, reports, suppliers
from vending.vouchers.errors import StockFileRejected
from vending.vouchers.gpg import StockGpg
from vending.vouchers.importer import StockImporter
from vending.vouchers.products import CATEGORIES, create_voucher_product
from vending.vouchers.selling import reprint_voucher


def register(subparsers: Subparsers) -> None:
    _register_supplier(subparsers)
    _register_voucher_product(subparsers)
    _register_stock(subparsers)


# --- shared helpers ------------------------------------------------------------------------


def stock_gpg(context: Context) -> StockGpg:
    """The configured GnuPG home of stock-file keys (``vouchers.gnupg_home``)."""
    try:
        return StockGpg(context.config.path(context.config.vouchers.gnupg_home))
    except VendingError as exc:
        raise CommandError(exc.message) from exc


def _money(text: str, currency: str) -> Money:
    try:
        return Money.parse(text, currency)
    except VendingError as exc:
        raise CommandError(exc.message) from exc


def _read_key(context: Context, path: str) -> suppliers.SupplierKey:
    try:
        armored = Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"cannot read key file {path}: {exc}") from exc
    try:
        with stock_gpg(context) as gpg:
            key = gpg.inspect_public_key(armored)
    except VendingError as exc:
        raise CommandError(exc.message) from exc
    return suppliers.SupplierKey(key.fingerprint, armored)


# --- evd supplier ------------------------------------------------------------------------------


def _register_supplier(subparsers: Subparsers) -> None:
    group = command_group(subparsers, "supplier", "voucher suppliers and their signing keys")
    add = group.add_parser("add", help="register a voucher supplier")
    add.add_argument("code", help="short code, e.g. ACME")
    add.add_argument("--name", required=True)
    add.add_argument(
        "--account", help="settlement account code (default supplier:CODE; opened if missing)"
    )
    add.add_argument("--currency", default="ZAR")
    add.add_argument("--key", metavar="FILE", help="the supplier's OpenPGP public key (armored)")
    add.add_argument(
        "--require-signature",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="refuse stock files not signed by the key (default: on when --key is given)",
    )
    add.set_defaults(handler=_supplier_add)

    listing = group.add_parser("list", help="list suppliers")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_supplier_list)

    key = group.add_parser("key", help="replace a supplier's signing key or signature policy")
    key.add_argument("code")
    source = key.add_mutually_exclusive_group(required=True)
    source.add_argument("--key", metavar="FILE", help="the new public key (armored)")
    source.add_argument("--no-key", action="store_true", help="forget the key")
    key.add_argument("--require-signature", action=argparse.BooleanOptionalAction, default=None)
    key.set_defaults(handler=_supplier_key)


def _supplier_add(context: Context, args: argparse.Namespace) -> int:
    key = _read_key(context, args.key) if args.key else None
    require = key is not None if args.require_signature is None else args.require_signature
    supplier = context.run(
        "supplier_add",
        suppliers.add_supplier,
        code=args.code,
        name=args.name,
        account_code=args.account or f"supplier:{args.code}",
        currency=args.currency,
        key=key,
        require_signature=require,
        actor=actor(),
        now=context.now(),
    )
    signature = "signatures required" if supplier.require_signature else "signatures optional"
    print(
        f"supplier {supplier.code} created, settled to {supplier.account_code} "
        f"(key {supplier.pgp_fingerprint or 'none'}, {signature})"
    )
    return 0


def _supplier_list(context: Context, args: argparse.Namespace) -> int:
    rows = context.run("supplier_list", suppliers.list_suppliers)
    print_rows(
        [
            {
                "code": s.code,
                "name": s.name,
                "account": s.account_code,
                "currency": s.currency,
                "key": s.pgp_fingerprint or "-",
                "signature": "required" if s.require_signature else "optional",
            }
            for s in rows
        ],
        args.json,
    )
    return 0


def _supplier_key(context: Context, args: argparse.Namespace) -> int:
    key = None if args.no_key else _read_key(context, args.key)
    require = key is not None if args.require_signature is None else args.require_signature
    supplier = context.run(
        "supplier_key",
        suppliers.set_supplier_key,
        args.code,
        key=key,
        require_signature=require,
        actor=actor(),
        now=context.now(),
    )
    print(f"supplier {supplier.code}: key {supplier.pgp_fingerprint or 'none'}")
    return 0


# --- evd voucher-product ---------------------------------------------------------------------


def _register_voucher_product(subparsers: Subparsers) -> None:
    group = command_group(subparsers, "voucher-product", "denominated voucher products")
    add = group.add_parser("add", help="add a voucher product sold from a supplier's stock")
    add.add_argument("code", help="product code, e.g. MTN-AIR-10")
    add.add_argument("--supplier", required=True, help="supplier code")
    add.add_argument("--network", required=True, help="network or brand, e.g. MTN")
    add.add_argument("--face-value", required=True, help="selling price, e.g. 10.00")
    add.add_argument("--cost-price", required=True, help="what the supplier charges, e.g. 9.40")
    add.add_argument(
        "--merchant-discount-bp",
        type=int,
        default=0,
        help="merchant's discount in basis points of the face value (300 = 3%%)",
    )
    add.add_argument(
        "--denomination", help="label in stock files, e.g. 1GB (default: the face value)"
    )
    add.add_argument("--currency", default="ZAR")
    add.add_argument("--name", help="display name (default: network, category, denomination)")
    add.add_argument("--category", choices=CATEGORIES, default="airtime")
    add.add_argument("--pin-length", type=int, help="digits of every PIN (checked on import)")
    add.add_argument("--instructions", help="redeem instructions printed on the slip")
    add.add_argument("--low-stock", type=int, help="low-stock alert threshold")
    add.set_defaults(handler=_voucher_product_add)


def _voucher_product_add(context: Context, args: argparse.Namespace) -> int:
    product = context.run(
        "voucher_product_add",
        create_voucher_product,
        code=args.code,
        supplier_code=args.supplier,
        network=args.network,
        face_value=_money(args.face_value, args.currency),
        cost_price=_money(args.cost_price, args.currency),
        merchant_commission_bp=args.merchant_discount_bp,
        low_stock_threshold=(
            context.config.vouchers.low_stock_threshold
            if args.low_stock is None
            else args.low_stock
        ),
        name=args.name,
        denomination=args.denomination,
        category=args.category,
        pin_length=args.pin_length,
        instructions=args.instructions,
        actor=actor(),
        now=context.now(),
    )
    print(f"voucher product {product.code} created ({product.name}, {product.face_value})")
    return 0


# --- evd stock ----------------------------------------------------------------------------------


def _register_stock(subparsers: Subparsers) -> None:
    group = command_group(subparsers, "stock", "voucher stock: keys, imports, levels, reports")
    keygen = group.add_parser(
        "keygen", help="create this server's stock-file key pair (once) and export its public key"
    )
    keygen.add_argument("--user-id", default="EVD stock files <stock@localhost>")
    keygen.add_argument("--export", metavar="FILE", help="write the public key for suppliers here")
    keygen.set_defaults(handler=_stock_keygen)

    imp = group.add_parser("import", help="import an encrypted stock file (all rows or none)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--supplier", required=True)
    imp.add_argument(
        "--show-errors", type=int, default=200, metavar="N", help="bad lines to print (0 = all)"
    )
    imp.add_argument("--no-progress", action="store_true")
    imp.set_defaults(handler=_stock_import)

    levels = group.add_parser("levels", help="stock per product")
    levels.add_argument("--days", type=int, help="expiring-soon horizon (vouchers.expiring_days)")
    levels.add_argument("--json", action="store_true")
    levels.set_defaults(handler=_stock_levels)

    expiring = group.add_parser("expiring", help="batches with stock expiring soon")
    expiring.add_argument("--days", type=int, help="horizon (default vouchers.expiring_days)")
    expiring.add_argument(
        "--notify", action="store_true", help="raise an alert per batch (once per batch)"
    )
    expiring.add_argument("--json", action="store_true")
    expiring.set_defaults(handler=_stock_expiring)

    report = group.add_parser("report", help="per-batch reconciliation, at face and cost")
    report.add_argument("--supplier")
    report.add_argument("--json", action="store_true")
    report.set_defaults(handler=_stock_report)

    release = group.add_parser("release", help="return quarantined vouchers to stock")
    release.add_argument("serials", nargs="+", metavar="SERIAL")
    release.add_argument("--supplier", required=True)
    release.add_argument("--reason", required=True, help="why (audited)")
    release.set_defaults(handler=_stock_release)

    quarantine_cmd = group.add_parser(
        "quarantine", help="withdraw vouchers from sale (by serial number or batch)"
    )
    quarantine_cmd.add_argument("serials", nargs="*", metavar="SERIAL")
    quarantine_cmd.add_argument("--batch", help="a whole batch number")
    quarantine_cmd.add_argument("--supplier", required=True)
    quarantine_cmd.add_argument("--reason", required=True, help="why (audited)")
    quarantine_cmd.set_defaults(handler=_stock_quarantine)

    threshold = group.add_parser("threshold", help="set a product's low-stock alert threshold")
    threshold.add_argument("product")
    threshold.add_argument("count", type=int)
    threshold.set_defaults(handler=_stock_threshold)

    reprint = group.add_parser(
        "reprint", help="authorised reprint: show a sale's voucher with its PIN (audited)"
    )
    reprint.add_argument("sale_id", type=int)
    reprint.set_defaults(handler=_stock_reprint)


def _stock_keygen(context: Context, args: argparse.Namespace) -> int:
    with stock_gpg(context) as gpg:
        existing = gpg.secret_key_fingerprints()
        try:
            fingerprint = existing[0] if existing else gpg.generate_key(args.user_id)
            armored = gpg.export_public_key(fingerprint)
        except VendingError as exc:
            raise CommandError(exc.message) from exc
    state = "exists" if existing else "created"
    print(f"stock key {fingerprint} {state} in {gpg.home}")
    if args.export:
        Path(args.export).write_text(armored, encoding="ascii")
        print(f"public key written to {args.export}: send it to suppliers")
    else:
        print(armored, end="")
    return 0


class _ProgressBar:
    """A one-line progress bar on a terminal's stderr."""

    def __init__(self) -> None:
        self._shown_at = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self._shown_at < 0.1 and done < total:
            return
        self._shown_at = now
        fraction = done / total if total else 1.0
        filled = int(fraction * 40)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (40 - filled)}] {done}/{total} vouchers")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _stock_import(context: Context, args: argparse.Namespace) -> int:
    if not args.file.is_file():
        raise CommandError(f"no such file: {args.file}")
    keyring = context.keyring
    progress = None if args.no_progress or not sys.stderr.isatty() else _ProgressBar()
    started = time.perf_counter()
    try:
        with stock_gpg(context) as gpg:
            importer = StockImporter(
                context.database,
                keyring,
                gpg,
                clock=context.clock,
                low_stock_threshold=context.config.vouchers.low_stock_threshold,
            )
            summary = importer.import_file(
                args.file, supplier_code=args.supplier, actor=actor(), progress=progress
            )
    except StockFileRejected as exc:
        shown = exc.problems if args.show_errors == 0 else exc.problems[: args.show_errors]
        for problem in shown:
            print(str(problem), file=sys.stderr)
        if len(shown) < len(exc.problems):
            print(f"... and {len(exc.problems) - len(shown)} more bad lines", file=sys.stderr)
        raise CommandError(
            f"{args.file.name}: {len(exc.problems)} bad line(s); nothing was imported"
        ) from exc
    except VendingError as exc:
        raise CommandError(f"{args.file.name}: {exc.message}; nothing was imported") from exc
    for line in summary.lines():
        print(line)
    seconds = time.perf_counter() - started
    print(f"imported in {seconds:.1f} s ({summary.rows / max(seconds, 1e-9):.0f} vouchers/s)")
    return 0


def _stock_levels(context: Context, args: argparse.Namespace) -> int:
    days = context.config.vouchers.expiring_days if args.days is None else args.days
    levels = context.run(
        "stock_levels", reports.stock_levels, today=context.now().date(), expiring_days=days
    )
    print_rows(
        [
            {
                "product": level.product_code,
                "network": level.network,
                "face": level.face_value.format(),
                "sellable": level.sellable,
                f"expiring_{days}d": level.expiring_soon,
                "expired": level.expired,
                "quarantined": level.quarantined,
                "sold": level.sold,
                "threshold": "-" if level.threshold is None else level.threshold,
                "status": "LOW" if level.low else "ok",
            }
            for level in levels
        ],
        args.json,
    )
    return 0


def _stock_expiring(context: Context, args: argparse.Namespace) -> int:
    days = context.config.vouchers.expiring_days if args.days is None else args.days
    if args.notify:
        context.run(
            "stock_expiring_alerts", alerts.raise_expiring_alerts, days=days, now=context.now()
        )
    batches = context.run(
        "stock_expiring", alerts.expiring_batches, days=days, today=context.now().date()
    )
    print_rows(
        [
            {
                "product": b.product_code,
                "batch": b.batch_no,
                "import": b.import_id,
                "vouchers": b.count,
                "earliest_expiry": b.earliest_expiry.isoformat(),
            }
            for b in batches
        ],
        args.json,
    )
    return 0


def _stock_report(context: Context, args: argparse.Namespace) -> int:
    lines = context.run(
        "stock_report",
        reports.batch_reconciliation,
        today=context.now().date(),
        supplier_code=args.supplier,
    )
    rows = [
        {
            "supplier": r.supplier_code,
            "import": r.import_id,
            "batch": r.batch_no,
            "product": r.product_code,
            "imported": r.imported,
            "sold": r.sold,
            "reversed": r.reversed,
            "quarantined": r.quarantined,
            "expired": r.expired,
            "remaining": r.remaining,
            "remaining_face": r.at_face(r.remaining).format(),
            "remaining_cost": r.at_cost(r.remaining).format(),
            "sold_face": r.at_face(r.sold).format(),
            "sold_cost": r.at_cost(r.sold).format(),
            "check": "ok" if r.balanced else f"MISMATCH ({r.accounted} found)",
        }
        for r in lines
    ]
    print_rows(rows, args.json)
    if not args.json and lines:
        currency = lines[0].face_value.currency
        totals = {
            name: sum(getattr(r, name) for r in lines)
            for name in ("imported", "sold", "reversed", "quarantined", "expired", "remaining")
        }
        face = sum(r.at_face(r.remaining).amount for r in lines)
        cost = sum(r.at_cost(r.remaining).amount for r in lines)
        print(
            "total: "
            + ", ".join(f"{name} {count}" for name, count in totals.items())
            + f"; remaining at face {Money(face, currency)}, at cost {Money(cost, currency)}"
        )
    return 0 if all(r.balanced for r in lines) else 1


def _stock_release(context: Context, args: argparse.Namespace) -> int:
    count = context.run(
        "stock_release",
        quarantine.release_vouchers,
        supplier_code=args.supplier,
        serials=args.serials,
        reason=args.reason,
        actor=actor(),
        now=context.now(),
    )
    print(f"{count} voucher(s) returned to stock")
    return 0


def _stock_quarantine(context: Context, args: argparse.Namespace) -> int:
    count = context.run(
        "stock_quarantine",
        quarantine.quarantine_vouchers,
        supplier_code=args.supplier,
        serials=args.serials or None,
        batch_no=args.batch,
        reason=args.reason,
        actor=actor(),
        now=context.now(),
    )
    print(f"{count} voucher(s) quarantined")
    return 0


def _stock_threshold(context: Context, args: argparse.Namespace) -> int:
    context.run(
        "stock_threshold",
        alerts.set_threshold,
        args.product,
        args.count,
        actor=actor(),
        now=context.now(),
    )
    print(f"{args.product}: low-stock alert at {args.count} vouchers or fewer")
    return 0


def _stock_reprint(context: Context, args: argparse.Namespace) -> int:
    keyring = context.keyring
    now = context.now()

    def reprint(txn: Txn) -> Any:
        return reprint_voucher(txn, keyring, args.sale_id, actor=actor(), now=now)

    voucher = context.run("voucher_reprint", reprint)
    expiry = voucher.expiry.isoformat() if voucher.expiry else "none"
    print(f"product {voucher.product_code} ({voucher.network}), serial {voucher.serial_no}")
    print(f"PIN {voucher.pin}  expires {expiry}  batch {voucher.batch_no}")
    print(voucher.instructions)
    return 0
