"""The storage side of sales routed to a utility's own vending server (the upstream
route): transaction functions over ``upstream_vends``, the held sale and the request's
stored answer. The route's client (``xmlvend.upstream``: XMLVend messages, the network, the
retry timers) runs them through the injected runner and never touches SQL itself.

A routed vend is a two-phase request through the one idempotency path: :meth:`hold`
claims the key and re-checks the principal, holds the vendor's money (sale pending) and
keeps the request (encrypted) for recovery; :meth:`settle` or :meth:`fail` (refund) stores
the final answer. Rows still pending are leased for another last-response advice
(:meth:`lease`) until they are definitive or given up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update

from utilities.errors import InsufficientMeterData
from utilities.interface import CreditVendResult, MeterQuery, Purchase, RequestContext
from utilities.registry import check_meter_number
from utilities.tables import upstream_vends
from vending import outbox, recipient_sms
from vending.accounts import house_account_code
from vending.batch_plan import plan_of
from vending.clock import Clock
from vending.keyring import Keyring
from vending.products import get_product, price_sale, vendor_commission_bp
from vending.requests import Claim, Processed, StoredResponse, find_request
from vending.sale_batch import BatchedSale, IsolateSale, SaleDone
from vending.sales import fail_sale, get_sale, hold_sale, settle_sale
from vending.services import idempotency
from vending.storage.database import Txn, commits_with_last_statement, is_retryable
from vending.storage.schema import requests
from vending.vendors import available_credit

# The id the route's protocol gives its own request to the utility: (dateTime, uniqueNumber).
UpstreamId = tuple[str, str]


@dataclass(frozen=True)
class Held:
    row_id: int
    claim: Claim
    upstream_id: UpstreamId


@dataclass(frozen=True)
class Lease:
    upstream_id: UpstreamId
    # Seconds since the vend was held.
    age: float


_INSERT_ROW = insert(upstream_vends).returning(upstream_vends.c.id)

# The transaction names the route's client runs (xmlvend.upstream.backend): the hold joins
# the worker's sale batch; settles and refunds join its settle batch (run_settle_batch).
HOLD = "upstream_hold"
SETTLE = "upstream_settle"
FAIL = "upstream_fail"


def _aad(request_pk: int) -> bytes:
    return f"evd-upstream-request:{request_pk}".encode()


class RoutedSaleStore:
    """Transaction functions of one route (``route_name``); see the module docstring."""

    def __init__(
        self,
        keyring: Keyring,
        route_name: str,
        *,
        product_code: str,
        clock: Clock,
        max_delay_seconds: float,
        first_advice_delay: timedelta,
    ) -> None:
        self._keyring = keyring
        self.name = route_name
        self._product_code = product_code
        self._clock = clock
        self._max_delay = max_delay_seconds
        self._first_advice_delay = first_advice_delay

    def hold(
        self,
        txn: Txn,
        ctx: RequestContext,
        purchase: Purchase,
        now: datetime,
        upstream_id: Callable[[datetime, int], UpstreamId],
    ) -> Processed | Held:
        """Claim, re-check, hold the vendor's money and keep the request; or the stored
        answer of an identical earlier request."""
        claimed = idempotency.claim(txn, self._keyring, ctx.key, ctx.principal, now=now)
        if isinstance(claimed, StoredResponse):
            return Processed(claimed, replayed=True)
        principal = ctx.principal
        msno = check_meter_number(purchase.meter.msno)
        if purchase.amount is None:
            raise InsufficientMeterData("vends through a utility's server are by amount")
        product = get_product(txn, purchase.product_code or self._product_code)
        pricing = price_sale(
            product,
            purchase.amount,
            commission_bp=vendor_commission_bp(txn, principal.vendor_id, product),
        )
        order = ctx.sale_order(product, pricing, msno, route=self.name)
        held = hold_sale(txn, claimed, order, created_by=f"vendor:{principal.client_id}", now=now)
        date_time, unique_number = upstream_id(now, claimed.request_pk)
        data_key, blob = self._keyring.encrypt(
            txn, ctx.body_to_keep(), aad=_aad(claimed.request_pk)
        )
        values = {
            "request_pk": claimed.request_pk,
            "sale_id": held.sale.id,
            "route": self.name,
            "msno": msno,
            "upstream_date_time": date_time,
            "upstream_unique_number": unique_number,
            "data_key_id": data_key,
            "request_body": blob,
            "state": "pending",
            "attempts": 0,
            "next_attempt_at": now + self._first_advice_delay,
            "created_at": now,
        }
        plan = plan_of(txn)
        planned = None if plan is None else plan.next_id(upstream_vends.name)
        if plan is not None and planned is not None:
            # A sale batch: the row goes with the batch's one INSERT, after the sale it
            # refers to (queued by hold_sale above); its id was fetched with the batch's.
            row_id = planned
            plan.insert(upstream_vends, {"id": row_id, **values})
        else:
            row_id = txn.execute(_INSERT_ROW, values).scalar_one()
        return Held(row_id, claimed, (date_time, unique_number))

    def load_request(self, txn: Txn, row_id: int) -> tuple[str, bytes]:
        """The held request's channel and credential-free body (recovery)."""
        row = txn.execute(
            select(
                upstream_vends.c.request_pk,
                upstream_vends.c.data_key_id,
                upstream_vends.c.request_body,
                requests.c.channel,
            )
            .join(requests, requests.c.id == upstream_vends.c.request_pk)
            .where(upstream_vends.c.id == row_id)
        ).one()
        body = self._keyring.decrypt(
            txn, row.data_key_id, bytes(row.request_body), aad=_aad(row.request_pk)
        )
        return row.channel, body

    def purchase_of(self, txn: Txn, row_id: int) -> Purchase:
        row = txn.execute(
            select(upstream_vends.c.msno, upstream_vends.c.sale_id).where(
                upstream_vends.c.id == row_id
            )
        ).one()
        sale = get_sale(txn, row.sale_id)
        return Purchase(MeterQuery(row.msno), amount=sale.amount)

    # --- the two closing transactions -------------------------------------------------------

    def _row_and_claim(self, txn: Txn, row_id: int) -> tuple[Any, Claim]:
        row = txn.execute(
            select(upstream_vends, requests.c.client_id, requests.c.request_id)
            .join(requests, requests.c.id == upstream_vends.c.request_pk)
            .where(upstream_vends.c.id == row_id)
        ).one()
        return row, Claim(row.request_pk, row.client_id, row.request_id)

    def _stored(self, txn: Txn, claim: Claim) -> Processed:
        found = find_request(
            txn, self._keyring, client_id=claim.client_id, request_id=claim.request_id
        )
        assert found is not None and found.response is not None
        return Processed(found.response, replayed=True)

    def _close(self, txn: Txn, row_id: int, state: str, now: datetime, **values: Any) -> bool:
        result = txn.execute(
            update(upstream_vends)
            .where(upstream_vends.c.id == row_id, upstream_vends.c.state == "pending")
            .values(state=state, completed_at=now, **values)
        )
        return result.rowcount == 1

    def settle(
        self, txn: Txn, row_id: int, request: Any, renderer: Any, result: CreditVendResult
    ) -> Processed:
        """The utility delivered: settle the held sale and store the answer."""
        row, claim = self._row_and_claim(txn, row_id)
        now = self._clock()
        if not self._close(txn, row_id, "settled", now):
            return self._stored(txn, claim)
        sale = settle_sale(
            txn,
            row.sale_id,
            external_ref=result.utility_receipt_no,
            details={
                "units": str(result.token.units),
                "utility_receipt_no": result.utility_receipt_no,
            },
            now=now,
        )
        # The token to the consumer's phone when the request named one (the number is in
        # the held sale's details, so a settle by recovery after a restart sends it too).
        recipient_sms.queue_token(txn, self._keyring, sale, result, now=now)
        available = available_credit(txn, sale.vendor_id)
        response = renderer.vend(request, result, sale, available)
        return idempotency.complete(txn, self._keyring, claim, response, now=now)

    def fail(
        self,
        txn: Txn,
        row_id: int,
        request: Any,
        renderer: Any,
        error: Exception,
        reversal: bool,
    ) -> Processed:
        """The vend definitively failed: refund the vendor and store the failure's answer;
        ``reversal``: the utility may have vended, so a reversal advice is owed."""
        row, claim = self._row_and_claim(txn, row_id)
        now = self._clock()
        if not self._close(txn, row_id, "failed", now, reversal="needed" if reversal else None):
            return self._stored(txn, claim)
        fail_sale(txn, row.sale_id, reason=str(error)[:200], now=now)
        response = renderer.failure(request, error)
        processed = idempotency.complete(txn, self._keyring, claim, response, now=now)
        if reversal:
            outbox.notify(
                txn,
                kind="upstream.reversal_needed",
                subject=f"{self.name}: vend {row.upstream_date_time}/{row.upstream_unique_number}",
                payload={"msno": row.msno, "sale_id": row.sale_id, "reason": str(error)[:200]},
                now=now,
            )
        return processed

    def stored_if_closed(self, txn: Txn, row_id: int) -> Processed | None:
        """The stored answer of a row another process (or an earlier run) closed."""
        row, claim = self._row_and_claim(txn, row_id)
        if row.state == "pending":
            return None
        return self._stored(txn, claim)

    # --- recovery ---------------------------------------------------------------------------

    def due(self, txn: Txn, now: datetime) -> list[tuple[int, str, str | None]]:
        rows = txn.execute(
            select(upstream_vends.c.id, upstream_vends.c.state, upstream_vends.c.reversal)
            .where(
                upstream_vends.c.route == self.name,
                upstream_vends.c.next_attempt_at <= now,
                (upstream_vends.c.state == "pending") | (upstream_vends.c.reversal == "needed"),
            )
            .order_by(upstream_vends.c.next_attempt_at)
            .limit(100)
        )
        return [(row.id, row.state, row.reversal) for row in rows]

    def _backoff(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self._max_delay, 2.0 ** min(attempts, 16)))

    def lease(self, txn: Txn, row_id: int, now: datetime) -> Lease | None:
        """Take the next attempt at a pending row (one process at a time), or None."""
        row = txn.execute(select(upstream_vends).where(upstream_vends.c.id == row_id)).first()
        if row is None or row.state != "pending":
            return None
        result = txn.execute(
            update(upstream_vends)
            .where(upstream_vends.c.id == row_id, upstream_vends.c.attempts == row.attempts)
            .values(attempts=row.attempts + 1, next_attempt_at=now + self._backoff(row.attempts))
        )
        if result.rowcount != 1:
            return None
        return Lease(
            (row.upstream_date_time, row.upstream_unique_number),
            (now - row.created_at).total_seconds(),
        )

    def reversal_lease(self, txn: Txn, row_id: int) -> UpstreamId | None:
        """The id of a vend owed a reversal advice (next attempt scheduled), or None."""
        row = txn.execute(select(upstream_vends).where(upstream_vends.c.id == row_id)).one()
        if row.reversal != "needed":
            return None
        txn.execute(
            update(upstream_vends)
            .where(upstream_vends.c.id == row_id)
            .values(
                attempts=row.attempts + 1,
                next_attempt_at=self._clock() + self._backoff(row.attempts),
            )
        )
        return row.upstream_date_time, row.upstream_unique_number

    def record_reversal(self, txn: Txn, row_id: int, outcome: str) -> None:
        txn.execute(
            update(upstream_vends)
            .where(upstream_vends.c.id == row_id, upstream_vends.c.reversal == "needed")
            .values(reversal=outcome)
        )
        if outcome == "refused":
            outbox.notify(
                txn,
                kind="upstream.reversal_refused",
                subject=f"{self.name}: upstream vend {row_id}",
                payload={"row": row_id, "action": "reconcile with the utility by hand"},
                now=self._clock(),
            )


