"""The serving process's garbage collector, set up once before the reactor runs.

Why (issue 16, docs/PERFORMANCE.md "Issue 16, session 8"): an ``evd serve`` worker
starts with ~175,000 objects tracked by the cyclic garbage collector (modules, SQLAlchemy's
metadata, the codec's schema, types and compiled plans, Twisted). With CPython's defaults,
the short-lived reference cycles of requests (Deferreds, failures, coroutines) kept
triggering full collections that walked all of them: ~10 per 40 s of load per worker,
70-120 ms each, during which the worker answers nothing -- the worst latencies of a
benchmark run. Two changes:

* the objects that exist once the server is built are moved to the collector's permanent
  generation (``gc.freeze``): never scanned again, never freed (they live as long as the
  process anyway). A full collection then walks only what was made since: ~1-7 ms;
* the youngest generation is collected after 10,000 net allocations instead of 700:
  what a young collection walks is what is still alive (requests in flight), about the
  same whatever the threshold, so collecting 14 times less often costs 14 times less.
  Garbage cycles wait a little longer to be freed (a few MB at most).
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000
# Collections of the younger generation before the next older one is collected
# (CPython's defaults).
OLDER_THRESHOLDS = (10, 10)


def freeze_startup_heap() -> int:
    """Collect once, freeze what is left, raise the young threshold; the number of objects
    frozen. Call when the server is built, just before the reactor runs."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
    return gc.get_freeze_count()


__all__ = ["OLDER_THRESHOLDS", "YOUNG_THRESHOLD", "freeze_startup_heap"]
