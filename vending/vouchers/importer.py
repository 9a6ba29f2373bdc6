"""Stock import: decrypt and verify a supplier's file, check every row, and insert all of
it or nothing, in one transaction.

The rows stream from the decrypted file through validation, duplicate detection, PIN
encryption and hashing straight into the database: COPY on PostgreSQL (the server ingests
one chunk while Python prepares the next), batched inserts on SQLite. At the first bad row
the writing stops, the rest of the file is still checked so that the report names every
bad line, and the transaction rolls back. A PIN already in stock is found by the unique
index on its keyed hash (a savepoint catches the violation), then named line by line.
"""

from __future__ import annotations

import gc
import hashlib
import logging
from binascii import hexlify
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from vending import audit
from vending.clock import Clock
from vending.keyring import Keyring
from vending.money import Money
from vending.storage.database import Database, Txn
from vending.storage.schema import products
from vending.vouchers import alerts
from vending.vouchers.errors import AlreadyImported, StockFileRejected
from vending.vouchers.gpg import SignatureRefused, StockFileUnreadable, StockGpg, check_signature
from vending.vouchers.pins import PinSealer
from vending.vouchers.stockfile import (
    Catalog,
    CatalogProduct,
    LineProblem,
    RowChecker,
    StockLayoutError,
    count_rows,
    read_stock_file,
)
from vending.vouchers.suppliers import Supplier, get_supplier
from vending.vouchers.tables import stock_imports, voucher_batches, vouchers

log = logging.getLogger(__name__)

# Called with (rows done, rows in the file) as the import advances.
Progress = Callable[[int, int], None]

_COPY_CHUNK_ROWS = 2000
_SQLITE_BATCH_ROWS = 5000
_DIAGNOSE_CHUNK = 500