# --- many settles in one transaction (issue 16) ------------------------------------------------

_SETTLE_ROWS = """
SELECT s.currency, p.supplier_account_id, e.account_id AS paying, u.id
FROM upstream_vends u
JOIN sales s ON s.id = u.sale_id
JOIN products p ON p.id = s.product_id
LEFT JOIN ledger_entries e ON e.transfer_id = s.transfer_id AND e.role = 'sale'
WHERE u.id = ANY(%(ids)s::bigint[]) AND u.state = 'pending'
"""
# Paying accounts first, then the house and supplier accounts, each in id order: the order
# a sale batch takes them (vendor accounts, then the hot accounts credited at its end).
_LOCK_SETTLE_ACCOUNTS = """
SELECT id FROM accounts
WHERE id = ANY(%(paying)s::bigint[]) OR id = ANY(%(house)s::bigint[])
   OR code = ANY(%(codes)s::text[])
ORDER BY id = ANY(%(paying)s::bigint[]) DESC, id
FOR UPDATE
"""


def _lock_for_settles(txn: Txn, settles: Sequence[BatchedSale]) -> None:
    """Lock every account the batch's settles and refunds will move, in the global order,
    with one statement (after one read of the rows): no settle then waits for a lock
    mid-batch, and no two batches deadlock."""
    row_ids = [int(s.args[0]) for s in settles]
    refunds = {int(s.args[0]) for s in settles if getattr(s.fn, "__func__", None) is _FAIL_FN}
    paying: set[int] = set()
    house: set[int] = set()
    codes: set[str] = set()
    for row in txn.conn.exec_driver_sql(_SETTLE_ROWS, {"ids": row_ids}):
        if row.id in refunds and row.paying is not None:
            paying.add(int(row.paying))
        house.add(int(row.supplier_account_id))
        codes.update(house_account_code(p, row.currency) for p in ("revenue", "fees", "suspense"))
    if paying or house:
        txn.conn.exec_driver_sql(
            _LOCK_SETTLE_ACCOUNTS,
            {"paying": sorted(paying), "house": sorted(house), "codes": sorted(codes)},
        ).fetchall()


