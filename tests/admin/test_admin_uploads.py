"""``admin/uploads.py``: multipart/form-data bodies give their text fields and their files
byte for byte (binary PGP messages: CR, LF and boundary-like bytes inside), and bodies that
are too large or malformed give nothing (so the form has no CSRF token and is refused)."""

from __future__ import annotations

import io
import random

import pytest

from admin import uploads
from admin.uploads import parse_multipart

BOUNDARY = b"----WebKitFormBoundary7MA4YWxkTrZu0gW"


class _Request:
    def __init__(self, content_type: bytes, body: bytes) -> None:
        self._content_type = content_type
        self.content = io.BytesIO(body)

    def getHeader(self, name: bytes) -> bytes:
        assert name == b"content-type"
        return self._content_type


def _body(content: bytes, filename: str = "stock 12.csv.gpg") -> bytes:
    return b"".join([
        b"--", BOUNDARY, b'\r\nContent-Disposition: form-data; name="csrf"\r\n\r\ntok-1\r\n',
        b"--", BOUNDARY, b'\r\nContent-Disposition: form-data; name="supplier"\r\n\r\nDEMO\r\n',
        b"--", BOUNDARY, b'\r\nContent-Disposition: form-data; name="file"; filename="',
        filename.encode(), b'"\r\nContent-Type: application/pgp-encrypted\r\n\r\n', content,
        b"\r\n--", BOUNDARY, b"--\r\n",
    ])  # fmt: skip


def _parse(body: bytes) -> tuple[dict[str, str], dict[str, uploads.UploadedFile]]:
    return parse_multipart(_Request(b"multipart/form-data; boundary=" + BOUNDARY, body))


@pytest.mark.parametrize("size", [0, 1, 1000, 70_000])
def test_fields_and_files_come_back_byte_for_byte(size: int) -> None:
    noise = random.Random(size).randbytes(size)
    content = b"\r\n\r\n--" + BOUNDARY[:10] + b"\n\r" + noise + b"\r\n"
    fields, files = _parse(_body(content))
    assert fields == {"csrf": "tok-1", "supplier": "DEMO"}
    assert files["file"].filename == "stock 12.csv.gpg"
    assert files["file"].content == content


def test_too_large_or_malformed_bodies_give_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(uploads, "MAX_UPLOAD_BYTES", 1024)
    assert _parse(_body(bytes(2048))) == ({}, {})
    assert parse_multipart(_Request(b"multipart/form-data", _body(b"x"))) == ({}, {})
    assert _parse(b"no multipart here") == ({}, {})
