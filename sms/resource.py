"""Kannel's callbacks: ``/sms/mo`` (an MO: ``from``, ``to``, ``text``, ``id``; GET as Kannel's
``get-url`` sends it, or a form POST) and ``/sms/dlr`` (a delivery report: ``id``, ``t``
the message's token, ``s`` Kannel's ``%d``). With ``gateway_token`` set, both require it
as ``g``. The MO answer (200, ``text/plain``) is the reply, already queued as an MT; the
MO's text and the reply are never logged (they may carry a PIN)."""

from __future__ import annotations

import hmac
import logging
from typing import Any

from twisted.internet.defer import ensureDeferred
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from sms.channel import Mo, SmsChannel
from vending.errors import InvalidRequest
from vending.services.sms import SmsOutbox
from vending.sms_merchants import normalize_msisdn

log = logging.getLogger("evd.sms")


def _arg(request: Any, name: str) -> str:
    values = request.args.get(name.encode())
    if not values:
        return ""
    return values[0].decode("utf-8", errors="replace")


def _plain(request: Any, status: int, body: str) -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"content-type", b"text/plain; charset=utf-8")
    request.setHeader(b"cache-control", b"no-store")
    return body.encode("utf-8")


class _GatewayResource(Resource):
    isLeaf = True

    def __init__(self, gateway_token: str) -> None:
        super().__init__()
        self._token = gateway_token

    def _allowed(self, request: Any) -> bool:
        return not self._token or hmac.compare_digest(_arg(request, "g"), self._token)

    def _finish(self, request: Any, status: int, body: str) -> None:
        if request.finished or getattr(request, "_disconnected", False):
            return
        data = _plain(request, status, body)
        request.setHeader(b"content-length", b"%d" % len(data))
        request.write(data)
        request.finish()


class MoResource(_GatewayResource):
    def __init__(self, channel: SmsChannel, gateway_token: str = "") -> None:
        super().__init__(gateway_token)
        self._channel = channel

    def render_GET(self, request: Any) -> Any:
        if not self._allowed(request):
            return _plain(request, 403, "forbidden")
        message_id = _arg(request, "id").strip()
        text = _arg(request, "text")
        try:
            sender = normalize_msisdn(_arg(request, "from"))
        except InvalidRequest:
            return _plain(request, 400, "from: not a phone number")
        if not message_id or len(message_id) > 64:
            return _plain(request, 400, "id: the gateway's message id is required")
        if len(text) > 1600:
            return _plain(request, 400, "text: too long")
        mo = Mo(sender, _arg(request, "to"), text, message_id)
        done = ensureDeferred(self._channel.handle(mo))

        def answered(reply: str) -> None:
            self._finish(request, 200, reply)

        def failed(failure: Any) -> None:
            # 5xx: Kannel retries the MO (http-request-retry); the retry replays.
            log.error("MO %s failed: %s", message_id, failure.value.__class__.__name__)
            self._finish(request, 503, "temporarily unavailable")

        done.addCallbacks(answered, failed)
        return NOT_DONE_YET

    render_POST = render_GET


class DlrResource(_GatewayResource):
    def __init__(self, outbox: SmsOutbox, gateway_token: str = "") -> None:
        super().__init__(gateway_token)
        self._outbox = outbox

    def render_GET(self, request: Any) -> Any:
        if not self._allowed(request):
            return _plain(request, 403, "forbidden")
        try:
            message_id = int(_arg(request, "id"))
            status = int(_arg(request, "s"))
        except ValueError:
            return _plain(request, 400, "id and s are numbers")
        token = _arg(request, "t")
        done = ensureDeferred(self._outbox.record_dlr(message_id, token, status))
        done.addCallbacks(
            lambda taken: self._finish(request, 200 if taken else 404, "ok" if taken else "?"),
            lambda failure: self._finish(request, 503, "temporarily unavailable"),
        )
        return NOT_DONE_YET

    render_POST = render_GET


class SmsRoot(Resource):
    """``/sms``: ``mo`` and ``dlr``."""

    def __init__(self, mo: MoResource, dlr: DlrResource) -> None:
        super().__init__()
        self.putChild(b"mo", mo)
        self.putChild(b"dlr", dlr)


__all__ = ["DlrResource", "MoResource", "SmsRoot"]
