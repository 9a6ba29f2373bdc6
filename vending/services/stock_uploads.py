"""Voucher stock files uploaded by staff through the admin web suite: the same import
engine as ``evd stock import`` (:class:`vending.vouchers.importer.StockImporter`: decrypt
with the server's key, verify the supplier's signature, check every row), then a four-eyes
approval before any PIN becomes sellable.

Upload: the file is decrypted, verified and *rehearsed* (the whole import run in a
transaction that is rolled back), so every refusal — a bad signature, a file imported
before, a malformed row — is found at once and nothing is kept. An accepted file gives a
preview (supplier, products, counts, batch numbers; never a PIN), its encrypted bytes are
spooled (they stay encrypted to the server's key: no PIN is ever written in clear) and an
approval of kind ``stock.import`` is filed. A second user approving it runs the real import
of the spooled file through the same engine (which re-checks everything) and deletes it; a
rejection or a withdrawal leaves the stock unchanged and deletes the spooled file too (the
approval kind's ``discard``), so the upload folder holds only files still waiting. Upload,
approval and rejection are audited (the approvals model records the decisions; this service
the upload), never with a PIN.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from staff.users import StaffUser
from vending import audit
from vending.errors import InvalidRequest, VendingError
from vending.services.approvals import ApprovalKind, FourEyes
from vending.services.context import Clock
from vending.services.staff import StaffAccess
from vending.vouchers.importer import ImportSummary, StockImporter

log = logging.getLogger("evd.stock_uploads")

IMPORT_KIND = "stock.import"
PERMISSION = "stock.import"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_SUPPLIER = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,31}")

T = TypeVar("T")
# Runs blocking work (gpg, the import's own transactions) off the caller's event loop.
InThread = Callable[[Callable[[], T]], Awaitable[T]]


class UploadTooLarge(InvalidRequest):
    code = "upload_too_large"


class StockImportFailed(InvalidRequest):
    """The approved import of a spooled file failed (e.g. a batch imported from another file
    since the preview): nothing imported, the file deleted."""

    code = "stock_import_failed"


@dataclass(frozen=True)
class StockPreview:
    """What a filed upload will import (the rehearsal's summary: supplier, signer, products
    with counts and face value, batch numbers; never a PIN or a serial number) and the
    approval it waits for (0: the configuration let it run at once)."""

    approval_id: int
    summary: ImportSummary


def _safe_name(name: str) -> str:
    """The uploaded file's base name, printable, for records and screens."""
    base = re.split(r"[\\/]", name)[-1]
    cleaned = "".join(c for c in base if c.isprintable())[:120].strip()
    return cleaned or "stock-file"