_COPY_SQL = (
    "COPY vouchers (supplier_id, product_id, import_id, batch_seq, serial_no, pin_key_id, "
    "pin_ciphertext, pin_hash, expiry) FROM STDIN"
)
_INSERT_SQL = (
    "INSERT INTO vouchers (supplier_id, product_id, import_id, batch_seq, serial_no, "
    "pin_key_id, pin_ciphertext, pin_hash, expiry) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


@dataclass(frozen=True)
class ProductTotal:
    product_code: str
    rows: int
    face_value: Money
    cost: Money


@dataclass(frozen=True)
class ImportSummary:
    import_id: int
    supplier_code: str
    file_name: str
    file_sha256: str
    signer_fingerprint: str | None
    rows: int
    batches: int
    products: tuple[ProductTotal, ...]
    face_total: Money
    cost_total: Money
    # (product code, batch number, vouchers) of each batch, in file order.
    batch_list: tuple[tuple[str, str, int], ...] = ()

    def lines(self) -> list[str]:
        """The summary for a person, one line per fact."""
        signed = f"signed by {self.signer_fingerprint}" if self.signer_fingerprint else "unsigned"
        lines = [
            f"import {self.import_id}: {self.rows} vouchers in {self.batches} batches from "
            f"supplier {self.supplier_code} ({self.file_name}, {signed})"
        ]
        lines += [
            f"  {total.product_code}: {total.rows} vouchers, face value {total.face_value}, "
            f"cost {total.cost}"
            for total in self.products
        ]
        lines.append(f"total face value {self.face_total}, total cost {self.cost_total}")
        return lines


@dataclass(frozen=True)
class StockUpload:
    """A decrypted stock file, ready for the import transaction."""

    supplier_code: str
    file_name: str
    file_sha256: str
    plaintext: bytes = field(repr=False)
    signer_fingerprint: str | None = None

    @property
    def content_sha256(self) -> str:
        return hashlib.sha256(self.plaintext).hexdigest()


class StockImporter:
    """Imports stock files for one database and keyring (the ``evd stock import`` engine)."""

    def __init__(
        self,
        database: Database,
        keyring: Keyring,
        gpg: StockGpg | None = None,
        *,
        clock: Clock,
        low_stock_threshold: int = 50,
    ) -> None:
        self.database = database
        self.keyring = keyring
        self.gpg = gpg
        self.clock = clock
        self.low_stock_threshold = low_stock_threshold

    def import_file(
        self,
        path: str | Path,
        *,
        supplier_code: str,
        actor: str,
        progress: Progress | None = None,
        today: date | None = None,
    ) -> ImportSummary:
        """Decrypt, verify and import ``path``; raises a VendingError, importing nothing,
        when the file is refused (the refusal is audited)."""
        path = Path(path)
        upload = self.open_upload(path.read_bytes(), supplier_code=supplier_code,
                                  file_name=path.name, actor=actor)  # fmt: skip
        return self.import_upload(upload, actor=actor, progress=progress, today=today)

    def open_upload(
        self, message: bytes, *, supplier_code: str, file_name: str, actor: str
    ) -> StockUpload:
        """Decrypt ``message`` with the server's key and verify the supplier's signature
        (refusals, a file imported before among them, are audited and raised)."""
        file_sha256 = hashlib.sha256(message).hexdigest()
        try:
            supplier = self.database.run_txn("stock_supplier", get_supplier, supplier_code)
            self.database.run_txn("stock_import_check", _refuse_imported, file_sha256=file_sha256)
            if self.gpg is None:
                raise StockFileUnreadable("no GnuPG home configured for stock files")
            if supplier.pgp_public_key:
                self.gpg.import_public_key(supplier.pgp_public_key)
            decrypted = self.gpg.decrypt(message)
            signer = check_signature(
                decrypted,
                fingerprint=supplier.pgp_fingerprint,
                required=supplier.require_signature,
            )
        except (StockFileUnreadable, SignatureRefused, AlreadyImported) as exc:
            self._audit_refusal(supplier_code, file_name, file_sha256, exc, actor, now=self.clock())
            raise
        return StockUpload(supplier_code, file_name, file_sha256, decrypted.plaintext, signer)

    def rehearse(
        self, upload: StockUpload, *, actor: str, today: date | None = None
    ) -> ImportSummary:
        """The whole import of ``upload`` (every check: rows, duplicates in the file and in
        stock, products) in a transaction that is rolled back: what importing it would do,
        nothing kept. Refusals are audited and raised as by :meth:`import_upload`."""

        def rehearsal(txn: Txn) -> None:
            summary = import_stock(
                txn, self.keyring, upload, actor=actor,
                low_stock_threshold=self.low_stock_threshold, today=today, now=self.clock(),
            )  # fmt: skip
            raise _Rehearsed(summary)

        try:
            self._run_import(upload, actor, "stock_rehearsal", rehearsal)
        except _Rehearsed as done:
            return done.summary
        raise AssertionError("a rehearsal always ends rolled back")  # pragma: no cover

    def import_upload(
        self,
        upload: StockUpload,
        *,
        actor: str,
        progress: Progress | None = None,
        today: date | None = None,
    ) -> ImportSummary:
        """Import an already decrypted and verified file (all rows or none)."""

        def importing(txn: Txn) -> ImportSummary:
            return import_stock(
                txn, self.keyring, upload, actor=actor,
                low_stock_threshold=self.low_stock_threshold, progress=progress, today=today,
                now=self.clock(),
            )  # fmt: skip

        return self._run_import(upload, actor, "stock_import", importing)

    def _run_import(
        self, upload: StockUpload, actor: str, name: str, work: Callable[[Txn], Any]
    ) -> Any:
        try:
            with _gc_paused():
                return self.database.run_txn(name, work)
        except (StockFileRejected, AlreadyImported) as exc:
            self._audit_refusal(
                upload.supplier_code,
                upload.file_name,
                upload.file_sha256,
                exc,
                actor,
                now=self.clock(),
            )
            raise
        except IntegrityError as exc:
            # The same file imported by someone else at this very moment.
            error = AlreadyImported(f"{upload.file_name} was imported concurrently")
            self._audit_refusal(
                upload.supplier_code,
                upload.file_name,
                upload.file_sha256,
                error,
                actor,
                now=self.clock(),
            )
            raise error from exc

    def _audit_refusal(
        self,
        supplier_code: str,
        file_name: str,
        file_sha256: str,
        exc: Exception,
        actor: str,
        *,
        now: datetime,
    ) -> None:
        problems = getattr(exc, "problems", ())
        details = {
            "supplier": supplier_code,
            "file": file_name,
            "sha256": file_sha256,
            "reason": getattr(exc, "code", type(exc).__name__),
            "message": str(exc)[:300],
            "bad_lines": len(problems),
        }
        self.database.run_txn(
            "stock_import_refused",
            lambda txn: audit.record(
                txn,
                actor=actor,
                action="stock.import_refused",
                subject=f"supplier:{supplier_code}",
                details=details,
                now=now,
            ),
        )
        log.warning("stock file %s of %s refused: %s", file_name, supplier_code, exc)


class _Rehearsed(Exception):
    """Ends a rehearsal's transaction (rolled back) carrying what it would have imported."""

    def __init__(self, summary: ImportSummary) -> None:
        super().__init__("rehearsed")
        self.summary = summary


@contextmanager
def _gc_paused() -> Iterator[None]:
    """A big import allocates millions of small acyclic objects; scanning them again and
    again in the cycle collector costs more than the rest of the parsing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# --- the transaction ---------------------------------------------------------------------------


def _refuse_imported(txn: Txn, *, file_sha256: str, content_sha256: str | None = None) -> None:
    query = select(stock_imports.c.id, stock_imports.c.file_name, stock_imports.c.imported_at)
    condition = stock_imports.c.file_sha256 == file_sha256
    if content_sha256 is not None:
        condition = condition | (stock_imports.c.content_sha256 == content_sha256)
    earlier = txn.execute(query.where(condition)).first()
    if earlier is not None:
        raise AlreadyImported(
            f"this stock file was already imported (import {earlier.id}, {earlier.file_name}, "
            f"{earlier.imported_at:%Y-%m-%d %H:%M} UTC)"
        )


def load_catalog(txn: Txn, supplier: Supplier) -> Catalog:
    """The supplier's active voucher products; other codes map to why they are refused."""
    mine: list[CatalogProduct] = []
    refused: dict[str, str] = {}
    for row in txn.execute(select(products).order_by(products.c.id)):
        if row.kind != "voucher":
            refused[row.code] = f"{row.code} is not a voucher product"
        elif row.supplier_account_id != supplier.account_id:
            refused[row.code] = f"{row.code} is not supplied by {supplier.code}"
        elif not row.active:
            refused[row.code] = f"{row.code} is disabled"
        else:
            attributes = dict(row.attributes or {})
            face = int(row.face_value)
            cost = (
                int(row.cost_price)
                if row.cost_price is not None
                else face - Money(face, row.currency).percent_bp(row.supplier_discount_bp).amount
            )
            pin_length = attributes.get("pin_length")
            mine.append(
                CatalogProduct(
                    id=row.id,
                    code=row.code,
                    currency=row.currency,
                    face_value=face,
                    cost_price=cost,
                    denomination=(
                        str(attributes["denomination"]) if attributes.get("denomination") else None
                    ),
                    pin_length=int(pin_length) if pin_length else None,
                )
            )
    return Catalog(supplier.code, mine, refused)


@dataclass
class _Batch:
    """One (product, batch number) of the file as it streams past."""

    seq: int
    product: CatalogProduct
    batch_no: str
    copy_prefix: bytes
    rows: int = 0
    earliest: date | None = None
    latest: date | None = None


class _ImportRun:
    """The rows of one import attempt: checks, duplicates within the file, batches."""

    def __init__(
        self,
        records: Iterator[tuple[int, list[bytes]]],
        checker: RowChecker,
        sealer: PinSealer,
        *,
        supplier_id: int,
        import_id: int,
        total: int,
        progress: Progress | None,
    ) -> None:
        self.records = records
        self.checker = checker
        self.sealer = sealer
        self.supplier_id = supplier_id
        self.import_id = import_id
        self.total = total
        self.progress = progress
        self.problems: list[LineProblem] = []
        self.serial_lines: dict[bytes, int] = {}
        self.hash_lines: dict[bytes, int] = {}
        self.batches: dict[tuple[int, str], _Batch] = {}
        self.rows = 0

    def _accepted(self) -> Iterator[tuple[_Batch, bytes, bytes, bytes, date | None]]:
        """(batch, serial, PIN hash, PIN ciphertext, expiry) of each good row, until the
        first bad one."""
        check = self.checker.check
        problems = self.problems
        hash_pin = self.sealer.hash_pin
        encrypt = self.sealer.encrypt
        batches = self.batches
        supplier_id = self.supplier_id
        for line, fields in self.records:
            row = check(line, fields, problems)
            if row is None:
                return
            serial, pin, product, batch_no, expiry = row
            pin_hash = hash_pin(pin)
            if not self._first_sighting(line, serial, pin_hash):
                return
            batch = batches.get((product.id, batch_no))
            if batch is None:
                batch = self._new_batch(product, batch_no)
            batch.rows += 1
            if expiry is not None:
                if batch.earliest is None or expiry < batch.earliest:
                    batch.earliest = expiry
                if batch.latest is None or expiry > batch.latest:
                    batch.latest = expiry
            self.rows += 1
            yield batch, serial, pin_hash, encrypt(supplier_id, serial, pin), expiry

    def _first_sighting(self, line: int, serial: bytes, pin_hash: bytes) -> bool:
        first = self.serial_lines.setdefault(serial, line)
        if first != line:
            self.problems.append(LineProblem(line, f"serial_number duplicates line {first}"))
            return False
        first = self.hash_lines.setdefault(pin_hash, line)
        if first != line:
            self.problems.append(LineProblem(line, f"pin duplicates the PIN of line {first}"))
            return False
        return True

    def _new_batch(self, product: CatalogProduct, batch_no: str) -> _Batch:
        seq = len(self.batches) + 1
        prefix = b"%d\t%d\t%d\t%d\t" % (self.supplier_id, product.id, self.import_id, seq)
        batch = self.batches[(product.id, batch_no)] = _Batch(seq, product, batch_no, prefix)
        return batch

    def copy_chunks(self) -> Iterator[bytes]:
        """COPY text (tab-separated, ``\\N`` for NULL, bytea as ``\\x`` hex) in chunks."""
        key_id = b"%d" % self.sealer.key_id
        expiry_text: dict[date | None, bytes] = {None: b"\\N"}
        chunk: list[bytes] = []
        for batch, serial, pin_hash, ciphertext, expiry in self._accepted():
            text = expiry_text.get(expiry)
            if text is None:
                text = expiry_text[expiry] = expiry.isoformat().encode()  # type: ignore[union-attr]
            chunk.append(
                b"%s%s\t%s\t\\\\x%s\t\\\\x%s\t%s\n"
                % (batch.copy_prefix, serial, key_id, hexlify(ciphertext), hexlify(pin_hash), text)
            )
            if len(chunk) == _COPY_CHUNK_ROWS:
                yield b"".join(chunk)
                chunk.clear()
                self._report_progress()
        if chunk and not self.problems:
            yield b"".join(chunk)

    def insert_batches(self) -> Iterator[list[tuple[Any, ...]]]:
        """Parameter rows for batched INSERTs (SQLite)."""
        key_id = self.sealer.key_id
        supplier_id = self.supplier_id
        import_id = self.import_id
        batch_rows: list[tuple[Any, ...]] = []
        for batch, serial, pin_hash, ciphertext, expiry in self._accepted():
            batch_rows.append(
                (
                    supplier_id,
                    batch.product.id,
                    import_id,
                    batch.seq,
                    serial.decode("ascii"),
                    key_id,
                    ciphertext,
                    pin_hash,
                    None if expiry is None else expiry.isoformat(),
                )
            )
            if len(batch_rows) == _SQLITE_BATCH_ROWS:
                yield batch_rows
                batch_rows = []
                self._report_progress()
        if batch_rows and not self.problems:
            yield batch_rows

    def check_remaining(self) -> None:
        """After the first bad row: check the rest of the file too, writing nothing."""
        check = self.checker.check
        hash_pin = self.sealer.hash_pin
        for line, fields in self.records:
            row = check(line, fields, self.problems)
            if row is not None:
                self._first_sighting(line, row[0], hash_pin(row[1]))

    def _report_progress(self) -> None:
        if self.progress is not None:
            self.progress(self.rows, self.total)


class _CopySource:
    """The file-like object ``copy_expert`` reads: each read() returns the next chunk."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks

    def read(self, size: int = -1) -> bytes:
        return next(self._chunks, b"")

    def readline(self, size: int = -1) -> bytes:  # pragma: no cover - COPY FROM uses read()
        return self.read(size)


def _write_rows(txn: Txn, run: _ImportRun) -> None:
    if txn.is_postgres:
        cursor = txn.conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.copy_expert(_COPY_SQL, _CopySource(run.copy_chunks()), size=1 << 16)
        finally:
            cursor.close()
    else:
        for batch_rows in run.insert_batches():
            txn.conn.exec_driver_sql(_INSERT_SQL, batch_rows)


def _is_unique_violation(exc: Exception) -> bool:
    if isinstance(exc, IntegrityError):
        return True
    try:  # the raw psycopg2 cursor of COPY raises the driver's own error
        import psycopg2
    except ImportError:  # pragma: no cover - SQLite-only install
        return False
    return isinstance(exc, psycopg2.IntegrityError)


def import_stock(
    txn: Txn,
    keyring: Keyring,
    upload: StockUpload,
    *,
    actor: str,
    low_stock_threshold: int = 50,
    progress: Progress | None = None,
    today: date | None = None,
    now: datetime,
) -> ImportSummary:
    """The import transaction: every row of ``upload`` becomes a voucher, or none does.

    Raises StockFileRejected naming every bad line, or AlreadyImported.
    """
    today = today or now.date()
    supplier = get_supplier(txn, upload.supplier_code)
    _refuse_imported(txn, file_sha256=upload.file_sha256, content_sha256=upload.content_sha256)
    try:
        layout, records = read_stock_file(upload.plaintext)
    except StockLayoutError as exc:
        raise StockFileRejected([exc.problem]) from None
    catalog = load_catalog(txn, supplier)
    import_id = txn.execute(
        insert(stock_imports)
        .values(
            supplier_id=supplier.id,
            file_name=upload.file_name[:255],
            file_sha256=upload.file_sha256,
            content_sha256=upload.content_sha256,
            signer_fingerprint=upload.signer_fingerprint,
            row_count=0,
            currency=supplier.currency,
            face_total=0,
            cost_total=0,
            imported_by=actor[:64],
            imported_at=now,
        )
        .returning(stock_imports.c.id)
    ).scalar_one()
    run = _ImportRun(
        records,
        RowChecker(layout, catalog, today),
        PinSealer(txn, keyring),
        supplier_id=supplier.id,
        import_id=import_id,
        total=count_rows(upload.plaintext),
        progress=progress,
    )
    savepoint = txn.conn.begin_nested()
    in_stock_already = False
    try:
        _write_rows(txn, run)
    except Exception as exc:
        if not _is_unique_violation(exc):
            raise
        in_stock_already = True
    if run.problems or in_stock_already:
        savepoint.rollback()
        run.check_remaining()
        problems = run.problems + _in_stock_already(txn, supplier.id, run)
        if not problems:  # a conflict with an import that committed while we ran
            problems = [LineProblem(1, "conflicts with stock imported meanwhile; try again")]
        raise StockFileRejected(problems)
    savepoint.commit()
    if run.rows == 0:
        raise StockFileRejected([LineProblem(1, "the file has no voucher rows")])
    summary = _record_batches(txn, run, supplier, import_id, upload, actor=actor, now=now)
    for product_id in {batch.product.id for batch in run.batches.values()}:
        alerts.ensure_threshold(txn, product_id, low_stock_threshold)
        alerts.refresh_low_stock(txn, product_id, today=today, now=now)
    if progress is not None:
        progress(run.rows, run.rows)
    txn.call_after(log.info, "%s", "; ".join(summary.lines()))
    return summary


def _in_stock_already(txn: Txn, supplier_id: int, run: _ImportRun) -> list[LineProblem]:
    """The lines whose serial number or PIN is already in stock (committed rows)."""
    problems = []
    serials = list(run.serial_lines.items())
    for start in range(0, len(serials), _DIAGNOSE_CHUNK):
        chunk = dict(serials[start : start + _DIAGNOSE_CHUNK])
        texts = [serial.decode("ascii") for serial in chunk]
        for (serial_no,) in txn.execute(
            select(vouchers.c.serial_no).where(
                vouchers.c.supplier_id == supplier_id, vouchers.c.serial_no.in_(texts)
            )
        ):
            problems.append(
                LineProblem(chunk[serial_no.encode("ascii")], "serial_number already in stock")
            )
    hashes = list(run.hash_lines.items())
    for start in range(0, len(hashes), _DIAGNOSE_CHUNK):
        chunk = dict(hashes[start : start + _DIAGNOSE_CHUNK])
        for (pin_hash,) in txn.execute(
            select(vouchers.c.pin_hash).where(vouchers.c.pin_hash.in_(list(chunk)))
        ):
            problems.append(LineProblem(chunk[bytes(pin_hash)], "pin is already in stock"))
    return problems


def _record_batches(
    txn: Txn,
    run: _ImportRun,
    supplier: Supplier,
    import_id: int,
    upload: StockUpload,
    *,
    actor: str,
    now: datetime,
) -> ImportSummary:
    currency = supplier.currency
    per_product: dict[str, list[int]] = {}
    for batch in sorted(run.batches.values(), key=lambda b: b.seq):
        product = batch.product
        txn.execute(
            insert(voucher_batches).values(
                import_id=import_id,
                seq=batch.seq,
                supplier_id=supplier.id,
                product_id=product.id,
                batch_no=batch.batch_no,
                row_count=batch.rows,
                face_value=product.face_value,
                cost_price=product.cost_price,
                currency=product.currency,
                earliest_expiry=batch.earliest,
                latest_expiry=batch.latest,
            )
        )
        totals = per_product.setdefault(product.code, [0, 0, 0])
        totals[0] += batch.rows
        totals[1] += batch.rows * product.face_value
        totals[2] += batch.rows * product.cost_price
    face_total = sum(totals[1] for totals in per_product.values())
    cost_total = sum(totals[2] for totals in per_product.values())
    txn.execute(
        update(stock_imports)
        .where(stock_imports.c.id == import_id)
        .values(row_count=run.rows, face_total=face_total, cost_total=cost_total)
    )
    summary = ImportSummary(
        import_id=import_id,
        supplier_code=supplier.code,
        file_name=upload.file_name,
        file_sha256=upload.file_sha256,
        signer_fingerprint=upload.signer_fingerprint,
        rows=run.rows,
        batches=len(run.batches),
        products=tuple(
            ProductTotal(code, rows, Money(face, currency), Money(cost, currency))
            for code, (rows, face, cost) in sorted(per_product.items())
        ),
        face_total=Money(face_total, currency),
        cost_total=Money(cost_total, currency),
        batch_list=tuple(
            (batch.product.code, batch.batch_no, batch.rows)
            for batch in sorted(run.batches.values(), key=lambda b: b.seq)
        ),
    )
    audit.record(
        txn,
        actor=actor,
        action="stock.import",
        subject=f"import:{import_id}",
        details={
            "supplier": supplier.code,
            "file": upload.file_name,
            "sha256": upload.file_sha256,
            "signer": upload.signer_fingerprint,
            "rows": run.rows,
            "batches": len(run.batches),
            "products": {total.product_code: total.rows for total in summary.products},
            "face_total": summary.face_total.format(),
            "cost_total": summary.cost_total.format(),
            "currency": currency,
        },
        now=now,
    )
    return summary
