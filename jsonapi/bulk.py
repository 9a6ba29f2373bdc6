"""The JSON API's bulk endpoints (docs/BULK.md): translate and render only.

``POST /api/v1/bulk`` takes the CSV file (``text/csv``, with its header line and checksum
trailer) or ``{"file_id", "rows": [...]}`` (``application/json``); it answers at once
(``202`` + ``Location``, ``200`` for the same file again) with the batch's counts, and the
rows are sold in the background with bounded concurrency. ``GET /api/v1/bulk/{id}``: the
counts; ``GET /api/v1/bulk/{id}/results``: every row's result as CSV.
"""

from __future__ import annotations

import csv
import io
import logging
from typing import Any

from twisted.internet.defer import Deferred, ensureDeferred

from bulk import fileformat
from bulk.errors import UnknownBatch
from bulk.fileformat import BulkFileRefused
from jsonapi import wire
from jsonapi.problems import NOT_FOUND, UNSUPPORTED_MEDIA, ApiProblem, invalid

log = logging.getLogger("evd.jsonapi.bulk")

CSV_CONTENT_TYPE = b"text/csv; charset=utf-8"
RESULT_COLUMNS = (
    "row",
    "product",
    "target",
    "amount",
    "ref",
    "state",
    "reason",
    "reference",
    "operator_ref",
    "serial",
    "pin",
)


def parse_submission(content_type: bytes, body: bytes) -> fileformat.BulkFile:
    kind = content_type.split(b";")[0].strip().lower()
    try:
        if kind == b"text/csv":
            return fileformat.parse_csv(body)
        if kind.endswith(b"json"):
            return fileformat.parse_json(wire.load_object(body))
    except BulkFileRefused as refused:
        raise invalid(f"the file is refused: {refused}") from None
    raise ApiProblem(UNSUPPORTED_MEDIA, "send the file as text/csv or the rows as JSON")


def status_document(base: str, status: Any) -> dict[str, Any]:
    location = f"{base}/bulk/{status.id}"
    return {
        "batch_id": status.id,
        "file_id": status.file_id,
        "state": status.state,
        "total": status.total,
        "counts": status.counts,
        "created_at": wire.timestamp(status.created_at),
        "finished_at": None if status.finished_at is None else wire.timestamp(status.finished_at),
        "status_url": location,
        "results_url": f"{location}/results",
    }


def results_csv(results: list[Any]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(RESULT_COLUMNS)
    for r in results:
        writer.writerow(
            [
                r.row,
                r.product,
                r.target,
                r.amount,
                r.ref,
                r.state,
                r.reason,
                r.reference,
                r.operator_ref,
                r.serial,
                r.pin,
            ]
        )
    return out.getvalue().encode("utf-8")


def start_processing(bulk: Any, batch_id: int, late: set[Deferred]) -> None:
    """Sell the batch in the background (the submitter is answered already); ``late``
    holds the work so that stopping the server waits for it."""
    work = ensureDeferred(bulk.process(batch_id, ensureDeferred))

    def done(result: Any) -> None:
        late.discard(work)
        if hasattr(result, "getTraceback"):
            log.error("bulk batch %s stopped: %s", batch_id, result.getErrorMessage())

    late.add(work)
    work.addBoth(done)


def unknown(batch_id: str) -> ApiProblem:
    return ApiProblem(NOT_FOUND, f"no bulk batch {batch_id}")


__all__ = [
    "CSV_CONTENT_TYPE",
    "UnknownBatch",
    "parse_submission",
    "results_csv",
    "start_processing",
    "status_document",
    "unknown",
]
