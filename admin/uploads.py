"""``multipart/form-data`` bodies (file uploads) for the admin forms: the text fields (the
CSRF token among them) and the files, parsed with the standard library's MIME parser.
Bodies above ``MAX_UPLOAD_BYTES`` are not parsed at all (the form then has no CSRF token and
is refused); the server's ``max_body_bytes`` caps them before that."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

MAX_UPLOAD_BYTES = 8 * 1024 * 1024
MAX_FIELD = 4000


@dataclass(frozen=True)
class UploadedFile:
    filename: str
    content: bytes = field(repr=False)


def parse_multipart(request: Any) -> tuple[dict[str, str], dict[str, UploadedFile]]:
    ctype = request.getHeader(b"content-type") or b""
    request.content.seek(0)
    body = request.content.read(MAX_UPLOAD_BYTES + 1)
    if len(body) > MAX_UPLOAD_BYTES or b"boundary=" not in ctype:
        return {}, {}
    head = b"Content-Type: " + ctype + b"\r\nMIME-Version: 1.0\r\n\r\n"
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    fields: dict[str, str] = {}
    files: dict[str, UploadedFile] = {}
    if not message.is_multipart():
        return {}, {}
    for part in message.iter_parts():
        name = _param(part, "name")
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        filename = _param(part, "filename")
        if filename is not None:
            files[name] = UploadedFile(filename, payload)
        else:
            fields[name] = payload.decode("utf-8", "replace")[:MAX_FIELD]
    return fields, files


def _param(part: Message, name: str) -> str | None:
    if part.get_content_disposition() != "form-data":
        return None
    value = part.get_param(name, header="content-disposition")
    if value is None:
        return None
    return str(value) if not isinstance(value, tuple) else str(value[2])
