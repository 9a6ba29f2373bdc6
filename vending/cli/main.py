"""``evd``: one console script; each package registers its sub-commands through the
``evd.commands`` entry-point group (see pyproject.toml), so the core never imports the
protocol or utility layers."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

from vending.cli.context import CommandError, Context
from vending.config import ConfigError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evd",
        description="EVD vending server: XMLVend 2.1, STS tokens, vouchers and ledger.",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="TOML configuration file (default: $EVD_CONFIG, else built-in defaults; "
        "see conf/evd.toml)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for entry_point in sorted(entry_points(group="evd.commands"), key=lambda e: e.name):
        entry_point.load()(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Alembic narrates every step at INFO; the command prints its own summary.
    logging.getLogger("alembic").setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    context = Context(config_path=args.config)
    try:
        result = args.handler(context, args)
    except ConfigError as exc:
        print(f"evd: configuration error: {exc}", file=sys.stderr)
        return 2
    except CommandError as exc:
        print(f"evd: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    finally:
        context.close()
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
