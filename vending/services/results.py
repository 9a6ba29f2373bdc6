"""What the services answer: the channel's stored answer, and facts about it."""

from __future__ import annotations

from dataclasses import dataclass

from vending.requests import Processed, StoredResponse


@dataclass(frozen=True)
class Outcome:
    """A state-changing request's answer: the stored bytes (the channel's exact answer,
    fresh or replayed) and, for a sale made now, its product code (metrics)."""

    response: StoredResponse
    replayed: bool = False
    # Product code of a sale this request completed now (never on replay or failure).
    product: str | None = None

    @classmethod
    def of(cls, processed: Processed, product: str | None = None) -> Outcome:
        response = processed.response
        fresh_sale = not processed.replayed and response.http_status == 200
        return cls(response, processed.replayed, product if fresh_sale else None)


__all__ = ["Outcome"]
