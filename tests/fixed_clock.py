"""The tests' clock: a fixed moment that only moves when a test moves it.

Nothing a test stamps comes from the real time, so no test depends on today's date (the
suite passes with the system date moved years ahead). Test code passes ``now=NOW`` (or
``clock()``) wherever production code passes its one clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# A fixed moment in the STS 2014 TID era: every test world starts here.
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
TODAY = NOW.date()


@dataclass
class MutableClock:
    """A ``vending.clock.Clock`` that stands still until advanced."""

    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
