"""Advices on an earlier request of the same client: confirmation, reversal (with the
product's reversal policy) and last response.

* confirm: records that the client completed the advised sale (a confirmed PIN is
  delivered: it can no longer be reversed).
* reverse: refunds the vendor when :class:`~vending.services.reversal_policy.ReversalPolicy`
  allows, else answers "not reversed" with the reason and moves nothing. A reversed sale's
  PIN is quarantined and its stored answer is *withdrawn*: replaced, under the original
  request key, by the channel's answer without the PIN or token
  (``ChannelRenderer.withdrawn``), so a replay or a last-response advice never serves it
  again. Idempotent: a reversed sale is reported reversed again.
* last_response: the stored answer of the advised request (the withdrawn one after a
  reversal); ``TransactionDelayed`` while it runs, ``NoLastResponse`` when there is none.

The advised request is always the client's own: request keys include the client id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from vending.auth import Principal
from vending.errors import InvalidState, ReversalRefused
from vending.keyring import Keyring
from vending.requests import Processed, RequestRecord
from vending.sales import Sale, confirm_sale, reverse_sale, sale_for_request
from vending.services import idempotency
from vending.services.context import Clock, RequestContext, TxnRunner, created_by
from vending.services.errors import (
    TransactionDelayed,
    UnknownConfirmation,
    UnknownReversal,
)
from vending.services.rendering import ChannelRenderer, Renderers
from vending.services.results import Outcome
from vending.services.reversal_policy import ReversalPolicy
from vending.storage.database import Txn
from vending.vouchers.selling import reverse_voucher_sale


@dataclass(frozen=True)
class AdviceRequest:
    """A confirmation or reversal advice: ``original_request_id`` is the advised request's
    id under the same client."""

    ctx: RequestContext
    original_request_id: str


@dataclass(frozen=True)
class LastResponseRequest:
    principal: Principal
    original_request_id: str


@dataclass(frozen=True)
class _Answer:
    done: bool
    message: str


class Advices:
    def __init__(
        self,
        runner: TxnRunner,
        keyring: Keyring,
        clock: Clock,
        renderers: Renderers,
        policy: ReversalPolicy | None = None,
    ) -> None:
        self._runner = runner
        self._keyring = keyring
        self._clock = clock
        self._renderers = renderers
        self.policy = policy or ReversalPolicy()

    async def confirm(self, request: AdviceRequest, renderer: ChannelRenderer) -> Outcome:
        """Record the client's confirmation of the advised sale (``renderer.advice``)."""
        processed = await self._runner.run(
            "confirmation_advice", self._advise, self._confirm, request, renderer, self._clock()
        )
        return Outcome.of(processed)

    async def reverse(self, request: AdviceRequest, renderer: ChannelRenderer) -> Outcome:
        """Reverse the advised sale if its product's policy allows (``renderer.advice``)."""
        processed = await self._runner.run(
            "reversal_advice", self._advise, self._reverse, request, renderer, self._clock()
        )
        return Outcome.of(processed)

    async def last_response(self, request: LastResponseRequest) -> RequestRecord | None:
        """The advised request and its stored answer (None when there is no such request:
        the caller knows whether it is still in flight in this process).
        Raises TransactionDelayed while that request has no answer yet."""
        record = await self._runner.run("last_response_advice", self._last_response, request)
        if record is not None and record.response is None:
            raise TransactionDelayed(request.original_request_id)
        return record

    # --- transaction functions --------------------------------------------------------------

    def _last_response(self, txn: Txn, request: LastResponseRequest) -> RequestRecord | None:
        return idempotency.lookup(
            txn, self._keyring, request.principal.client_id, request.original_request_id
        )

    def _advise(
        self,
        txn: Txn,
        decide: Callable[[Txn, AdviceRequest, datetime], _Answer],
        request: AdviceRequest,
        renderer: ChannelRenderer,
        now: datetime,
    ) -> Processed:
        ctx = request.ctx
        return idempotency.run_once(
            txn,
            self._keyring,
            ctx.key,
            ctx.principal,
            lambda txn, _claim: decide(txn, request, now),
            lambda answer: renderer.advice(ctx.request, answer.done, answer.message),
            now=now,
        )

    def _advised(
        self, txn: Txn, request: AdviceRequest, unknown: type[Exception]
    ) -> tuple[RequestRecord, Sale | None]:
        """The advised request and the sale it made; raises ``unknown`` when there is no
        such request and TransactionDelayed while it is still running."""
        principal, original = request.ctx.principal, request.original_request_id
        record = idempotency.lookup(txn, self._keyring, principal.client_id, original)
        if record is None:
            raise unknown(f"no transaction with msgID {original} for this client")
        if record.response is None:
            raise TransactionDelayed(
                original,
                f"Transaction {original} is still in progress; send the advice again once "
                "it has completed",
            )
        return record, sale_for_request(txn, principal.client_id, original)

    def _confirm(self, txn: Txn, request: AdviceRequest, now: datetime) -> _Answer:
        _record, sale = self._advised(txn, request, UnknownConfirmation)
        if sale is None:
            return _Answer(True, "Transaction confirmed")
        try:
            confirmed = confirm_sale(txn, sale.id, now=now)
        except InvalidState:
            return _Answer(False, f"Sale {sale.receipt_no} is {sale.state} and cannot be confirmed")
        return _Answer(True, f"Sale {confirmed.receipt_no} confirmed")

    def _reverse(self, txn: Txn, request: AdviceRequest, now: datetime) -> _Answer:
        record, sale = self._advised(txn, request, UnknownReversal)
        if sale is None:
            return _Answer(False, "The advised request made no sale: there is nothing to reverse")
        if sale.state == "reversed":
            return _Answer(True, f"Sale {sale.receipt_no} is reversed")
        if sale.state == "failed":
            return _Answer(False, f"Sale {sale.receipt_no} failed and was refunded already")
        if sale.state != "completed":
            return _Answer(False, f"Not reversed: sale {sale.receipt_no} is {sale.state}")
        refusal = self.policy.refusal(sale, reprints=sale.reprint_count, now=now)
        if refusal is not None:
            return _Answer(False, refusal)
        principal = request.ctx.principal
        reason = f"reversal advice {request.ctx.key.request_id}"
        try:
            if sale.product_kind == "voucher":
                reverse_voucher_sale(
                    txn, sale.id, reason=reason, created_by=created_by(principal), now=now
                )
            else:
                reverse_sale(txn, sale.id, reason=reason, created_by=created_by(principal), now=now)
        except ReversalRefused as refused:
            return _Answer(False, f"Not reversed: {refused.message}")
        self._withdraw(txn, record, sale, now)
        return _Answer(True, f"Sale {sale.receipt_no} reversed; the vendor has been refunded")

    def _withdraw(self, txn: Txn, record: RequestRecord, sale: Sale, now: datetime) -> None:
        """Replace the reversed sale's stored answer by one without its PIN or token."""
        assert record.response is not None
        renderer = self._renderers.get(record.channel)
        if renderer is None:
            raise RuntimeError(f"no renderer registered for channel {record.channel!r}")
        withdrawn = renderer.withdrawn(
            record.response,
            f"Sale {sale.receipt_no} was reversed and refunded; its "
            f"{'PIN' if sale.product_kind == 'voucher' else 'token'} is void",
        )
        idempotency.withdraw_answer(txn, self._keyring, record.request_pk, withdrawn, now=now)


__all__ = ["AdviceRequest", "Advices", "LastResponseRequest"]
