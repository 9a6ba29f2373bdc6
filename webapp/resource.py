"""The Twisted resource at ``/app``: serves the shell (``webapp.shell``) and nothing else.
Every answer carries a strict Content Security Policy (scripts, styles, images, fetches and
the worker only from this origin; no inline script or style, no frames, no plugins), so
even a rendering mistake could not run injected script."""

from __future__ import annotations

from typing import Any

from twisted.web import http, server
from twisted.web.resource import Resource

from webapp.shell import Asset

CSP = (
    b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    b"connect-src 'self'; manifest-src 'self'; worker-src 'self'; base-uri 'none'; "
    b"form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    (b"Content-Security-Policy", CSP),
    (b"X-Content-Type-Options", b"nosniff"),
    (b"Referrer-Policy", b"no-referrer"),
    (b"X-Frame-Options", b"DENY"),
    (b"Cross-Origin-Opener-Policy", b"same-origin"),
    (b"Permissions-Policy", b"camera=(), microphone=(), geolocation=()"),
)


class AppResource(Resource):
    """A leaf: ``/app`` redirects to ``/app/``; ``/app/<file>`` is a file of the shell."""

    isLeaf = True

    def __init__(self, assets: dict[str, Asset]) -> None:
        super().__init__()
        self._assets = assets

    def render(self, request: server.Request) -> bytes:
        for name, value in SECURITY_HEADERS:
            request.setHeader(name, value)
        method = request.method
        if method not in (b"GET", b"HEAD"):
            request.setResponseCode(405)
            request.setHeader(b"Allow", b"GET, HEAD")
            return b""
        path = b"/".join(request.postpath)
        if not request.postpath:
            # "/app" itself: the page's relative URLs and the worker's scope need "/app/".
            request.setResponseCode(301)
            request.setHeader(b"Location", b"/app/")
            return b""
        asset = self._assets.get(path.decode("utf-8", "replace"))
        if asset is None:
            request.setResponseCode(404)
            request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
            return b"not found\n"
        request.setHeader(b"Content-Type", asset.media_type)
        request.setHeader(b"ETag", asset.etag)
        # Revalidated on every load (cheap: 304 by ETag); the service worker serves the
        # shell offline.
        request.setHeader(b"Cache-Control", b"no-cache")
        if request.setETag(asset.etag) == http.CACHED:
            return b""
        return _body(request, asset)


def _body(request: Any, asset: Asset) -> bytes:
    request.setHeader(b"Content-Length", str(len(asset.body)).encode())
    return b"" if request.method == b"HEAD" else asset.body
