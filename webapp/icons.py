"""The app's icons, drawn here (no image files copied in): a lightning bolt on a green
rounded square, as SVG and as PNG at the sizes browsers ask a web app manifest for.

The PNG encoder is the minimum the format needs (one IDAT of filter-0 scanlines, CRCs
from :mod:`zlib`); the bolt is a polygon filled scanline by scanline (exact coverage
across, four samples down), so the icon is smooth at every size."""

from __future__ import annotations

import struct
import zlib
from functools import cache

BACKGROUND = (11, 110, 79)  # #0b6e4f
FOREGROUND = (255, 255, 255)
SAMPLES = 4
# The bolt on a 0..1 square.
BOLT = (
    (0.56, 0.14),
    (0.28, 0.56),
    (0.47, 0.56),
    (0.42, 0.86),
    (0.72, 0.42),
    (0.53, 0.42),
    (0.60, 0.14),
)

SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">'
    '<rect width="100" height="100" rx="18" fill="#0b6e4f"/>'
    '<polygon fill="#fff" points="'
    + " ".join(f"{x * 100:g},{y * 100:g}" for x, y in BOLT)
    + '"/></svg>\n'
).encode()


def _crossings(y: float) -> list[float]:
    """Where the horizontal line at ``y`` crosses the bolt's edges, left to right."""
    found = []
    count = len(BOLT)
    for i in range(count):
        x1, y1 = BOLT[i]
        x2, y2 = BOLT[(i + 1) % count]
        if (y1 > y) != (y2 > y):
            found.append((x2 - x1) * (y - y1) / (y2 - y1) + x1)
    return sorted(found)


def _row_coverage(py: int, size: int) -> list[float]:
    """How much of each pixel of row ``py`` the bolt covers (0..1): exact across, four
    samples down."""
    coverage = [0.0] * size
    for sub in range(SAMPLES):
        spans = _crossings((py + (sub + 0.5) / SAMPLES) / size)
        for left, right in zip(spans[::2], spans[1::2], strict=True):
            a, b = left * size, right * size
            for px in range(max(0, int(a)), min(size, int(b) + 1)):
                overlap = min(b, px + 1) - max(a, px)
                if overlap > 0:
                    coverage[px] += overlap / SAMPLES
    return coverage


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


@cache
def png(size: int) -> bytes:
    """A square RGB PNG of the icon, ``size`` pixels wide (full bleed: maskable)."""
    rows = bytearray()
    for py in range(size):
        rows.append(0)  # filter type 0 (none)
        for alpha in _row_coverage(py, size):
            rows.extend(
                round(b + (f - b) * alpha) for b, f in zip(BACKGROUND, FOREGROUND, strict=True)
            )
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + _chunk(b"IEND", b"")
    )
