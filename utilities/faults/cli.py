"""``evd fault list|show|close``: the utility's staff handle the faults customers reported
(XMLVend ``custReportFaultReq``) by their reference number."""

from __future__ import annotations

import argparse
from typing import Any

from vending.cli.context import Context
from vending.cli.groups import Subparsers, actor, command_group, print_rows


def register(subparsers: Subparsers) -> None:
    group = command_group(subparsers, "fault", "faults customers reported (by reference number)")

    listing = group.add_parser(
        "list", help="fault reports: all newest first, or --open oldest first (the work queue)"
    )
    listing.add_argument("--open", action="store_true", help="only reports not closed yet")
    listing.add_argument("--meter", metavar="MSNO", help="only reports about this meter")
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_fault_list)

    show = group.add_parser("show", help="everything about one report")
    show.add_argument("ref", help="the reference the customer quotes, e.g. FR00000018")
    show.set_defaults(handler=_fault_show)

    close = group.add_parser("close", help="close a report with how it was resolved (audited)")
    close.add_argument("ref")
    close.add_argument("--resolution", required=True, metavar="TEXT", help="what was done")
    close.set_defaults(handler=_fault_close)


def _when(moment: Any) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _meter(record: Any) -> str:
    if record.msno is None:
        return "-"
    return record.msno if record.meter_registered else f"{record.msno} (not registered)"


def _row(record: Any) -> dict[str, Any]:
    return {
        "ref": record.ref_no,
        "status": record.status,
        "kind": record.kind,
        "meter": _meter(record),
        "customer": record.customer.name,
        "reported": _when(record.created_at),
        "by": record.client_id,
        "description": (record.description or "-")[:40],
    }


def _fault_list(context: Context, args: argparse.Namespace) -> int:
    from utilities.faults.reports import list_fault_reports

    records = context.run(
        "fault_list", list_fault_reports, open_only=args.open, msno=args.meter, limit=args.limit
    )
    print_rows([_row(r) for r in records], args.json)
    return 0


def _fault_show(context: Context, args: argparse.Namespace) -> int:
    from utilities.faults.reports import get_fault_report

    record = context.run("fault_show", get_fault_report, args.ref)
    customer = record.customer
    lines = {
        "reference": record.ref_no,
        "status": record.status,
        "kind": record.kind,
        "meter": _meter(record),
        "description": record.description or "-",
        "customer": customer.name,
        "address": customer.address or "-",
        "contact number": customer.contact_no or "-",
        "account number": customer.account_no or "-",
        "location reference": customer.loc_ref or "-",
        "reported at": _when(record.created_at),
        "reported by": f"client {record.client_id}, terminal {record.terminal_id}, "
        f"operator {record.operator_name or '-'}",
        "closed at": _when(record.closed_at),
        "closed by": record.closed_by or "-",
        "resolution": record.resolution or "-",
    }
    for name, value in lines.items():
        print(f"{name:20} {value}")
    return 0


def _fault_close(context: Context, args: argparse.Namespace) -> int:
    from utilities.faults.reports import close_fault_report

    record = context.run(
        "fault_close",
        close_fault_report,
        args.ref,
        resolution=args.resolution,
        actor=actor(),
        now=context.now(),
    )
    print(f"fault report {record.ref_no} closed")
    return 0
