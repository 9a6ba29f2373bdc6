"""Generate realistic voucher stock files (docs/STOCK-FILES.md), encrypted and signed.

    .venv/bin/python -m tools.gen_stock --rows 1000 --product AIR-DEMO-10:10.00:16 \\
        --recipient operator.asc [--sign-with FPR --gnupg-home DIR] --out stock.csv.gpg

Serial numbers run in sequence from a prefix (as card series do), PINs are random digits of
each product's length and unique within the file, batches hold ``--batch-size`` vouchers
and expire a day apart. Also a library: the tests and the benchmark build their files with
:func:`generate_rows`, :func:`render_csv` and :func:`encrypt_stock`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from vending.vouchers.demo_stock import (
    HEADER,
    ProductSpec,
    StockRow,
    encrypt_stock,
    generate_rows,
    render_csv,
)
from vending.vouchers.gpg import StockGpg

__all__ = [
    "HEADER",
    "ProductSpec",
    "StockRow",
    "encrypt_stock",
    "generate_rows",
    "main",
    "render_csv",
]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.gen_stock", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--rows", type=int, required=True, help="vouchers to generate")
    parser.add_argument(
        "--product",
        action="append",
        required=True,
        metavar="CODE[:DENOMINATION[:PIN_LENGTH]]",
        help="product to generate (repeat for several; rows are split evenly)",
    )
    parser.add_argument(
        "--recipient", required=True, help="the operator's public key file, or its fingerprint"
    )
    parser.add_argument("--sign-with", metavar="FPR", help="sign with this secret key")
    parser.add_argument(
        "--gnupg-home",
        help="GnuPG home of the signing key (default: a temporary one, unsigned only)",
    )
    parser.add_argument("--out", required=True, type=Path, help="encrypted file to write")
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--serial-start", type=int, default=7_700_000_000_000_001)
    parser.add_argument("--expiry", type=date.fromisoformat, help="first batch's expiry date")
    parser.add_argument("--seed", type=int, help="reproducible PINs (test files only)")
    parser.add_argument("--armor", action="store_true", help="ASCII-armored output")
    args = parser.parse_args(argv)
    if args.sign_with and not args.gnupg_home:
        parser.error("--sign-with needs --gnupg-home (where the signing key is)")
    if args.rows <= 0:
        parser.error("--rows must be positive")
    plaintext = render_csv(
        generate_rows(
            [ProductSpec.parse(text) for text in args.product],
            args.rows,
            serial_start=args.serial_start,
            batch_size=args.batch_size,
            expiry=args.expiry,
            seed=args.seed,
        )
    )
    with tempfile.TemporaryDirectory(prefix="evd-gen-stock-") as scratch:
        home = args.gnupg_home or Path(scratch) / "gnupg"
        message = encrypt_stock(
            plaintext,
            gnupg_home=home,
            recipient=args.recipient,
            sign_with=args.sign_with,
            armor=args.armor,
        )
        if not args.gnupg_home:
            StockGpg(home).shutdown()
    args.out.write_bytes(message)
    print(f"wrote {args.rows} vouchers ({len(message)} bytes) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
