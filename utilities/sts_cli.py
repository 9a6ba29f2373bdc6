"""``evd sts`` commands: ``evd sts check-vectors --keys KEYS.csv VECTORS.csv``."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from utilities.sts.errors import VectorFileError
from utilities.sts.vectors import check_files

if TYPE_CHECKING:
    from vending.cli.context import Context

EXIT_FAILURES = 1
EXIT_BAD_INPUT = 2


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``sts`` command group to the ``evd`` parser."""
    sts = subparsers.add_parser(
        "sts",
        help="STS (IEC 62055-41) token engine tools",
        description="STS (IEC 62055-41) token engine tools.",
    )
    commands = sts.add_subparsers(dest="sts_command", metavar="SUBCOMMAND", required=True)
    check = commands.add_parser(
        "check-vectors",
        help="check the engine against key and token vector CSV files",
        description=(
            "Derive every key of KEYS.csv from its inputs (DKGA02, DKGA04/STA, DKGA04/MISTY1) "
            "and compare it with the listed decoder key; encode every vector of VECTORS.csv "
            "with its listed key (key_id '-' = class 1, no key), compare with the expected "
            "token, and decode the expected token back to class and payload. Prints one line "
            "per failure and then 'N passed, M failed', where the counts cover key "
            "derivations (keys marked 'direct' are only used, not counted) and vectors. "
            "Exit status: 0 all passed, 1 any failure, 2 unreadable or malformed CSV."
        ),
    )
    check.add_argument(
        "--keys", required=True, metavar="KEYS.csv", help="decoder key CSV (sts-keys layout)"
    )
    check.add_argument("vectors", metavar="VECTORS.csv", help="token vector CSV")
    check.set_defaults(handler=check_vectors_command)


def check_vectors_command(context: Context | None, args: argparse.Namespace) -> int:
    try:
        report = check_files(args.keys, args.vectors)
    except VectorFileError as exc:
        print(f"evd sts check-vectors: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for failure in report.failures:
        print(f"FAIL {failure}")
    print(report.summary)
    return EXIT_FAILURES if report.failed else 0
