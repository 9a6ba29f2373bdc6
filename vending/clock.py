"""The one wall clock.

Nothing below the composition roots reads the time: every function that stamps a row or
compares with "now" takes ``now`` from its caller, and the callers get it from the one
``Clock`` the server, service or command was built with. The composition roots (``evd
serve``, the ``evd`` command context, the tools) hand them :func:`system_clock`; tests hand
a clock of their own, so no test depends on today's date.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The real time, aware UTC. Only composition roots may use it."""
    return datetime.now(UTC)
