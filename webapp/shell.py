"""The app's shell: the static files (``webapp/static``), the manifest and the icons, read
once at start-up into memory with their media types, plus the service worker with the
shell's version and file list filled in. Nothing here is per user or per request."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from webapp import icons

STATIC = Path(__file__).resolve().parent / "static"
BASE = "/app/"

MEDIA_TYPES = {
    ".html": b"text/html; charset=utf-8",
    ".js": b"text/javascript; charset=utf-8",
    ".css": b"text/css; charset=utf-8",
    ".svg": b"image/svg+xml",
    ".png": b"image/png",
    ".webmanifest": b"application/manifest+json",
}

ICON_SIZES = (192, 512)


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: bytes
    etag: bytes


def _asset(body: bytes, media_type: bytes) -> Asset:
    return Asset(body, media_type, b'"' + hashlib.sha256(body).hexdigest()[:20].encode() + b'"')


def manifest() -> bytes:
    """The web app manifest: what makes the app installable (name, start URL in scope,
    standalone display, icons of 192 and 512 pixels)."""
    document = {
        "name": "EVD Wallet",
        "short_name": "EVD",
        "description": "Buy airtime, data and electricity from your wallet or float.",
        "id": BASE,
        "start_url": BASE,
        "scope": BASE,
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#ffffff",
        "theme_color": "#0b6e4f",
        "icons": [
            {"src": "icon.svg", "sizes": "any", "type": "image/svg+xml"},
            *(
                {"src": f"icon-{size}.png", "sizes": f"{size}x{size}", "type": "image/png"}
                for size in ICON_SIZES
            ),
            # The icon is full bleed (the bolt well inside the safe zone): it masks as is.
            {
                "src": f"icon-{ICON_SIZES[-1]}.png",
                "sizes": f"{ICON_SIZES[-1]}x{ICON_SIZES[-1]}",
                "type": "image/png",
                "purpose": "maskable",
            },
        ],
    }
    return json.dumps(document, indent=2).encode()


def load() -> dict[str, Asset]:
    """Every file of the shell by its path under /app/ ("" is the page itself)."""
    assets: dict[str, Asset] = {}
    for path in sorted(STATIC.rglob("*")):
        if not path.is_file() or path.suffix not in MEDIA_TYPES:
            continue
        name = path.relative_to(STATIC).as_posix()
        if name == "sw.js":
            continue  # filled in below, once the shell's version is known
        assets[name] = _asset(path.read_bytes(), MEDIA_TYPES[path.suffix])
    assets["manifest.webmanifest"] = _asset(manifest(), MEDIA_TYPES[".webmanifest"])
    assets["icon.svg"] = _asset(icons.SVG, MEDIA_TYPES[".svg"])
    for size in ICON_SIZES:
        assets[f"icon-{size}.png"] = _asset(icons.png(size), MEDIA_TYPES[".png"])
    assets[""] = assets["index.html"]
    # The service worker caches exactly these files under a version that changes with any
    # of them, so a new release replaces the old shell (and nothing else is ever cached).
    files = sorted(name for name in assets if name != "index.html")
    version = hashlib.sha256(b"".join(assets[name].etag for name in files)).hexdigest()[:16]
    worker = (
        (STATIC / "sw.js")
        .read_text()
        .replace("__SHELL_VERSION__", version)
        .replace('"__SHELL_FILES__"', json.dumps([BASE + name for name in files]))
    )
    assets["sw.js"] = _asset(worker.encode(), MEDIA_TYPES[".js"])
    return assets
