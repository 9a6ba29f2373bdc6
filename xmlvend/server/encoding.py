"""gzip on the wire: request bodies with ``Content-Encoding: gzip`` (decompressed with a
size cap, so a gzip bomb costs at most the cap) and responses for clients that send
``Accept-Encoding: gzip`` (reference §6: XMLVend names GZIP as its compression)."""

from __future__ import annotations

import gzip
import zlib


class BodyTooLarge(ValueError):
    """The body (or what it decompresses to) is larger than the limit: answer 413."""


class UnsupportedEncoding(ValueError):
    """A Content-Encoding we do not decode: answer 415."""


class BadEncoding(ValueError):
    """The body is not valid data of its Content-Encoding: answer 400."""


_GZIP_WBITS = 16 + zlib.MAX_WBITS


def decode_body(body: bytes, content_encoding: bytes | None, limit: int) -> bytes:
    """The request body without its Content-Encoding, at most ``limit`` bytes."""
    codings = [c.strip().lower() for c in (content_encoding or b"").split(b",") if c.strip()]
    for coding in reversed(codings):  # applied in the order listed: undo from the last
        if coding == b"identity":
            continue
        if coding not in (b"gzip", b"x-gzip"):
            raise UnsupportedEncoding(f"Content-Encoding {coding.decode('latin-1')!r}")
        body = gunzip(body, limit)
    return body


def gunzip(data: bytes, limit: int) -> bytes:
    """Decompress gzip ``data`` (several members allowed), refusing output over ``limit``."""
    out = bytearray()
    while data:
        decompressor = zlib.decompressobj(_GZIP_WBITS)
        try:
            out += decompressor.decompress(data, limit + 1 - len(out))
        except zlib.error as exc:
            raise BadEncoding(f"not valid gzip data: {exc}") from None
        if len(out) > limit:
            raise BodyTooLarge(f"the body decompresses to more than {limit} bytes")
        if not decompressor.eof:
            # Output capped exactly at the limit, or a truncated stream.
            if decompressor.unconsumed_tail:
                raise BodyTooLarge(f"the body decompresses to more than {limit} bytes")
            raise BadEncoding("truncated gzip data")
        data = decompressor.unused_data
    return bytes(out)


def accepts_gzip(accept_encoding: bytes | None) -> bool:
    """True when the client's Accept-Encoding allows gzip (``q=0`` refuses it)."""
    if not accept_encoding:
        return False
    for item in accept_encoding.split(b","):
        coding, _, params = item.strip().partition(b";")
        if coding.strip().lower() not in (b"gzip", b"x-gzip", b"*"):
            continue
        quality = 1.0
        for param in params.split(b";"):
            name, _, value = param.strip().partition(b"=")
            if name.strip().lower() == b"q":
                try:
                    quality = float(value.strip() or b"1")
                except ValueError:
                    quality = 0.0
        if quality > 0:
            return True
    return False


def gzip_body(body: bytes) -> bytes:
    """gzip with a fixed header time (the same response always compresses the same)."""
    return gzip.compress(body, compresslevel=6, mtime=0)
