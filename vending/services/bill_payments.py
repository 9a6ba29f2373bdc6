"""BBPS-like bill payment for every channel (issue 14 §3): the biller registry, fetch
bill -> pay with the fetch's reference -> status, complaints. Payments go through
:class:`catalogue.fulfilment.Fulfilment` (money held in suspense until the network's final
answer; refund only on a final FAILED; never paid twice while pending)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from catalogue import bbps
from catalogue.errors import FetchNotSupported, ProviderError, UnknownOrder
from catalogue.fulfilment import NO_ANSWER, Fulfilment, Prepared, first_answer
from catalogue.interface import ComplaintAck
from catalogue.orders import Order, ProviderSale, get_order
from catalogue.routing import route
from vending.auth import Principal, revalidate
from vending.errors import InvalidRequest
from vending.money import Money
from vending.products import get_product
from vending.requests import Claim, Processed, RequestKey, StoredResponse
from vending.services import idempotency
from vending.services.context import Clock, RequestContext, TxnRunner
from vending.services.rendering import ChannelRenderer
from vending.services.results import Outcome
from vending.storage.database import Txn
from vending.storage.schema import sales


@dataclass(frozen=True)
class BillFetchRequest:
    principal: Principal
    biller_id: str
    params: dict[str, str]
    mobile: str


@dataclass(frozen=True)
class BillPaymentRequest:
    """Pay ``amount`` to ``biller_id`` for the customer ``params``; ``ref_id`` is the fetch's
    reference (required when the biller's fetch is MANDATORY)."""

    ctx: RequestContext
    biller_id: str
    amount: Money
    mobile: str
    params: dict[str, str] = field(default_factory=dict)
    ref_id: str | None = None


class BillPayments:
    def __init__(
        self,
        runner: TxnRunner,
        fulfilment: Fulfilment,
        clock: Clock,
        *,
        fetch_valid_for: timedelta = timedelta(hours=24),
    ) -> None:
        self._runner = runner
        self._fulfilment = fulfilment
        self._clock = clock
        self._fetch_valid_for = fetch_valid_for

    async def billers(self, category: str | None = None) -> list[bbps.Biller]:
        return await self._runner.run("billers", bbps.list_billers, category)

    async def biller(self, biller_id: str) -> bbps.Biller:
        return await self._runner.run("biller", bbps.get_biller, biller_id)

    @staticmethod
    def check_param(biller: bbps.Biller, index: int, value: str) -> str | None:
        """The biller's ``index``-th customer parameter checked in its format (None: an
        optional one left out): a channel asking for them one at a time."""
        return bbps.check_param(biller, biller.params[index], value)

    @staticmethod
    def check_mobile(mobile: str) -> str:
        """The customer's mobile number (10 digits starting 6-9), else InvalidRequest."""
        return bbps.check_mobile(mobile)

    @staticmethod
    def check_amount(biller: bbps.Biller, bill: Money | None, amount: Money) -> None:
        """The biller's amount rule against the fetched bill (if any)."""
        bbps.check_amount(biller.amount_rule, bill, amount)

    async def open_fetch(
        self, principal: Principal, biller_id: str, params: dict[str, str]
    ) -> bbps.BillFetch | None:
        """The vendor's newest unexpired fetch of this customer's bill (the reference a
        menu fetched a few screens before), else None."""
        now = self._clock()

        def find(txn: Txn) -> bbps.BillFetch | None:
            return bbps.latest_fetch(txn, biller_id, principal.vendor_id, params, now)

        return await self._runner.run("bill_open_fetch", find)

    async def fetch(self, request: BillFetchRequest) -> bbps.BillFetch:
        """Fetch the customer's bill from the network (the first provider that answers)."""
        now = self._clock()

        def check(txn: Txn) -> tuple[bbps.Biller, dict[str, str], list[tuple[str, str]]]:
            revalidate(txn, request.principal)
            biller = bbps.get_biller(txn, request.biller_id)
            if biller.fetch_requirement == "NOT_SUPPORTED":
                raise FetchNotSupported(f"{biller.name} bills cannot be fetched: pay directly")
            params = bbps.check_params(biller, request.params)
            bbps.check_mobile(request.mobile)
            product = get_product(txn, biller.product_code)
            ranked = route(txn, product.id, product.code, self._fulfilment.policy.routing, now)
            return biller, params, [(c.provider, c.provider_code) for c in ranked]

        biller, params, candidates = await self._runner.run("bill_fetch_check", check)
        ref_id = bbps.new_ref_id()
        bill = await first_answer(
            self._fulfilment.clients, candidates, "fetch",
            lambda client, _code: client.fetch(ref_id, biller.biller_id, params, request.mobile),
        )  # fmt: skip
        if bill is not NO_ANSWER:
            return await self._runner.run(
                "bill_fetch_store", self._store_fetch, biller, request.principal, params, bill,
                now,
            )  # fmt: skip
        raise ProviderError(f"no provider answered the bill fetch for {biller.biller_id}")

    def _store_fetch(self, txn, biller, principal, params, bill, now):  # type: ignore[no-untyped-def]
        return bbps.record_fetch(
            txn,
            biller=biller,
            vendor_id=principal.vendor_id,
            params=params,
            bill=bill,
            now=now,
            valid_for=self._fetch_valid_for,
        )

    async def pay(self, request: BillPaymentRequest, renderer: ChannelRenderer) -> Outcome:
        principal = request.ctx.principal

        def prepare(txn: Txn, now: datetime) -> Prepared:
            biller = bbps.get_biller(txn, request.biller_id)
            given = request.params
            fetched = None
            if request.ref_id is not None and not given:
                given = bbps.get_fetch(txn, request.ref_id).params
            params = bbps.check_params(biller, given)
            bbps.check_mobile(request.mobile)
            fetched = bbps.fetch_for_payment(
                txn, biller, request.ref_id, principal.vendor_id, params, now
            )
            bbps.check_amount(
                biller.amount_rule, fetched.amount if fetched else None, request.amount
            )
            target = bbps.bill_target(biller, params)
            if fetched is None:
                bbps.refuse_if_pending(txn, biller.biller_id, target)
            ref_id = fetched.ref_id if fetched else bbps.new_ref_id()
            order_params = {
                "biller_id": biller.biller_id,
                "biller": biller.name,
                "category": biller.category,
                "ref_id": ref_id,
                "mobile": request.mobile,
                "customer": params,
            }
            if fetched is not None:
                order_params.update(
                    customer_name=fetched.customer_name,
                    bill_number=fetched.bill_number,
                    bill_amount=fetched.amount.amount,
                    due_date=fetched.due_date,
                )

            def link(txn: Txn, order: Order) -> None:
                if fetched is not None:
                    bbps.link_fetch(txn, fetched.ref_id, order.pk)

            return Prepared(
                product=get_product(txn, biller.product_code),
                service="bill",
                target=target,
                amount=request.amount,
                params=order_params,
                on_hold=link,
            )

        return await self._fulfilment.sell(request.ctx, prepare, renderer)

    async def status(self, principal: Principal, order_id: str) -> ProviderSale:
        return await self._fulfilment.status_for(
            principal.vendor_id, order_id, "bill", "bill payment"
        )

    async def complain(
        self, principal: Principal, order_id: str, kind: str, description: str
    ) -> ComplaintAck:
        """Register a complaint about a payment with the network that took it."""
        _check_complaint(kind, description)
        order = await self._runner.run("bill_complaint_order", self._mine, principal, order_id)
        ack = await self._ask(order, kind, description)
        await self._runner.run(
            "bill_complaint_store", self._store_complaint, order, kind, description, ack,
            self._clock(),
        )  # fmt: skip
        return ack

    async def complain_once(
        self,
        key: RequestKey,
        principal: Principal,
        order_id: str,
        kind: str,
        description: str,
        render: Callable[[ComplaintAck], StoredResponse],
    ) -> Processed:
        """:meth:`complain` through the idempotency path: the key claimed (with the order
        checked) -> the network asked -> the complaint recorded and ``render(ack)`` stored
        under the key, one transaction. A retry gets the stored answer (one complaint); the
        key reused for another complaint is refused; a network that did not take it leaves
        nothing behind (the claim dropped: the same key may be sent again)."""
        _check_complaint(kind, description)
        keyring = self._fulfilment.keyring
        now = self._clock()

        def start(txn: Txn) -> tuple[Claim, Order] | StoredResponse:
            claimed = idempotency.claim(txn, keyring, key, principal, now=now)
            if isinstance(claimed, StoredResponse):
                return claimed
            return claimed, self._mine(txn, principal, order_id)

        started = await self._runner.run("bill_complaint_claim", start)
        if isinstance(started, StoredResponse):
            return Processed(started, replayed=True)
        claimed, order = started
        try:
            ack = await self._ask(order, kind, description)
        except Exception:
            await self._runner.run("bill_complaint_give_up", idempotency.give_up, claimed)
            raise

        def finish(txn: Txn) -> Processed:
            at = self._clock()
            self._store_complaint(txn, order, kind, description, ack, at)
            return idempotency.complete(txn, keyring, claimed, render(ack), now=at)

        return await self._runner.run("bill_complaint_store", finish)

    def _mine(self, txn: Txn, principal: Principal, order_id: str) -> Order:
        """The vendor's bill payment taken by a network (else unknown)."""
        revalidate(txn, principal)
        order = get_order(txn, order_id)
        vendor = txn.execute(
            sales.select().with_only_columns(sales.c.vendor_id).where(sales.c.id == order.sale_id)
        ).scalar_one()
        if vendor != principal.vendor_id or order.service != "bill" or not order.provider:
            raise UnknownOrder(f"no bill payment {order_id!r}")
        return order

    async def _ask(self, order: Order, kind: str, description: str) -> ComplaintAck:
        client = self._fulfilment.clients.get(order.provider or "")
        if client is None or not hasattr(client, "complain"):
            raise ProviderError("the network that took this payment takes no complaints here")
        return await client.complain(order.order_id, order.provider_ref, kind, description)  # type: ignore[attr-defined,no-any-return]

    def _store_complaint(
        self, txn: Txn, order: Order, kind: str, description: str, ack: ComplaintAck,
        now: datetime,
    ) -> None:  # fmt: skip
        bbps.record_complaint(
            txn, complaint_id=ack.complaint_id, order_pk=order.pk, kind=kind,
            description=description, status=ack.status, now=now,
        )  # fmt: skip

    async def complaint_status(self, principal: Principal, complaint_id: str) -> ComplaintAck:
        def find(txn: Txn) -> Order:
            revalidate(txn, principal)
            return get_order(txn, bbps.complaint_order(txn, complaint_id))

        order = await self._runner.run("bill_complaint_find", find)
        client = self._fulfilment.clients.get(order.provider or "")
        if client is None or not hasattr(client, "complaint_status"):
            raise ProviderError("the network that took this payment takes no complaints here")
        ack = await client.complaint_status(complaint_id)  # type: ignore[attr-defined]
        await self._runner.run(
            "bill_complaint_update",
            bbps.update_complaint,
            complaint_id,
            ack.status,
            self._clock(),
        )
        return ack


def _check_complaint(kind: str, description: str) -> None:
    if kind not in bbps.COMPLAINT_KINDS:
        raise InvalidRequest(f"complaint type: one of {', '.join(bbps.COMPLAINT_KINDS)}")
    if not description.strip():
        raise InvalidRequest("a complaint needs a description")


__all__ = ["BillFetchRequest", "BillPaymentRequest", "BillPayments"]
