"""Bulk sales' own errors (no SQL here: adapters import them)."""

from __future__ import annotations

from vending.errors import NotFound


class UnknownBatch(NotFound):
    """No such bulk batch (or not the caller's)."""

    code = "unknown_batch"


__all__ = ["UnknownBatch"]
