"""``evd bulk``: a dealer's or merchant's bulk file through the JSON API of a running server
(docs/BULK.md). The server sells the rows; this command sends the file, shows a progress
bar while the status endpoint's counts move, and saves the per-row results CSV.

    evd bulk seal PLAIN.csv --file-id DLR-001 -o FILE.csv   # header + checksum trailer
    evd bulk submit FILE.csv --url http://127.0.0.1:8080 [--results OUT.csv]
    evd bulk status BATCH_ID --url ...
    evd bulk results BATCH_ID --url ... [-o OUT.csv]

The API key comes from ``EVD_API_KEY`` (or ``--api-key``; the environment keeps it out of
the shell history and process list).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

from bulk import fileformat
from vending.cli.context import CommandError, Context
from vending.cli.groups import Subparsers, command_group


def register(subparsers: Subparsers) -> None:
    group = command_group(subparsers, "bulk", "bulk multi-recharge files (docs/BULK.md)")

    seal = group.add_parser("seal", help="add the header and checksum trailer to a plain CSV")
    seal.add_argument("plain", help="CSV with columns product,target,amount,ref")
    seal.add_argument("--file-id", required=True, help="your name for the file (1-40 chars)")
    seal.add_argument("-o", "--output", required=True)
    seal.set_defaults(handler=_seal)

    submit = group.add_parser("submit", help="send a bulk file and follow its progress")
    _server_options(submit)
    submit.add_argument("file")
    submit.add_argument(
        "--results", help="where to save the results CSV (default FILE.results.csv)"
    )
    submit.add_argument("--no-wait", action="store_true", help="answer with the batch id only")
    submit.add_argument("--poll", type=float, default=0.5, help="seconds between status reads")
    submit.set_defaults(handler=_submit)

    status = group.add_parser("status", help="a batch's counts")
    _server_options(status)
    status.add_argument("batch_id", type=int)
    status.set_defaults(handler=_status)

    results = group.add_parser("results", help="a batch's per-row results as CSV")
    _server_options(results)
    results.add_argument("batch_id", type=int)
    results.add_argument("-o", "--output", help="file (default: standard output)")
    results.set_defaults(handler=_results)


def _server_options(parser: Any) -> None:
    parser.add_argument(
        "--url",
        default=os.environ.get("EVD_API_URL", "http://127.0.0.1:8080"),
        help="the server's base URL (default $EVD_API_URL or http://127.0.0.1:8080)",
    )
    parser.add_argument("--api-key", help="default: $EVD_API_KEY")


def _call(
    args: Any, method: str, path: str, body: bytes | None = None, content_type: str = ""
) -> tuple[int, bytes]:
    key = args.api_key or os.environ.get("EVD_API_KEY", "")
    if not key:
        raise CommandError("set EVD_API_KEY (or --api-key) to your API key")
    request = Request(args.url.rstrip("/") + "/api/v1" + path, data=body, method=method)
    request.add_header("Authorization", f"Bearer {key}")
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except HTTPError as error:
        detail = error.read()
        with contextlib.suppress(ValueError, AttributeError):
            detail = json.loads(detail).get("detail", detail)
        raise CommandError(f"{method} {path}: HTTP {error.code}: {detail!s}") from None
    except URLError as error:
        raise CommandError(f"cannot reach {args.url}: {error.reason}") from None


def _seal(context: Context, args: Any) -> int:
    try:
        fileformat.check_file_id(args.file_id)
    except fileformat.BulkFileRefused as error:
        raise CommandError(str(error)) from None
    with open(args.plain, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if [c.strip().lower() for c in reader.fieldnames or []] != list(fileformat.COLUMNS):
            raise CommandError("the plain CSV's columns must be " + ",".join(fileformat.COLUMNS))
        rows = [{k.strip().lower(): (v or "") for k, v in row.items()} for row in reader]
    if not rows or len(rows) > fileformat.MAX_ROWS:
        raise CommandError(f"a bulk file has 1..{fileformat.MAX_ROWS} rows")
    Path(args.output).write_bytes(fileformat.write_csv(args.file_id, rows))
    print(f"{args.output}: {len(rows)} rows, file id {args.file_id}")
    return 0


def _submit(context: Context, args: Any) -> int:
    content = Path(args.file).read_bytes()
    try:  # refuse a broken file here already, with the same words as the server
        parsed = fileformat.parse_csv(content)
    except fileformat.BulkFileRefused as error:
        raise CommandError(f"{args.file}: {error}") from None
    status, body = _call(args, "POST", "/bulk", content, "text/csv")
    batch = json.loads(body)
    again = " (the same file again: nothing new is sold)" if status == 200 else ""
    print(f"batch {batch['batch_id']}: file {parsed.file_id}, {batch['total']} rows{again}")
    if args.no_wait:
        return 0
    batch = _follow(args, batch)
    counts = batch["counts"]
    print(
        f"batch {batch['batch_id']} {batch['state']}: {counts['sold']} sold, "
        f"{counts['failed']} failed, {counts['pending']} pending"
    )
    target = args.results or f"{args.file}.results.csv"
    _status_code, results = _call(args, "GET", f"/bulk/{batch['batch_id']}/results")
    Path(target).write_bytes(results)
    os.chmod(target, 0o600)  # voucher PINs may be in it
    print(f"results: {target}")
    return 0 if counts["queued"] == 0 else 1


def _follow(args: Any, batch: dict[str, Any]) -> dict[str, Any]:
    """Poll the status until no row is queued, with a progress bar (rich)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    def done_rows(b: dict[str, Any]) -> int:
        return b["total"] - b["counts"]["queued"]

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=not sys.stdout.isatty(),
    ) as progress:
        task = progress.add_task(f"batch {batch['batch_id']}", total=batch["total"])
        while True:
            progress.update(task, completed=done_rows(batch))
            if batch["state"] == "done":
                return batch
            time.sleep(args.poll)  # a CLI waiting on a server: wall time is right here
            _code, body = _call(args, "GET", f"/bulk/{batch['batch_id']}")
            batch = json.loads(body)


def _status(context: Context, args: Any) -> int:
    _code, body = _call(args, "GET", f"/bulk/{args.batch_id}")
    batch = json.loads(body)
    counts = ", ".join(f"{n} {state}" for state, n in batch["counts"].items())
    print(f"batch {batch['batch_id']} ({batch['file_id']}) {batch['state']}: {counts}")
    return 0


def _results(context: Context, args: Any) -> int:
    _code, body = _call(args, "GET", f"/bulk/{args.batch_id}/results")
    if args.output:
        Path(args.output).write_bytes(body)
        os.chmod(args.output, 0o600)
        print(f"{args.output}: {len(list(csv.reader(io.StringIO(body.decode())))) - 1} rows")
    else:
        sys.stdout.write(body.decode("utf-8"))
    return 0
