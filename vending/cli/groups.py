"""Helpers every package's commands share: command groups several packages add to (``evd
keys import`` from utilities, ``evd keys rotate`` from the core), the audit actor, password
input and table output."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from typing import Any

Subparsers = argparse._SubParsersAction  # type: ignore[type-arg]


def command_group(subparsers: Subparsers, name: str, help_text: str) -> Subparsers:
    """The sub-command parsers of group ``name``, created on first use."""
    groups: dict[str, Subparsers] = subparsers.__dict__.setdefault("_evd_groups", {})
    if name not in groups:
        parser = subparsers.add_parser(name, help=help_text, description=help_text)
        groups[name] = parser.add_subparsers(dest=f"{name}_command", metavar="COMMAND")
        groups[name].required = True
    return groups[name]


def actor() -> str:
    """Who runs this command, for the audit log."""
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return f"cli:{os.environ.get('EVD_ACTOR') or user}"


def read_password(args: argparse.Namespace, prompt: str = "Password: ") -> str:
    """From stdin with --password-stdin (for scripts), else asked twice on the terminal.

    Never from the command line, where other users could read it in the process list.
    """
    if getattr(args, "password_stdin", False):
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass(prompt)
    if getpass.getpass("Again: ") != first:
        raise SystemExit("evd: the passwords do not match")
    return first


def print_rows(rows: list[dict[str, Any]], as_json: bool = False) -> None:
    """Rows as an aligned table (or JSON with ``--json``), "(none)" when empty."""
    if as_json:
        print(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        print("(none)")
        return
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(str(row[c]).ljust(widths[c]) for c in columns))