@commits_with_last_statement
def run_settle_batch(txn: Txn, settles: Sequence[BatchedSale]) -> list[SaleDone]:
    """Transaction function: many settles and refunds of held sales (``RoutedSaleStore.settle``
    and ``.fail``, each with its row id first) in ONE transaction -- one COMMIT for all. The
    accounts are locked up front (:func:`_lock_for_settles`); then each settle runs its own,
    unchanged function, in arrival order. One that raises cannot be undone alone without a
    savepoint (two statements more per settle, paid by every batch): the batch raises
    :class:`IsolateSale`, is rolled back, and the runner runs it again without that settle,
    which alone gets its error (its vend stays pending: recovery settles it later)."""
    if txn.is_postgres and settles:
        _lock_for_settles(txn, settles)
    done: list[SaleDone] = []
    for index, settle in enumerate(settles):
        try:
            done.append(SaleDone(result=settle.fn(txn, *settle.args, **settle.kwargs)))
        except Exception as error:
            if is_retryable(error):
                raise  # not the settle's fault: the runner retries the whole batch
            raise IsolateSale(index, error) from error
    return done


_FAIL_FN = RoutedSaleStore.fail

__all__ = [
    "FAIL",
    "HOLD",
    "SETTLE",
    "Held",
    "Lease",
    "RoutedSaleStore",
    "UpstreamId",
    "run_settle_batch",
]
