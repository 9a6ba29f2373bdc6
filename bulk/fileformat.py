"""The bulk file formats (docs/BULK.md), pure: no database, no clock.

CSV (UTF-8, ``\\n`` or ``\\r\\n`` line ends)::

    #evd-bulk v1 file-id=DLR-2026-12-06-001
    product,target,amount,ref
    RCH-AIRTEL,9876543210,199.00,shop-17
    VCH-AIR-10,,,
    #end rows=2 sha256=<hex SHA-256 of every byte before this line>

The header line names the format version and the file id (the submitter's own name for the
file: the idempotency key of the whole file, so the same file sent again sells nothing
twice). The trailer counts the data rows and carries the SHA-256 of every byte before it:
a truncated, re-encoded or edited file is refused whole. Within an intact file a malformed
row (a missing product, an unreadable amount, the wrong number of fields) fails alone: it
is kept as a failed row with its reason and the other rows are sold.

JSON: ``{"file_id": "...", "rows": [{"product", "target", "amount", "ref"}, ...]}`` (the
transport's own integrity stands in for the checksum).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from typing import Any

MAX_ROWS = 10_000
VERSION = "v1"
COLUMNS = ("product", "target", "amount", "ref")
FILE_ID = re.compile(r"[A-Za-z0-9._-]{1,40}")
_HEADER = re.compile(r"#evd-bulk (?P<version>\S+) file-id=(?P<file_id>\S*)")
_TRAILER = re.compile(r"#end rows=(?P<rows>[0-9]{1,6}) sha256=(?P<sha>[0-9a-fA-F]{64})")
_PRODUCT = re.compile(r"[A-Za-z0-9._-]{1,32}")
_TARGET = re.compile(r"\+?[0-9A-Za-z]{1,24}")
_AMOUNT = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,4})?")
_REF = 40


class BulkFileRefused(ValueError):
    """The whole file is refused (header, checksum, row count, size): nothing is sold."""


@dataclass(frozen=True)
class Row:
    """One data row as given (strings, already checked for shape); ``error``: why this row
    alone fails (then it is kept, never sold)."""

    number: int
    product: str
    target: str
    amount: str
    ref: str
    error: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {
            "product": self.product,
            "target": self.target,
            "amount": self.amount,
            "ref": self.ref,
        }


@dataclass(frozen=True)
class BulkFile:
    file_id: str
    rows: tuple[Row, ...]
    # SHA-256 of the file's canonical content: the fingerprint of the submission.
    digest: bytes


def checksum(content: bytes) -> str:
    """The trailer's checksum of ``content`` (every byte before the trailer line)."""
    return hashlib.sha256(content).hexdigest()


