"""What a channel gives the services so that stored answers are that channel's exact bytes.

The services store the answer to every request under its key (replayed byte for byte), so
they call the channel's renderer inside the transaction that makes the change. A renderer
is pure and thread-safe (it runs on database threads). Each channel registers one under its
name in :class:`Renderers`: work finishing without its request at hand (recovery after a
restart, an upstream sale settling late, a reversal withdrawing a delivered answer) looks
the renderer up by the request's channel.

The electricity-side methods (``vend``, ``engineering``, ``payment``, ``failure``,
``load``) are the utilities contract's :class:`utilities.interface.ResponseRenderer`; this
protocol adds voucher sales, advices, batches, fault reports and withdrawn answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from vending.money import Money
from vending.requests import StoredResponse
from vending.sales import Sale

if TYPE_CHECKING:
    from catalogue.orders import ProviderSale
    from vending.batches import BatchReport, VendorBatch
    from vending.vouchers.selling import VoucherSale


class ChannelRenderer(Protocol):
    """Implemented by each channel adapter (``xmlvend.server.renderer.XMLVendRenderer``;
    the JSON API's renderer). ``request`` is always the context's opaque channel request."""

    # --- the utilities contract (utilities.interface.ResponseRenderer) ----------------------

    def vend(
        self, request: Any, result: Any, sale: Sale | None, balance: Money | None
    ) -> StoredResponse:
        """A credit-vend-like answer (electricity sale, FBE, free issue, credit transfer)."""
        ...

    def engineering(self, request: Any, token: Any) -> StoredResponse: ...

    def payment(self, request: Any, result: Any, sale: Sale, balance: Money) -> StoredResponse: ...

    def failure(self, request: Any, error: Exception) -> StoredResponse:
        """The answer to a request that definitively failed (stored for replay)."""
        ...

    def load(self, request_body: bytes) -> Any:
        """A stored (credential-free) request body parsed again (recovery after a restart)."""
        ...

    # --- the services' own ------------------------------------------------------------------

    def voucher_sale(self, request: Any, sold: VoucherSale) -> StoredResponse:
        """A PIN voucher sold (PIN, serial, expiry, receipt, the vendor's available credit)."""
        ...

    def advice(self, request: Any, done: bool, message: str) -> StoredResponse:
        """A reversal or confirmation advice's answer: done (reversed/confirmed) or not, why."""
        ...

    def withdrawn(self, original: StoredResponse, message: str) -> StoredResponse:
        """What replaces the stored answer of a reversed sale: the same request answered
        without its PIN or token (``message`` says the sale was reversed). Built from the
        original answer alone (its request may be long gone)."""
        ...

    def batches_started(self, request: Any, started: Sequence[VendorBatch]) -> StoredResponse: ...

    def batches_ended(self, request: Any, closed: Sequence[BatchReport]) -> StoredResponse: ...

    def fault_logged(self, request: Any, ref_no: str) -> StoredResponse: ...

    def provider_sale(self, request: Any, sold: ProviderSale) -> StoredResponse:
        """A recharge or bill payment through a provider (issue 14): final (``success`` with
        the operator's reference, or ``failed`` and refunded; stored) or ``pending`` with
        our order id (not stored: the final answer replaces it)."""
        ...


class Renderers:
    """The renderer of each channel, by channel name ("xmlvend", "json", ...)."""

    def __init__(self, renderers: Mapping[str, ChannelRenderer] | None = None) -> None:
        self._by_channel: dict[str, ChannelRenderer] = dict(renderers or {})

    def register(self, channel: str, renderer: ChannelRenderer) -> None:
        self._by_channel[channel] = renderer

    def get(self, channel: str) -> ChannelRenderer | None:
        return self._by_channel.get(channel)

    def __getitem__(self, channel: str) -> ChannelRenderer:
        return self._by_channel[channel]

    def __contains__(self, channel: object) -> bool:
        return channel in self._by_channel

    def as_dict(self) -> dict[str, ChannelRenderer]:
        return dict(self._by_channel)


__all__ = ["ChannelRenderer", "Renderers"]
