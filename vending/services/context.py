"""What every application service call carries, whatever the channel.

A channel adapter (XMLVend today, the JSON API, SMS/USSD later) turns its own request into a
:class:`RequestContext` plus a typed request of the use case; the services never see XML or
JSON. ``request`` is the channel's own parsed request, opaque here: the services hand it back
to the channel's renderer so that the stored answer is that channel's exact bytes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from vending.auth import Principal
from vending.clock import Clock
from vending.products import Pricing, Product
from vending.requests import RequestKey
from vending.sales import SaleOrder


class TxnRunner(Protocol):
    """Runs a named transaction function ``fn(txn, *args, **kwargs)`` off the request
    thread and returns an awaitable of its result (a Twisted Deferred in production, see
    ``xmlvend.transport.asyncdb``; already fired in tests). The services only ``await`` it:
    ``vending/`` never imports Twisted."""

    def run(
        self, desc: str, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> Awaitable[Any]: ...


@dataclass(frozen=True)
class RequestContext:
    """Who asks, under which request key (channel, client, request id, operation,
    fingerprint), from which terminal, and what to keep for recovery."""

    key: RequestKey
    principal: Principal
    terminal_id: str
    # The channel's own parsed request; opaque here, handed back to the channel's renderer.
    request: Any
    # The request without credentials, kept (encrypted) while a sale is pending so that its
    # answer can be rendered again after a restart (the renderer's ``load``); or a function
    # making those bytes, called only by a sale that keeps them (:meth:`body_to_keep`: most
    # sales never do, and a channel then need not render the request again).
    request_body: bytes | Callable[[], bytes]
    received_at: datetime
    # Extra facts the channel wants stored with the sale (never secrets).
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def channel(self) -> str:
        return self.key.channel

    def body_to_keep(self) -> bytes:
        """The request without credentials (see ``request_body``)."""
        body = self.request_body
        return body if isinstance(body, bytes) else body()

    def sale_order(
        self,
        product: Product,
        pricing: Pricing,
        target: str,
        *,
        shown_target: str | None = None,
        **details: Any,
    ) -> SaleOrder:
        """The sale this request makes for ``target`` (a meter number, a recipient or a
        voucher product), by its principal at its terminal; ``details`` join the
        context's own in the sale's details. ``shown_target``: the target as answers and
        statements show it (see ``SaleOrder``)."""
        return SaleOrder(
            vendor_id=self.principal.vendor_id,
            vendor_account_id=self.principal.account_id,
            product=product,
            pricing=pricing,
            target=target,
            terminal_id=self.terminal_id,
            operator_id=self.principal.operator_id,
            paying_consumer_id=self.principal.consumer_id,
            details={**self.details, **details},
            shown_target=shown_target,
        )


def created_by(principal: Principal) -> str:
    """The actor recorded for a principal's changes (audit, reversals)."""
    return f"vendor:{principal.client_id}:{principal.operator_name or '-'}"


__all__ = ["Clock", "RequestContext", "TxnRunner", "created_by"]