def write_csv(file_id: str, rows: list[dict[str, str]]) -> bytes:
    """A bulk CSV file of ``rows`` (dicts of the four columns), trailer included."""
    out = io.StringIO()
    out.write(f"#evd-bulk {VERSION} file-id={file_id}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([row.get(c, "") for c in COLUMNS])
    body = out.getvalue().encode("utf-8")
    return body + f"#end rows={len(rows)} sha256={checksum(body)}\n".encode()


def check_file_id(file_id: Any) -> str:
    if not isinstance(file_id, str) or not FILE_ID.fullmatch(file_id):
        raise BulkFileRefused("file-id must be 1-40 characters of A-Z a-z 0-9 . _ -")
    return file_id


def _row(number: int, values: dict[str, Any]) -> Row:
    texts = {c: values.get(c) for c in COLUMNS}
    for name, value in texts.items():
        if value is None:
            texts[name] = ""
        elif not isinstance(value, str):
            return Row(number, "", "", "", "", f"{name} must be a string")
    product = texts["product"].strip()
    target = texts["target"].strip()
    amount = texts["amount"].strip()
    ref = texts["ref"].strip()[:_REF]
    row = Row(number, product[:32], target[:24], amount[:16], ref)
    if not _PRODUCT.fullmatch(product):
        return _failed(row, "product is missing or not a product code")
    if target and not _TARGET.fullmatch(target):
        return _failed(row, "target is not a number or subscriber id")
    if amount and not _AMOUNT.fullmatch(amount):
        return _failed(row, "amount is not a decimal amount")
    return row


def _failed(row: Row, reason: str) -> Row:
    return Row(row.number, row.product, row.target, row.amount, row.ref, reason)


def _digest(file_id: str, rows: list[Row]) -> bytes:
    hasher = hashlib.sha256(file_id.encode() + b"\n")
    for row in rows:
        hasher.update("\x1f".join((row.product, row.target, row.amount, row.ref)).encode())
        hasher.update(b"\x1e" if row.error is None else b"\x1d")
    return hasher.digest()


def parse_csv(content: bytes) -> BulkFile:
    """The file, or :class:`BulkFileRefused` naming what is wrong with it as a whole."""
    if len(content) > 4 * 1024 * 1024:
        raise BulkFileRefused("the file is larger than 4 MiB")
    body, trailer = _split_trailer(content)
    found = _TRAILER.fullmatch(trailer)
    if found is None:
        raise BulkFileRefused("the last line must be '#end rows=N sha256=HEX'")
    if checksum(body).lower() != found["sha"].lower():
        raise BulkFileRefused("the checksum does not match the file (changed or truncated?)")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BulkFileRefused("the file is not UTF-8") from None
    lines = text.splitlines()
    if not lines:
        raise BulkFileRefused("the header line '#evd-bulk v1 file-id=...' is missing")
    header = _HEADER.fullmatch(lines[0].strip())
    if header is None:
        raise BulkFileRefused("the first line must be '#evd-bulk v1 file-id=...'")
    if header["version"] != VERSION:
        raise BulkFileRefused(f"format {header['version']} is not supported (only {VERSION})")
    file_id = check_file_id(header["file_id"])
    if len(lines) < 2 or [c.strip().lower() for c in lines[1].split(",")] != list(COLUMNS):
        raise BulkFileRefused("the second line must name the columns " + ",".join(COLUMNS))
    data = [line for line in lines[2:] if line.strip()]
    if len(data) != int(found["rows"]):
        raise BulkFileRefused(f"the trailer says {found['rows']} rows, the file has {len(data)}")
    if not data:
        raise BulkFileRefused("the file has no rows")
    if len(data) > MAX_ROWS:
        raise BulkFileRefused(f"at most {MAX_ROWS} rows in one file")
    rows = []
    for number, fields in enumerate(csv.reader(data), start=1):
        if len(fields) != len(COLUMNS):
            rows.append(
                Row(number, "", "", "", "", f"{len(fields)} fields, expected {len(COLUMNS)}")
            )
            continue
        rows.append(_row(number, dict(zip(COLUMNS, fields, strict=True))))
    return BulkFile(file_id, tuple(rows), _digest(file_id, rows))


def _split_trailer(content: bytes) -> tuple[bytes, str]:
    stripped = content.rstrip(b"\r\n")
    cut = stripped.rfind(b"\n")
    if cut < 0:
        raise BulkFileRefused("the file has no trailer line")
    return stripped[: cut + 1], stripped[cut + 1 :].decode("ascii", "replace").strip()


def parse_json(document: Any) -> BulkFile:
    """A JSON submission ``{"file_id", "rows": [...]}``; a row that is not an object with
    string fields fails alone."""
    if not isinstance(document, dict) or set(document) - {"file_id", "rows"}:
        raise BulkFileRefused('send {"file_id": ..., "rows": [...]}')
    file_id = check_file_id(document.get("file_id"))
    given = document.get("rows")
    if not isinstance(given, list) or not given:
        raise BulkFileRefused("rows must be a non-empty array")
    if len(given) > MAX_ROWS:
        raise BulkFileRefused(f"at most {MAX_ROWS} rows in one submission")
    rows = []
    for number, item in enumerate(given, start=1):
        if not isinstance(item, dict) or set(item) - set(COLUMNS):
            rows.append(Row(number, "", "", "", "", "a row is an object of " + ", ".join(COLUMNS)))
            continue
        rows.append(_row(number, item))
    return BulkFile(file_id, tuple(rows), _digest(file_id, rows))


__all__ = [
    "COLUMNS",
    "MAX_ROWS",
    "BulkFile",
    "BulkFileRefused",
    "Row",
    "checksum",
    "parse_csv",
    "parse_json",
    "write_csv",
]
