"""``evd cards reconcile``: the day's card payments against the switch's settlement report."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path
from typing import Any

from vending.cli.groups import Subparsers, command_group


def register(subparsers: Subparsers) -> None:
    group = command_group(subparsers, "cards", "card payments through the switch (docs/CARDS.md)")
    rec = group.add_parser(
        "reconcile", help="compare a day's card payments with the switch's settlement report"
    )
    rec.add_argument("--day", required=True, metavar="MMDD", help="DE 7's month and day")
    rec.add_argument("--report", required=True, help="the switch's CSV: rrn,amount_minor,status")
    rec.set_defaults(handler=_reconcile)


def read_report(path: Path) -> dict[str, Any]:
    from vending.card_payments import SettlementLine

    lines: dict[str, Any] = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["status"] == "approved":
                lines[row["rrn"]] = SettlementLine(row["rrn"], int(row["amount_minor"]), "approved")
    return lines


def _reconcile(context: Any, args: argparse.Namespace) -> int:
    from vending import card_payments

    ours = card_payments.our_settlement(context.run("card_day", card_payments.for_day, args.day))
    result = card_payments.reconcile(ours, read_report(Path(args.report)))
    print(f"matched            {len(result.matched)}")
    print(f"missing at switch  {' '.join(result.missing_at_switch) or '-'}")
    print(f"missing here       {' '.join(result.missing_here) or '-'}")
    print(f"amount mismatch    {' '.join(result.mismatched) or '-'}")
    return 0 if result.clean else 2
