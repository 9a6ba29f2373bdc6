"""Which provider gets an order: the product's active mappings to active providers, ranked
by health, recent success rate and priority; the next one is tried when a provider is down
(it certainly did not take the order).

Ranking (:func:`rank`, pure), first to last:

1. providers not seen down: a provider whose latest execute attempt was DOWN (refused, 503)
   less than ``down_cooldown`` ago goes to the end (still a last resort);
2. providers whose recent success rate is acceptable: over the last ``window`` execute
   attempts (at least ``min_samples``), SUCCESS and PENDING count as taken, FAILED, UNKNOWN
   and DOWN as not; a rate below ``min_success_rate`` demotes the provider (traffic
   switches to the others until it recovers);
3. priority (lower first), then the better success rate, then the name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from catalogue.errors import NoProviderAvailable
from catalogue.tables import provider_attempts, provider_mappings, providers
from vending.storage.database import Txn

GOOD_OUTCOMES = ("SUCCESS", "PENDING")


@dataclass(frozen=True)
class RoutingPolicy:
    window: int = 20
    min_samples: int = 5
    min_success_rate: float = 0.5
    down_cooldown: timedelta = timedelta(seconds=30)


@dataclass(frozen=True)
class Candidate:
    provider_id: int
    provider: str
    provider_code: str
    priority: int


@dataclass(frozen=True)
class Health:
    samples: int
    successes: int
    last_down_at: datetime | None
    last_outcome: str | None

    @property
    def rate(self) -> float:
        return self.successes / self.samples if self.samples else 1.0


def rank(
    candidates: list[Candidate], health: dict[int, Health], policy: RoutingPolicy, now: datetime
) -> list[Candidate]:
    def key(c: Candidate) -> tuple[bool, bool, int, float, str]:
        h = health.get(c.provider_id, Health(0, 0, None, None))
        down = (
            h.last_outcome == "DOWN"
            and h.last_down_at is not None
            and now - h.last_down_at < policy.down_cooldown
        )
        demoted = h.samples >= policy.min_samples and h.rate < policy.min_success_rate
        return (down, demoted, c.priority, -h.rate, c.provider)

    return sorted(candidates, key=key)


def candidates_for(txn: Txn, product_id: int) -> list[Candidate]:
    rows = txn.execute(
        select(
            providers.c.id,
            providers.c.name,
            provider_mappings.c.provider_code,
            provider_mappings.c.priority,
        )
        .join(providers, providers.c.id == provider_mappings.c.provider_id)
        .where(
            provider_mappings.c.product_id == product_id,
            provider_mappings.c.active.is_(True),
            providers.c.active.is_(True),
        )
    )
    return [Candidate(r.id, r.name, r.provider_code, r.priority) for r in rows]


def health_of(txn: Txn, provider_id: int, window: int) -> Health:
    rows = txn.execute(
        select(provider_attempts.c.outcome, provider_attempts.c.at)
        .where(
            provider_attempts.c.provider_id == provider_id,
            provider_attempts.c.action == "execute",
        )
        .order_by(provider_attempts.c.id.desc())
        .limit(window)
    ).all()
    last_down = next((r.at for r in rows if r.outcome == "DOWN"), None)
    return Health(
        samples=len(rows),
        successes=sum(1 for r in rows if r.outcome in GOOD_OUTCOMES),
        last_down_at=last_down,
        last_outcome=rows[0].outcome if rows else None,
    )


def route(txn: Txn, product_id: int, product_code: str, policy: RoutingPolicy, now: datetime):  # type: ignore[no-untyped-def]
    """The ranked candidates for a product (NoProviderAvailable when none is mapped)."""
    found = candidates_for(txn, product_id)
    if not found:
        raise NoProviderAvailable(f"no provider is mapped for {product_code}")
    health = {c.provider_id: health_of(txn, c.provider_id, policy.window) for c in found}
    return rank(found, health, policy, now)
