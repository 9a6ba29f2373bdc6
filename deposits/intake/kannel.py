"""Bank SMS from Kannel: the ``sms-service`` ``get-url``/``post-url`` calls this resource
with ``sender=%p`` and ``text=%a`` (and ``max-messages = 0``: a bank alert gets no reply).

Kannel config::

    group = sms-service
    keyword = default
    get-url = "http://127.0.0.1:8090/sms/bank?sender=%p&text=%a"
    max-messages = 0
"""

from __future__ import annotations

import logging

from twisted.internet.defer import ensureDeferred
from twisted.web import resource, server
from twisted.web.http import Request

from vending.services.deposits import Deposits

log = logging.getLogger("evd.deposits.sms")


class BankSmsResource(resource.Resource):
    isLeaf = True

    def __init__(self, deposits: Deposits) -> None:
        super().__init__()
        self._deposits = deposits

    def render_GET(self, request: Request) -> int | bytes:
        return self._receive(request)

    def render_POST(self, request: Request) -> int | bytes:
        return self._receive(request)

    def _receive(self, request: Request) -> int | bytes:
        args = request.args or {}
        sender = (args.get(b"sender") or [b""])[0].decode("utf-8", "replace").strip()
        text = (args.get(b"text") or [b""])[0].decode("utf-8", "replace")
        if not sender or not text.strip():
            request.setResponseCode(400)
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"sender and text are required\n"

        def answer(result: object) -> None:
            request.setResponseCode(200)
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            request.finish()

        def failed(failure: object) -> None:
            log.error("bank SMS from %s not recorded: %s", sender, failure)
            # 5xx: Kannel retries the call later; the dedupe makes a retry safe.
            request.setResponseCode(503)
            request.finish()

        ensureDeferred(self._deposits.receive_sms(sender, text)).addCallbacks(answer, failed)
        return server.NOT_DONE_YET
