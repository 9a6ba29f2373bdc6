"""Exponential backoff of the outboxes' retries (MTs to Kannel, webhooks to API clients):
``base`` seconds after the first failed attempt, doubling, never more than ``cap``."""

from __future__ import annotations


def exponential(attempts: int, *, base: float, cap: float) -> float:
    """Seconds before the next try after ``attempts`` failed ones."""
    return min(base * 2 ** max(attempts - 1, 0), cap)


__all__ = ["exponential"]
