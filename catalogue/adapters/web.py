"""Provider callbacks over HTTP: ``POST /callbacks/<provider>`` in ``evd serve``'s site.

The resource only translates: the peer address, the ``X-Signature`` header and the body go
to :meth:`catalogue.fulfilment.Fulfilment.callback` (allow-list, HMAC, idempotent
processing); the answer is ``{"result": ...}`` with its HTTP status. Mounted through the
``evd.web`` entry point (:func:`build_for_serve`)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import ensureDeferred, succeed
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from catalogue.callbacks import SIGNATURE_HEADER

log = logging.getLogger("evd.catalogue.callbacks")
MAX_BODY = 64 * 1024


class CallbackResource(Resource):
    isLeaf = True

    def __init__(self, fulfilment: Any) -> None:
        super().__init__()
        self._fulfilment = fulfilment

    def _answer(self, request: Any, status: int, result: str) -> bytes:
        request.setResponseCode(status)
        request.setHeader(b"Content-Type", b"application/json")
        return json.dumps({"result": result}).encode()

    def render_POST(self, request: Any) -> Any:
        if self._fulfilment is None:
            return self._answer(request, 503, "no_providers")
        if len(request.postpath) != 1 or not request.postpath[0]:
            return self._answer(request, 404, "unknown_provider")
        provider = request.postpath[0].decode("ascii", "replace")
        body = request.content.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            return self._answer(request, 413, "too_large")
        peer = getattr(request.getClientAddress(), "host", "")
        signature = request.getHeader(SIGNATURE_HEADER.encode())
        d = ensureDeferred(
            self._fulfilment.callback(
                provider, peer, body, signature.decode("ascii", "replace") if signature else None
            )
        )

        def done(outcome: tuple[int, str]) -> None:
            request.write(self._answer(request, *outcome))
            request.finish()

        def failed(failure: Any) -> None:
            log.error("callback from %s: %s", provider, failure.getTraceback())
            request.write(self._answer(request, 500, "error"))
            request.finish()

        d.addCallbacks(done, failed)
        return NOT_DONE_YET


@dataclass
class CallbackMount:
    segment: bytes
    resource: Resource

    def stop(self) -> Any:
        return succeed(None)


def build_for_serve(app: Any, *, reactor: Any, background: bool = True) -> CallbackMount:
    """The ``evd.web`` entry point: ``/callbacks`` (503 when no fulfilment is wired)."""
    return CallbackMount(b"callbacks", CallbackResource(getattr(app.services, "fulfilment", None)))


def banner_lines(base_url: str, curl_options: str = "") -> list[str]:
    return [f"Provider callbacks  {base_url}/callbacks/<provider>  (IP allow-list + HMAC)", ""]
