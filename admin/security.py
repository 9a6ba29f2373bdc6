"""What every admin answer carries, and the cookie and CSRF rules (docs/ADMIN.md, "Security").

* Session cookie ``evd_admin``: ``Secure; HttpOnly; SameSite=Strict; Path=/admin``. Secure
  stays on in development: browsers treat ``http://127.0.0.1`` and ``http://localhost`` as
  secure contexts and keep Secure cookies there (``[admin] secure_cookies = false`` only for
  a plain-http rig on another host).
* CSRF: every POST carries a ``csrf`` field. Signed in, it must equal the session's token
  (kept server-side, renewed whenever the session id is); before sign-in (the login form)
  it must equal the ``evd_admin_pre`` cookie (double submit: SameSite=Strict and HttpOnly
  keep other sites from reading or sending it). A POST without a valid one is refused 403
  before any handler runs.
* Content-Security-Policy: no inline script or style, nothing from elsewhere; scripts only
  from our own ``/admin/static`` files.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

SESSION_COOKIE = b"evd_admin"
PRE_COOKIE = b"evd_admin_pre"
COOKIE_PATH = b"/admin"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)

HEADERS = {
    b"Content-Security-Policy": CSP.encode(),
    b"X-Content-Type-Options": b"nosniff",
    b"X-Frame-Options": b"DENY",
    b"Referrer-Policy": b"no-referrer",
    b"Cross-Origin-Opener-Policy": b"same-origin",
    b"Cross-Origin-Resource-Policy": b"same-origin",
    b"Permissions-Policy": b"camera=(), microphone=(), geolocation=(), payment=()",
}


def apply_headers(request: Any, *, cache: bool = False) -> None:
    for name, value in HEADERS.items():
        request.setHeader(name, value)
    if not cache:
        request.setHeader(b"Cache-Control", b"no-store")


def set_cookie(request: Any, name: bytes, value: str, *, secure: bool) -> None:
    request.addCookie(
        name,
        value.encode("ascii"),
        path=COOKIE_PATH,
        secure=secure,
        httpOnly=True,
        sameSite="strict",
    )


def clear_cookie(request: Any, name: bytes, *, secure: bool) -> None:
    request.addCookie(
        name,
        b"",
        path=COOKIE_PATH,
        secure=secure,
        httpOnly=True,
        sameSite="strict",
        max_age="0",
        expires="Thu, 01 Jan 1970 00:00:00 GMT",
    )


def new_token() -> str:
    return secrets.token_urlsafe(32)


def same_token(given: str | None, expected: str | None) -> bool:
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("ascii"))
