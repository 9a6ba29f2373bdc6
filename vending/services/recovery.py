"""Recovery of requests a stopped process left unanswered (issue 10 §5).

A request answered in two phases is claimed first and answered later by the process that
claimed it; if that process is killed in between, nobody would ever answer it and its
retries would hear "delayed" forever. After any restart, and then periodically,
:meth:`Recovery.sweep` finds every request still pending ``grace`` after it arrived that
no backend owns (a pending *sale* belongs to its backend's own recovery: an upstream vend
is settled or refunded by the upstream loop, bounded by
``utilities.recovery_give_up_seconds``) and answers it for good:

* with its kept body (:func:`vending.services.idempotency.claim` ``keep_body``): the
  channel's failure answer (``Abandoned``) is stored under its key, so a retry and its
  last-response advice get that final answer. No money moved: such a request made no sale.
* without a kept body: the claim is dropped: the request counts as never processed (a
  last-response advice says so and a retry is processed afresh).

``grace`` must exceed the longest a live process takes to answer a two-phase request (the
deadline plus the demo slow meter's delay), so a request still being worked on elsewhere
is never touched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from vending.errors import VendingError
from vending.keyring import Keyring
from vending.requests import PendingRequest, abandoned_requests, forget_claim
from vending.services import idempotency
from vending.services.context import Clock, TxnRunner
from vending.services.rendering import Renderers
from vending.storage.database import Txn

log = logging.getLogger("evd.recovery")


class Abandoned(VendingError):
    """The request was interrupted by a restart before it completed; nothing was charged."""

    code = "abandoned"


@dataclass(frozen=True)
class SweepResult:
    answered: int = 0
    forgotten: int = 0


class Recovery:
    def __init__(
        self,
        runner: TxnRunner,
        keyring: Keyring,
        clock: Clock,
        renderers: Renderers,
        grace: timedelta = timedelta(seconds=60),
    ) -> None:
        self._runner = runner
        self._keyring = keyring
        self._clock = clock
        self._renderers = renderers
        self.grace = grace

    async def sweep(self) -> SweepResult:
        """Answer (or forget) every abandoned request; see the module docstring."""
        return await self._runner.run("recover_pending", self._sweep, self._clock())

    def _sweep(self, txn: Txn, now: datetime) -> SweepResult:
        answered = forgotten = 0
        for pending in abandoned_requests(txn, self._keyring, received_before=now - self.grace):
            if self._answer(txn, pending, now):
                answered += 1
            elif forget_claim(txn, pending.claim):
                forgotten += 1
        if answered or forgotten:
            log.warning(
                "recovery: %d abandoned request(s) answered with a failure, %d forgotten",
                answered,
                forgotten,
            )
        return SweepResult(answered, forgotten)

    def _answer(self, txn: Txn, pending: PendingRequest, now: datetime) -> bool:
        renderer = self._renderers.get(pending.channel)
        if pending.body is None or renderer is None:
            return False
        try:
            request = renderer.load(pending.body)
        except Exception:  # a body this version cannot read: forget the claim instead
            log.exception("recovery: request %s cannot be loaded", pending.claim.request_pk)
            return False
        error = Abandoned(
            "The transaction was interrupted by a server restart before it completed; "
            "nothing was charged. Send it again with a new msgID"
        )
        idempotency.complete(
            txn, self._keyring, pending.claim, renderer.failure(request, error), now=now
        )
        return True


__all__ = ["Abandoned", "Recovery", "SweepResult"]