class StockUploads:
    def __init__(
        self,
        importer: StockImporter,
        four_eyes: FourEyes,
        access: StaffAccess,
        clock: Clock,
        *,
        spool: Path,
        max_bytes: int,
        in_thread: InThread[Any],
    ) -> None:
        self._clock = clock
        self._access = access
        self._four_eyes = four_eyes
        self._importer = importer
        self._spool = spool
        self.max_bytes = max_bytes
        self._in_thread = in_thread
        if IMPORT_KIND not in four_eyes.kinds:
            four_eyes.register(
                ApprovalKind(
                    IMPORT_KIND,
                    PERMISSION,
                    self._execute,
                    "Import a voucher stock file",
                    discard=self._discard,
                )
            )

    async def upload(
        self, actor: StaffUser, supplier_code: str, file_name: str, message: bytes
    ) -> StockPreview:
        """Verify and rehearse an uploaded stock file and file its import for approval.
        Raises (nothing kept, the refusal audited by the engine) when the file is refused."""
        await self._access.require(actor, PERMISSION, f"supplier:{supplier_code}")
        if not _SUPPLIER.fullmatch(supplier_code):
            raise InvalidRequest("choose the supplier the file comes from")
        if not message:
            raise InvalidRequest("choose a stock file to upload")
        if len(message) > self.max_bytes:
            raise UploadTooLarge(
                f"the file is larger than {self.max_bytes // 1024} KiB: import it with "
                "`evd stock import` on the server"
            )
        name = _safe_name(file_name)

        def verify_and_rehearse() -> ImportSummary:
            upload = self._importer.open_upload(
                message, supplier_code=supplier_code, file_name=name, actor=actor.actor
            )
            return self._importer.rehearse(upload, actor=actor.actor)

        summary = await self._in_thread(verify_and_rehearse)
        await self._refuse_waiting(actor, summary.file_sha256)
        self._spool.mkdir(parents=True, exist_ok=True)
        (self._spool / f"{summary.file_sha256}.gpg").write_bytes(message)
        details = {
            "supplier": summary.supplier_code,
            "file": name,
            "sha256": summary.file_sha256,
            "signer": summary.signer_fingerprint,
            "rows": summary.rows,
            "batches": [batch for _product, batch, _rows in summary.batch_list],
            "products": {p.product_code: p.rows for p in summary.products},
            "face_total": summary.face_total.format(),
        }
        subject = f"supplier:{summary.supplier_code}"
        await self._access.guarded(
            actor, PERMISSION, subject, "stock_upload_audit",
            lambda txn: audit.record(txn, actor=actor.actor, action="stock.upload",
                                     subject=subject, details=details, now=self._clock()),
        )  # fmt: skip
        outcome = await self._four_eyes.submit(
            actor,
            IMPORT_KIND,
            subject=f"stockfile:{summary.file_sha256[:16]}",
            summary=(
                f"Import {summary.rows} vouchers from {summary.supplier_code} ({name}, "
                f"face value {summary.face_total} {summary.face_total.currency})"
            ),
            payload={
                "supplier": summary.supplier_code,
                "file": name,
                "sha256": summary.file_sha256,
                "rows": summary.rows,
                "products": [[p.product_code, p.rows] for p in summary.products],
                "batches": [list(batch) for batch in summary.batch_list],
                "face_total": summary.face_total.amount,
                "currency": summary.face_total.currency,
            },
            amount=summary.face_total,
        )
        # No approval: configured to run at once, imported already.
        return StockPreview(outcome.approval.id if outcome.approval else 0, summary)

    async def _refuse_waiting(self, actor: StaffUser, file_sha256: str) -> None:
        for approval in await self._four_eyes.pending(actor, limit=500):
            if approval.kind == IMPORT_KIND and approval.payload.get("sha256") == file_sha256:
                raise InvalidRequest(
                    f"this stock file waits for approval already (approval {approval.id})"
                )

    def _spooled(self, payload: dict[str, Any]) -> Path:
        """The spooled file an approval's payload names (only a SHA-256 hex digest makes a
        name: a payload can never point outside the upload folder)."""
        sha256 = str(payload.get("sha256", ""))
        if not _SHA256.fullmatch(sha256):
            raise InvalidRequest("the approval names no stock file")
        return self._spool / f"{sha256}.gpg"

    def _discard(self, payload: dict[str, Any]) -> None:
        """The upload was rejected, withdrawn or failed: its file will never be imported.
        (The same file cannot wait under a second approval meanwhile: ``_refuse_waiting``.)"""
        self._spooled(payload).unlink(missing_ok=True)

    async def _execute(
        self, payload: dict[str, Any], approver: StaffUser, approval: Any
    ) -> dict[str, Any]:
        """The approved import: the spooled file through the engine again (which decrypts,
        verifies and checks every row once more: the world may have changed). A failed
        import is audited here; its spooled file is deleted by the approval's ``discard``
        (a failed approval is final, so a file kept after it would lie unreferenced)."""
        path = self._spooled(payload)
        requested = approval.requested_by if approval is not None else approver.actor
        actor = f"{approver.actor} (approving {requested})"[:64]
        try:
            return await self._import(path, payload, actor)
        except VendingError as exc:
            await self._failed(path, payload, actor, approval, exc)
            raise StockImportFailed(
                f"the approved import failed: {exc.message}. Nothing was imported and the "
                "uploaded file was deleted: upload the file again once the cause is fixed"
            ) from exc
        except Exception as exc:
            await self._failed(path, payload, actor, approval, exc)
            raise

    async def _failed(
        self, path: Path, payload: dict[str, Any], actor: str, approval: Any, exc: Exception
    ) -> None:
        """Audit an import that failed (the reason by its code and message, which never
        hold a PIN; an unexpected error by its class) and the deletion of its file, which
        the approval's ``discard`` makes once the failure is recorded."""
        supplier = str(payload.get("supplier", ""))
        known = isinstance(exc, VendingError)
        details = {
            "supplier": supplier,
            "file": str(payload.get("file", "")),
            "sha256": path.stem,
            "approval": approval.id if approval is not None else None,
            "reason": exc.code if known else type(exc).__name__,  # type: ignore[attr-defined]
            "message": exc.message[:300] if known else "",  # type: ignore[attr-defined]
            "file_deleted": True,
        }
        now = self._clock()

        def record() -> None:
            self._importer.database.run_txn(
                "stock_upload_failed",
                lambda txn: audit.record(
                    txn, actor=actor, action="stock.upload_failed",
                    subject=f"supplier:{supplier}", details=details, now=now,
                ),
            )  # fmt: skip

        await self._in_thread(record)
        if not known:
            # The class only: an unexpected error's text could quote anything it read.
            log.error("stock upload %s: the approved import raised %s", path.stem[:16],
                      type(exc).__name__)  # fmt: skip

    async def _import(self, path: Path, payload: dict[str, Any], actor: str) -> dict[str, Any]:
        sha256 = path.stem
        if not path.exists():
            raise InvalidRequest("the uploaded stock file is no longer on the server")
        if hashlib.sha256(path.read_bytes()).hexdigest() != sha256:
            raise InvalidRequest("the uploaded stock file was altered on the server")

        def run() -> ImportSummary:
            upload = self._importer.open_upload(
                path.read_bytes(), supplier_code=str(payload["supplier"]),
                file_name=str(payload["file"]), actor=actor,
            )  # fmt: skip
            return self._importer.import_upload(upload, actor=actor)

        summary = await self._in_thread(run)
        path.unlink(missing_ok=True)
        return {
            "import_id": summary.import_id,
            "rows": summary.rows,
            "batches": summary.batches,
            "face_total": summary.face_total.format(),
        }


def build_stock_uploads(
    app: Any, access: StaffAccess, four_eyes: FourEyes, in_thread: InThread[Any]
) -> StockUploads:
    """The service over the application's database and keyring and the configured GnuPG
    home (``vouchers.gnupg_home``, as ``evd stock import`` uses)."""
    from vending.errors import VendingError
    from vending.vouchers.gpg import StockGpg

    config = app.config
    try:
        gpg: StockGpg | None = StockGpg(config.path(config.vouchers.gnupg_home))
    except VendingError:
        gpg = None  # no gnupg installed: every upload is refused with the engine's reason
    importer = StockImporter(
        app.database, app.keyring, gpg, clock=app.services.clock,
        low_stock_threshold=config.vouchers.low_stock_threshold,
    )  # fmt: skip
    return StockUploads(
        importer, four_eyes, access, app.services.clock,
        spool=config.path(config.vouchers.upload_dir),
        max_bytes=config.vouchers.upload_max_bytes, in_thread=in_thread,
    )  # fmt: skip


__all__ = [
    "IMPORT_KIND",
    "StockImportFailed",
    "StockPreview",
    "StockUploads",
    "UploadTooLarge",
    "build_stock_uploads",
]
