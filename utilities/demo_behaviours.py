"""Demo behaviours of test meters, as a wrapper around the real utility service.

The demo data (``evd demo``) has meters that misbehave on purpose so that a client can see
the protocol's hard paths: a *slow* meter whose vend is answered past the server's deadline
(the client hears ``TransactionDelayedEx`` and fetches the sale with a last-response
advice) and an *upstream failure* meter (``SystemEx``: the utility is unavailable). They
exist only here: the production backend knows nothing of them, and this wrapper is wired
only when ``utilities.test_behaviours`` is on -- the demo configuration ``make run`` uses
(``conf/demo.toml``); it is off by default.

The slow vend is a two-phase request: claimed now (its body kept for recovery), vended
``slow_seconds`` later on the injected reactor (no sleeps), its answer stored either way.
If the process stops in between, :mod:`vending.services.recovery` answers it after a
restart.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater

from utilities.errors import UpstreamUnavailable
from utilities.interface import Purchase, RequestContext, ResponseRenderer, TxnRunner
from utilities.registry import check_meter_number, find_meter
from utilities.service import UtilityServiceImpl, claim_keeping_body
from vending.config import Config
from vending.keyring import Keyring
from vending.requests import Processed, StoredResponse
from vending.storage.database import Txn


def meter_behaviour(txn: Txn, msno: str) -> str | None:
    """Transaction function: the demo behaviour of a registered meter (None for others,
    and for numbers the real path will refuse with its own error)."""
    try:
        meter = find_meter(txn, check_meter_number(msno))
    except Exception:
        return None
    return None if meter is None else meter.test_behaviour


class DemoBehaviours:
    """A :class:`~utilities.interface.UtilityService` that honours the demo meters'
    behaviours on credit vends and delegates everything else to ``inner``."""

    def __init__(
        self,
        inner: UtilityServiceImpl,
        runner: TxnRunner,
        keyring: Keyring,
        reactor: IReactorTime,
        *,
        slow_seconds: float,
    ) -> None:
        self.inner = inner
        self._runner = runner
        self._keyring = keyring
        self._reactor = reactor
        self.slow_seconds = slow_seconds

    @classmethod
    def from_config(
        cls,
        config: Config,
        inner: UtilityServiceImpl,
        runner: TxnRunner,
        keyring: Keyring,
        reactor: IReactorTime,
    ) -> DemoBehaviours:
        # Past the server's deadline, so that the delayed path shows.
        slow = config.server.deadline_seconds + 2.0
        return cls(inner, runner, keyring, reactor, slow_seconds=slow)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def credit_vend(
        self, ctx: RequestContext, purchase: Purchase, renderer: ResponseRenderer
    ) -> Deferred:
        return ensureDeferred(self._credit_vend(ctx, purchase, renderer))

    async def _credit_vend(
        self, ctx: RequestContext, purchase: Purchase, renderer: ResponseRenderer
    ) -> Processed:
        behaviour = await self._runner.run(
            "demo_meter_behaviour", meter_behaviour, purchase.meter.msno
        )
        if behaviour == "upstream_failure":
            raise UpstreamUnavailable(
                f"test meter {purchase.meter.msno}: the utility's vending server is unavailable"
            )
        if behaviour != "slow":
            return await self.inner.credit_vend(ctx, purchase, renderer)
        # Claim now, so a last-response advice sees the vend in progress; vend later.
        claimed = await self._runner.run("utility_claim", claim_keeping_body, self._keyring, ctx)
        if isinstance(claimed, StoredResponse):
            return Processed(claimed, replayed=True)
        await deferLater(self._reactor, self.slow_seconds, lambda: None)  # type: ignore[arg-type]
        return await self.inner.complete_claimed(ctx, purchase, renderer, claimed)


__all__ = ["DemoBehaviours", "meter_behaviour"]
