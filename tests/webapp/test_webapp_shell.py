"""The app's shell without a browser: what the resource serves (security headers, the
redirect to /app/, 404/405, ETags), the manifest, the generated icons, the service worker's
file list, and the rules the sources keep (no inline script or style, no innerHTML)."""

from __future__ import annotations

import json
import re
import struct
import zlib
from urllib.error import HTTPError
from urllib.request import HTTPRedirectHandler, Request, build_opener

import pytest
from webapp_support import Live

from webapp import shell
from webapp.app import banner_lines
from webapp.icons import png

STATIC = shell.STATIC


def test_the_manifest_makes_the_app_installable() -> None:
    manifest = json.loads(shell.manifest())
    assert manifest["start_url"] == manifest["scope"] == manifest["id"] == "/app/"
    assert manifest["display"] == "standalone"
    sizes = {icon["sizes"] for icon in manifest["icons"] if icon["type"] == "image/png"}
    assert {"192x192", "512x512"} <= sizes


@pytest.mark.parametrize("size", [192, 512])
def test_the_icons_are_valid_pngs_of_their_size(size: int) -> None:
    data = png(size)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    width, height = struct.unpack(">II", data[16:24])
    assert (kind, length, width, height) == (b"IHDR", 13, size, size)
    idat_length = struct.unpack(">I", data[33:37])[0]
    rows = zlib.decompress(data[41 : 41 + idat_length])
    assert len(rows) == size * (1 + 3 * size)
    # Both colours are there: the bolt is drawn, not a blank square.
    pixels = {rows[i : i + 3] for i in range(1, 1 + 3 * size * 10, 3)}
    middle = size // 2 * (1 + 3 * size) + 1
    row = rows[middle : middle + 3 * size]
    assert b"\xff\xff\xff" in {row[i : i + 3] for i in range(0, len(row), 3)}
    assert bytes((11, 110, 79)) in pixels


def test_the_worker_caches_exactly_the_shell() -> None:
    assets = shell.load()
    worker = assets["sw.js"].body.decode()
    files = json.loads(re.search(r"const SHELL = (\[.*?\]);", worker).group(1))
    assert "/app/" in files and "/app/js/main.js" in files and "/app/sw.js" not in files
    assert not [name for name in files if "/api/" in name]
    assert "__SHELL_VERSION__" not in worker
    # The fetch handler answers shell paths only; everything else goes to the network.
    assert "SHELL_PATHS.has(url.pathname)" in worker


def test_the_sources_have_no_inline_script_style_or_html_injection() -> None:
    page = (STATIC / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)
    assert "<style" not in page and "style=" not in page
    assert not re.search(r"\son[a-z]+=", page)  # no inline event handler
    forbidden = ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(")
    for source in (STATIC / "js").glob("*.js"):
        text = source.read_text()
        for name in forbidden:
            assert name not in text, f"{source.name} uses {name}"


def test_the_banner_names_the_app() -> None:
    lines = banner_lines("http://127.0.0.1:8080")
    assert lines[0].startswith("Phone app http://127.0.0.1:8080/app/")


class _NoRedirect(HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _get(
    url: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    request = Request(url, method=method, headers=headers or {})
    try:
        with build_opener(_NoRedirect).open(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.mark.slow
def test_the_resource_serves_the_shell_with_strict_headers(live: Live) -> None:
    status, headers, _ = _get(live.base + "/app")
    assert (status, headers["Location"]) == (301, "/app/")
    status, headers, body = _get(live.app)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b'<script type="module" src="js/main.js">' in body
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe" not in csp and "frame-ancestors 'none'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    status, _, _ = _get(live.app, headers={"If-None-Match": headers["ETag"]})
    assert status == 304
    status, headers, body = _get(live.app + "sw.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    assert _get(live.app + "manifest.webmanifest")[1]["Content-Type"] == (
        "application/manifest+json"
    )
    assert _get(live.app + "icon-512.png")[2] == png(512)
    for missing in ("nothing.js", "../pyproject.toml", "js/../../webapp/app.py", "%2e%2e/x"):
        assert _get(live.app + missing)[0] == 404, missing
    assert _get(live.app, method="POST")[0] == 405
    # The API is served beside it, as before.
    assert _get(live.base + "/api/v1/openapi.json")[0] == 200
    # `evd serve`'s banner (what `make run` prints) names the app and its demo logins.
    banner = "".join(live.server.stdout)
    assert f"Phone app {live.app}" in banner and "27820000001 PIN 1234" in banner
