"""Configuration and product reads cached per process, with explicit invalidation (issue 16).

A sale batch (:mod:`vending.sale_batch`) reads a product, a vendor's commission override
and the house account ids for every sale; they change rarely (an operator's edit), so the
batch reads them from here instead of running a statement per sale.

* Per database: entries are kept per SQLAlchemy engine (a process may talk to several
  databases: tests, tools), never shared between two.
* Explicit invalidation: the functions that change what is cached (``vending.products``:
  create, activate/deactivate, commission overrides) call :func:`invalidate` after their
  commit (``txn.call_after``), so the next sale in this process reads the new values.
* A change made by another process (``evd`` on the command line, the other server worker)
  cannot invalidate this one's cache: an entry is also dropped after ``TTL_SECONDS``
  (monotonic time; this is cache freshness, never business time), so such a change is seen
  within that bound. House account ids never change once created and are kept.

Only the batch path reads through the cache; the single path reads as before.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from vending.batch_plan import plan_of
from vending.storage.database import Txn

T = TypeVar("T")

TTL_SECONDS = 2.0

_lock = threading.Lock()
# [generation]: bumped by every invalidation; an entry of an older generation is stale.
_state = [0]
_caches: weakref.WeakKeyDictionary[Any, dict[Hashable, tuple[int, float, Any]]] = (
    weakref.WeakKeyDictionary()
)


def invalidate() -> None:
    """Forget every cached read of this process (after a change to products, commissions
    or other cached configuration)."""
    with _lock:
        _state[0] += 1
        _caches.clear()


def in_batch(txn: Txn) -> bool:
    """True in a set-based sale batch: the transaction that reads through this cache."""
    return plan_of(txn) is not None


def cached(
    txn: Txn,
    key: Hashable,
    read: Callable[[], T],
    *,
    ttl: float | None = TTL_SECONDS,
    monotonic: Callable[[], float] = time.monotonic,
) -> T:
    """``read()``'s value for ``key`` in this transaction's database, from the cache when a
    fresh entry is there. ``ttl`` None: kept until :func:`invalidate`."""
    engine = txn.conn.engine
    now = monotonic()
    # The hit, read without the lock (a dict read is atomic; every sale makes several).
    entries = _caches.get(engine)
    found = None if entries is None else entries.get(key)
    if _fresh(found, _state[0], ttl, now):
        return found[2]  # type: ignore[index, no-any-return]
    with _lock:
        entries = _caches.get(engine)
        if entries is None:
            entries = _caches[engine] = {}
        generation = _state[0]
        found = entries.get(key)
    if _fresh(found, generation, ttl, now):
        return found[2]  # type: ignore[index, no-any-return]
    value = read()
    with _lock:
        if generation == _state[0]:  # not invalidated while we read
            entries[key] = (generation, now, value)
    return value


def _fresh(
    found: tuple[int, float, Any] | None, generation: int, ttl: float | None, now: float
) -> bool:
    return found is not None and found[0] == generation and (ttl is None or now - found[1] < ttl)


__all__ = ["TTL_SECONDS", "cached", "in_batch", "invalidate"]
