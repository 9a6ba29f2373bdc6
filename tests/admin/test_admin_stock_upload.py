"""The stock upload service (``vending/services/stock_uploads.py``) over the admin world, on
SQLite and PostgreSQL (the import's COPY path), with real GnuPG keys: an upload is verified
and rehearsed (nothing imported), filed for approval and imported only when a second user
approves it; refusals (bad signature, unsigned, malformed row, the same file again, a file
waiting already, too large, no permission) import nothing; rejection and withdrawal import
nothing and delete the spooled file, as an import does; no PIN in the spool, the preview or
an audit record."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from admin_support import AdminWorld
from fixed_clock import TODAY
from sqlalchemy import func, select
from test_admin_four_eyes import run

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "vouchers"))

from voucher_support import (
    SUPPLIER,
    GpgKeys,
    bad_signature_message,
    build_stock_world,
    gpg_keys_in,
)

from staff import users
from staff.roles import ROLES, Forbidden
from staff.users import StaffUser
from tools.gen_stock import ProductSpec, generate_rows, render_csv
from vending.errors import InvalidRequest, VendingError
from vending.services.stock_uploads import IMPORT_KIND, StockUploads, UploadTooLarge
from vending.vouchers.errors import AlreadyImported, StockFileRejected
from vending.vouchers.importer import StockImporter
from vending.vouchers.tables import vouchers

AIR = ProductSpec("AIR-10", "10.00", 16)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GpgKeys]:
    with gpg_keys_in(Path(tmp_path_factory.mktemp("upload-gnupg"))) as made:
        yield made


@dataclass
class Uploads:
    adm: AdminWorld
    keys: GpgKeys
    service: StockUploads
    spool: Path
    sentinel: Any

    def user(self, name: str, extra: frozenset[str] = frozenset({"stock.import"})) -> StaffUser:
        return self.adm.database.run_txn(
            "t", users.create_user, username=name, display_name=name, role="finance",
            password_hash="scrypt$10$8$1$AA==$AA==", node_code=None,
            must_change_password=False, permissions=ROLES["finance"].permissions | extra,
            actor="test", now=self.adm.xml.clock.now,
        )  # fmt: skip

    def stock_file(self, rows: list[Any], *, sign: str | None = "supplier") -> bytes:
        self.sentinel.register(*(row.pin for row in rows))
        return self.keys.encrypt(render_csv(rows), sign=sign)

    def in_stock(self) -> int:
        query = select(func.count()).select_from(vouchers)
        return self.adm.database.run_txn("t", lambda txn: txn.execute(query).scalar_one())

    def no_pin_in_audit(self) -> None:
        for action in ("stock.", "approval."):
            for entry in self.adm.audit(action):
                self.sentinel.assert_absent(json.dumps(entry, default=str), "an audit record")


def _rows(count: int, serial_start: int, seed: int) -> list[Any]:
    return list(generate_rows([AIR], count, today=TODAY, serial_start=serial_start,
                              batch_size=4, seed=seed))  # fmt: skip


async def _direct(work: Any) -> Any:
    return work()


@pytest.fixture
def uploads(adm: AdminWorld, keys: GpgKeys, tmp_path: Path, secrets_sentinel: Any) -> Uploads:
    adm.database.run_txn("stock_world", build_stock_world, keys.supplier_key())
    services = adm.admin.services
    # The suite registered the kind over its configured GnuPG home; this test's service
    # (over the test's keys) takes its place.
    services.four_eyes.kinds.pop(IMPORT_KIND, None)
    importer = StockImporter(adm.database, adm.xml.keyring, keys.operator, clock=adm.xml.clock)
    service = StockUploads(
        importer, services.four_eyes, services.access, adm.xml.clock,
        spool=tmp_path / "spool", max_bytes=64 * 1024, in_thread=_direct,
    )  # fmt: skip
    return Uploads(adm, keys, service, tmp_path / "spool", secrets_sentinel)


def test_upload_waits_for_a_second_user_then_imports(uploads: Uploads) -> None:
    fiona, frank = uploads.user("fiona"), uploads.user("frank")
    rows = _rows(10, 7_800_000_000_000_001, seed=3)
    message = uploads.stock_file(rows)
    preview = run(uploads.service.upload(fiona, SUPPLIER, "C:\\stock\\acme.csv.gpg", message))
    summary = preview.summary
    assert preview.approval_id > 0 and summary.rows == 10 and summary.file_name == "acme.csv.gpg"
    assert [(p.product_code, p.rows) for p in summary.products] == [("AIR-10", 10)]
    assert [batch for _code, batch, _n in summary.batch_list] == sorted(
        {row.batch_number for row in rows}
    )
    assert summary.signer_fingerprint == uploads.keys.supplier_fpr
    # The rehearsal kept nothing: no voucher, no import record.
    assert uploads.in_stock() == 0
    spooled = uploads.spool / f"{summary.file_sha256}.gpg"
    assert spooled.read_bytes() == message
    uploads.sentinel.assert_absent(spooled.read_bytes(), "the spooled upload")
    uploads.sentinel.assert_absent(repr(preview), "the preview")
    # Waiting already: the same file is not filed twice.
    with pytest.raises(InvalidRequest, match="waits for approval already"):
        run(uploads.service.upload(frank, SUPPLIER, "again.gpg", message))
    four_eyes = uploads.adm.admin.services.four_eyes
    with pytest.raises(Forbidden):
        run(four_eyes.approve(fiona, preview.approval_id))
    assert uploads.in_stock() == 0
    approval = run(four_eyes.approve(frank, preview.approval_id))
    assert approval.state == "approved", approval.result
    assert approval.result["rows"] == 10 and uploads.in_stock() == 10
    assert not spooled.exists()
    (upload,) = uploads.adm.audit("stock.upload")
    assert upload["actor"] == fiona.actor and upload["details"]["rows"] == 10
    imported = [e for e in uploads.adm.audit("stock.import") if e["action"] == "stock.import"]
    assert imported[0]["actor"] == f"{frank.actor} (approving {fiona.actor})"
    # Imported now: the same file again is refused at the upload.
    with pytest.raises(AlreadyImported):
        run(uploads.service.upload(fiona, SUPPLIER, "again.gpg", message))
    uploads.no_pin_in_audit()


def test_refused_files_import_nothing(uploads: Uploads) -> None:
    fiona = uploads.user("fiona")
    rows = _rows(6, 7_800_100_000_000_001, seed=5)
    plaintext = render_csv(rows)
    uploads.sentinel.register(*(row.pin for row in rows))
    refusals: list[tuple[bytes, type[VendingError], str]] = [
        (bad_signature_message(uploads.keys, plaintext), VendingError, "signature"),
        (uploads.stock_file(rows, sign=None), VendingError, "sign"),
        (uploads.stock_file(rows, sign="stranger"), VendingError, ""),
        (b"not a PGP message at all", VendingError, ""),
    ]
    broken = [*rows[:2], replace(rows[2], expiry_date="2099-13-40"), *rows[3:]]
    refusals.append((uploads.stock_file(broken), StockFileRejected, "line 4"))
    for message, error, words in refusals:
        with pytest.raises(error) as raised:
            run(uploads.service.upload(fiona, SUPPLIER, "bad.gpg", message))
        shown = " ".join([str(raised.value), *map(str, getattr(raised.value, "problems", ()))])
        assert words in shown
        uploads.sentinel.assert_absent(shown, "a refusal")
    assert uploads.in_stock() == 0
    assert not uploads.spool.exists() or not any(uploads.spool.iterdir())
    assert uploads.adm.audit("stock.upload") == []
    assert len(uploads.adm.audit("stock.import_refused")) == len(refusals)
    with pytest.raises(UploadTooLarge):
        run(uploads.service.upload(fiona, SUPPLIER, "big.gpg", bytes(65 * 1024)))
    uploads.no_pin_in_audit()


def test_permission_and_rejection(uploads: Uploads) -> None:
    nobody = uploads.user("nina", frozenset())
    message = uploads.stock_file(_rows(4, 7_800_200_000_000_001, seed=7))
    with pytest.raises(Forbidden):
        run(uploads.service.upload(nobody, SUPPLIER, "s.gpg", message))
    assert uploads.adm.audit("stock.upload") == []
    fiona, frank = uploads.user("fiona"), uploads.user("frank")
    preview = run(uploads.service.upload(fiona, SUPPLIER, "s.gpg", message))
    four_eyes = uploads.adm.admin.services.four_eyes
    spooled = uploads.spool / f"{preview.summary.file_sha256}.gpg"
    # The uploader may not reject its own upload: refused, the file still waits.
    with pytest.raises(Forbidden):
        run(four_eyes.reject(fiona, preview.approval_id, "mine"))
    assert spooled.read_bytes() == message
    rejected = run(four_eyes.reject(frank, preview.approval_id, "wrong supplier"))
    assert rejected.state == "rejected" and uploads.in_stock() == 0
    assert [e["actor"] for e in uploads.adm.audit("approval.reject")] == [frank.actor]
    # Never to be imported: the encrypted file leaves the upload folder.
    assert not spooled.exists() and list(uploads.spool.iterdir()) == []


def test_a_withdrawn_upload_leaves_no_file(uploads: Uploads) -> None:
    fiona, frank = uploads.user("fiona"), uploads.user("frank")
    first = uploads.stock_file(_rows(4, 7_800_300_000_000_001, seed=11))
    second = uploads.stock_file(_rows(4, 7_800_300_000_000_101, seed=13))
    withdrawn = run(uploads.service.upload(fiona, SUPPLIER, "first.gpg", first))
    waiting = run(uploads.service.upload(fiona, SUPPLIER, "second.gpg", second))
    four_eyes = uploads.adm.admin.services.four_eyes
    # Only the requester withdraws: someone else's attempt is refused and deletes nothing.
    with pytest.raises(Forbidden):
        run(four_eyes.withdraw(frank, withdrawn.approval_id))
    assert len(list(uploads.spool.iterdir())) == 2
    assert run(four_eyes.withdraw(fiona, withdrawn.approval_id, "wrong file")).state == "rejected"
    # Only the withdrawn upload's file goes; the other still waits for its approval.
    assert list(uploads.spool.iterdir()) == [uploads.spool / f"{waiting.summary.file_sha256}.gpg"]
    # Withdrawn, the same file may be uploaded again (and is spooled again).
    again = run(uploads.service.upload(fiona, SUPPLIER, "first.gpg", first))
    assert (uploads.spool / f"{again.summary.file_sha256}.gpg").read_bytes() == first
    assert uploads.in_stock() == 0


def test_a_failed_approved_import_leaves_no_file_and_says_why(uploads: Uploads) -> None:
    """The same vouchers uploaded twice (two encryptions: two files, both previewed while
    neither was imported): the second approval's import finds them in stock. It fails
    whole, the approval says why, the spooled file is deleted and the failure audited."""
    fiona, frank = uploads.user("fiona"), uploads.user("frank")
    rows = _rows(8, 7_800_400_000_000_001, seed=17)
    first = run(uploads.service.upload(fiona, SUPPLIER, "may.gpg", uploads.stock_file(rows)))
    second = run(uploads.service.upload(fiona, SUPPLIER, "may-again.gpg", uploads.stock_file(rows)))
    assert first.summary.file_sha256 != second.summary.file_sha256
    four_eyes = uploads.adm.admin.services.four_eyes
    assert run(four_eyes.approve(frank, first.approval_id)).state == "approved"
    assert uploads.in_stock() == 8
    failed = run(four_eyes.approve(frank, second.approval_id))
    assert failed.state == "failed", failed.result
    assert failed.result["code"] == "stock_import_failed"
    assert failed.result["error"].startswith("the approved import failed: ")
    assert "uploaded file was deleted" in failed.result["error"]
    # Nothing more imported, and no stock file left behind.
    assert uploads.in_stock() == 8 and list(uploads.spool.iterdir()) == []
    (record,) = uploads.adm.audit("stock.upload_failed")
    assert record["actor"] == f"{frank.actor} (approving {fiona.actor})"
    details = record["details"]
    assert details["sha256"] == second.summary.file_sha256 and details["file_deleted"] is True
    assert details["approval"] == second.approval_id and details["file"] == "may-again.gpg"
    assert details["reason"] and details["message"]
    uploads.no_pin_in_audit()


def test_an_altered_spooled_file_is_refused_and_deleted(uploads: Uploads) -> None:
    fiona, frank = uploads.user("fiona"), uploads.user("frank")
    message = uploads.stock_file(_rows(4, 7_800_500_000_000_001, seed=19))
    preview = run(uploads.service.upload(fiona, SUPPLIER, "s.gpg", message))
    spooled = uploads.spool / f"{preview.summary.file_sha256}.gpg"
    spooled.write_bytes(message + b"\n")
    failed = run(uploads.adm.admin.services.four_eyes.approve(frank, preview.approval_id))
    assert failed.state == "failed" and "altered" in failed.result["error"]
    assert not spooled.exists() and uploads.in_stock() == 0
    (record,) = uploads.adm.audit("stock.upload_failed")
    assert record["details"]["reason"] == "invalid_request"
