"""Issue 10 §2: the parser never opens a file or a socket, whatever the body's encoding.

A DOCTYPE naming a local file, a FIFO or a loopback URL is refused in UTF-8, UTF-16LE/BE
(with and without BOM) and UTF-32, with one and the same fault text (so files cannot be
probed), nothing is opened and no connection is made. Bodies in the encodings we accept
parse to the same request as their UTF-8 form; other encodings get a clear fault.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from codec_samples import all_requests
from lxml import etree

from tests.xmlvend.codec.fifo_watch import FifoWatch
from xmlvend.codec import MalformedRequest, parse_request, render_request, salvage_header
from xmlvend.codec.parser import MAX_ELEMENTS, XmlRejected, parse_document, xml_parser

VALID = render_request(all_requests()[6]).decode()
_DECLARATION, _, BODY = VALID.partition("?>")  # the envelope without the XML declaration
BODY = BODY.lstrip("\n")


def _bom_utf16le(text: str) -> bytes:
    return b"\xff\xfe" + text.encode("utf-16-le")


def _bom_utf16be(text: str) -> bytes:
    return b"\xfe\xff" + text.encode("utf-16-be")


# name -> (label for the XML declaration, text -> bytes)
ENCODINGS: dict[str, tuple[str, Callable[[str], bytes]]] = {
    "utf-8": ("UTF-8", lambda t: t.encode("utf-8")),
    "utf-8-bom": ("UTF-8", lambda t: t.encode("utf-8-sig")),
    "utf-16le-bom": ("UTF-16", _bom_utf16le),
    "utf-16le": ("UTF-16", lambda t: t.encode("utf-16-le")),
    "utf-16be-bom": ("UTF-16", _bom_utf16be),
    "utf-16be": ("UTF-16", lambda t: t.encode("utf-16-be")),
    "utf-32-bom": ("UTF-32", lambda t: t.encode("utf-32")),
    "utf-32le": ("UTF-32", lambda t: t.encode("utf-32-le")),
    "utf-32be": ("UTF-32", lambda t: t.encode("utf-32-be")),
}


def document(
    encoding: str, prolog: str = "", *, declaration: bool = True, body: str = BODY
) -> bytes:
    label, encode = ENCODINGS[encoding]
    head = f'<?xml version="1.0" encoding="{label}"?>' if declaration else ""
    return encode(head + prolog + body)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback socket listening (so a connect would succeed) that nobody accepts on."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    try:
        yield sock
    finally:
        sock.close()


def _no_connection_made(sock: socket.socket) -> bool:
    try:
        conn, _ = sock.accept()
    except BlockingIOError:
        return True
    conn.close()
    return False


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_doctype_naming_a_file_a_fifo_or_a_url_is_refused_alike(
    encoding: str, tmp_path: Path, listener: socket.socket
) -> None:
    existing = tmp_path / "secret.txt"
    existing.write_text("root:x:0:0:root:/root:/bin/bash\n")
    port = listener.getsockname()[1]
    with FifoWatch(tmp_path / "pipe") as fifo:
        targets = {
            "file": existing.as_uri(),
            "passwd": "file:///etc/passwd",
            "missing": (tmp_path / "missing.dtd").as_uri(),
            "fifo": fifo.path.as_uri(),
            "http": f"http://127.0.0.1:{port}/evil.dtd",
        }
        messages = {}
        for name, url in targets.items():
            with pytest.raises(MalformedRequest) as info:
                parse_request(document(encoding, f'<!DOCTYPE x SYSTEM "{url}">'))
            messages[name] = info.value.message
            assert info.value.header is None
        assert not fifo.opened, "the parser opened the FIFO"
    assert _no_connection_made(listener), "the parser connected to the URL"
    # One answer whatever the target: an existing file cannot be told from a missing one.
    assert len(set(messages.values())) == 1, messages
    message = messages["file"]
    assert "DTD" in message
    for leak in ("secret", "passwd", "missing", "pipe", "subset", str(tmp_path), "127.0.0.1"):
        assert leak not in message


@pytest.mark.parametrize("encoding", ["utf-16le", "utf-16be", "utf-32le"])
def test_doctype_without_xml_declaration_is_refused(encoding: str, tmp_path: Path) -> None:
    with FifoWatch(tmp_path / "pipe") as fifo:
        body = document(encoding, f'<!DOCTYPE x SYSTEM "{fifo.path.as_uri()}">', declaration=False)
        with pytest.raises(MalformedRequest):
            parse_request(body)
        assert salvage_header(body) is None
    assert not fifo.opened


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16le-bom", "utf-32be"])
def test_internal_entities_are_refused(encoding: str) -> None:
    body = document(
        encoding, '<!DOCTYPE x [<!ENTITY e "expanded">]>', body=BODY.replace("OPNAME", "&e;")
    )
    with pytest.raises(MalformedRequest) as info:
        parse_request(body)
    assert "DTD" in info.value.message


def test_the_lxml_parser_itself_loads_nothing(tmp_path: Path, listener: socket.socket) -> None:
    """Second line of defence: even a DOCTYPE that got past the text check (it cannot) is
    never loaded by the parser the codec hands documents to: no DTD loading, a resolver
    that refuses everything."""
    port = listener.getsockname()[1]
    with FifoWatch(tmp_path / "pipe") as fifo:
        for url in (fifo.path.as_uri(), f"http://127.0.0.1:{port}/x.dtd", "file:///etc/passwd"):
            for recover in (False, True):
                text = f'<!DOCTYPE x SYSTEM "{url}">' + BODY
                # Refused by the resolver or not well-formed: both fine, if nothing opened.
                with contextlib.suppress(Exception):
                    etree.fromstring(text.encode(), xml_parser(recover))
        assert not fifo.opened
    assert _no_connection_made(listener)


@pytest.mark.parametrize("encoding", list(ENCODINGS))
@pytest.mark.parametrize("declaration", [True, False], ids=["declared", "undeclared"])
def test_valid_request_in_every_accepted_encoding(encoding: str, declaration: bool) -> None:
    expected = parse_request(VALID.encode())
    assert parse_request(document(encoding, declaration=declaration)) == expected


@pytest.mark.parametrize("label", ["ISO-8859-1", "latin1", "windows-1252", "US-ASCII"])
def test_single_byte_encodings_are_decoded(label: str) -> None:
    text = f'<?xml version="1.0" encoding="{label}"?>' + BODY
    if label != "US-ASCII":
        text = text.replace("OPNAME", "OPN\u00c9ME")
    request = parse_request(text.encode(label))
    assert request.header.auth_cred is not None
    assert request.header.auth_cred.op_name == ("OPNAME" if label == "US-ASCII" else "OPNÉME")


@pytest.mark.parametrize(
    "body",
    [
        '<?xml version="1.0" encoding="EBCDIC-CP-US"?><x/>'.encode("cp037"),
        ('<?xml version="1.0" encoding="Shift_JIS"?>' + BODY).encode("shift_jis"),
        ('<?xml version="1.0" encoding="no-such-encoding"?>' + BODY).encode(),
        ('<?xml version="1.0" encoding="UTF-16"?>' + BODY).encode(),  # says 16, is 8
        ('<?xml version="1.0" encoding="UTF-8"?>' + BODY).encode("utf-16"),  # says 8, is 16
        b"\x00\x00\x3c\x00" + BODY.encode("ascii"),  # UCS-4 in an unusual byte order
    ],
    ids=["ebcdic", "shift-jis", "unknown", "16-as-8", "8-as-16", "ucs4-2143"],
)
def test_other_or_inconsistent_encodings_get_a_clear_fault(body: bytes) -> None:
    with pytest.raises(MalformedRequest) as info:
        parse_request(body)
    assert "encoding" in info.value.message.lower()


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0" encoding="UTF-16"?>'.decode().encode("utf-16-le") + b"\x00\xd8<\x00",
        b"\xff\xfe" + "<x>".encode("utf-16-le") + b"\x00",  # odd length
        b'<?xml version="1.0" encoding="UTF-8"?><x>\xff\xfe</x>',
    ],
    ids=["lone-surrogate", "odd-length", "bad-utf-8"],
)
def test_undecodable_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(MalformedRequest):
        parse_request(body)


def test_syntax_errors_name_the_position_only() -> None:
    broken = BODY.replace("</b:msgID>", "").replace("/>", ">", 3)
    with pytest.raises(MalformedRequest) as info:
        parse_request(("<?xml version='1.0' encoding='UTF-16'?>" + broken).encode("utf-16"))
    message = info.value.message
    assert message.startswith("not well-formed XML (line ")
    assert "tag" not in message.lower()  # libxml2's own wording stays in the server


def test_element_count_of_requests_is_bounded() -> None:
    many = "<a/>" * (MAX_ELEMENTS + 1)
    body = BODY.replace("<soap:Body>", f"<soap:Header>{many}</soap:Header><soap:Body>").encode()
    with pytest.raises(MalformedRequest, match="elements"):
        parse_request(body)
    # Documents read from servers (long statements) have only the size limit.
    assert parse_document(body).tag.endswith("Envelope")
    with pytest.raises(XmlRejected):
        parse_document(body, max_elements=MAX_ELEMENTS)
