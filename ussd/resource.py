"""``/ussd``: the gateway's callback. A form POST (or GET) with ``sessionId``,
``serviceCode``, ``phoneNumber``, ``networkCode``, ``text``; the answer is ``text/plain``
``CON ...``/``END ...``. With ``gateway_token`` set it is required as ``g`` in the query.
Inputs are never logged (they carry the PIN)."""

from __future__ import annotations

import hmac
import logging
from typing import Any

from twisted.internet.defer import ensureDeferred
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from ussd.menu import UssdChannel, end

log = logging.getLogger("evd.ussd")


def _arg(request: Any, name: str) -> str:
    values = request.args.get(name.encode())
    return values[0].decode("utf-8", errors="replace") if values else ""


class UssdResource(Resource):
    isLeaf = True

    def __init__(self, channel: UssdChannel, gateway_token: str = "") -> None:
        super().__init__()
        self._channel = channel
        self._token = gateway_token

    def _send(self, request: Any, status: int, body: str) -> None:
        if request.finished or getattr(request, "_disconnected", False):
            return
        request.setResponseCode(status)
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        data = body.encode("utf-8")
        request.setHeader(b"content-length", b"%d" % len(data))
        request.write(data)
        request.finish()

    def render_POST(self, request: Any) -> Any:
        if self._token and not hmac.compare_digest(_arg(request, "g"), self._token):
            request.setResponseCode(403)
            return b"END forbidden"
        session_id = _arg(request, "sessionId").strip()
        phone = _arg(request, "phoneNumber")
        text = _arg(request, "text")
        if not session_id or len(session_id) > 64 or len(text) > 182:
            request.setResponseCode(400)
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return end("Bad request.").encode()
        done = ensureDeferred(self._channel.handle(session_id, phone, text))

        def failed(failure: Any) -> None:
            log.error("USSD session failed: %s", failure.value.__class__.__name__)
            self._send(request, 200, end("Sorry, that failed. Nothing was sold."))

        done.addCallbacks(lambda screen: self._send(request, 200, screen), failed)
        return NOT_DONE_YET

    render_GET = render_POST


__all__ = ["UssdResource"]
