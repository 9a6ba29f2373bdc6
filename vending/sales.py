"""Sales and their state machine::

    pending ──settle──▶ completed ──reverse──▶ reversed
       └─────fail─────▶ failed

A sale that completes in one step (our own STS engine, voucher stock) is written straight
as ``completed`` with one ``sale`` transfer: the vendor is debited the price and the fee and
credited its commission, the supplier or utility is credited its share, the operator its
margin and fee. A sale that waits on a slow upstream is written ``pending`` with a ``sale_hold``
transfer (vendor → suspense) and later settled (suspense → supplier, margin, fee) or failed
(the hold is reversed, refunding the vendor). Every transition is a conditional UPDATE on
the current state, so two racing transitions cannot both happen.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, bindparam, insert, select, update

from distribution import selling as network
from vending import consumers, read_cache
from vending.accounts import ensure_house_accounts, house_account_code
from vending.batch_plan import plan_of
from vending.errors import InvalidState, ReversalRefused, UnknownSale
from vending.frozen_build import frozen_builder
from vending.ledger import Leg, PostedTransfer, post_transfer, reverse_transfer, transfer_legs
from vending.money import Money
from vending.products import Pricing, Product, get_product
from vending.requests import Claim
from vending.storage.database import Txn
from vending.storage.schema import accounts, products, requests, sales


@dataclass(frozen=True)
class SaleOrder:
    """What is being sold, to whom, at what price."""

    vendor_id: int
    vendor_account_id: int
    product: Product
    pricing: Pricing
    # Meter number, phone number, account or product reference.
    target: str
    terminal_id: str
    operator_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)
    # The consumer whose wallet (``vendor_account_id``) pays: its daily spend limit is
    # checked at the debit (:func:`_check_wallet_spend`). None: a vendor's own account.
    paying_consumer_id: int | None = None
    # The target as the buyer's answers show it (a provider order's account number masked
    # to its last four); the ledger's descriptions, which the merchant's statement shows,
    # use it. None: the target itself (a meter, a recharged number).
    shown_target: str | None = None

    @property
    def described_target(self) -> str:
        return self.target if self.shown_target is None else self.shown_target


@dataclass(frozen=True)
class Sale:
    id: int
    request_pk: int
    vendor_id: int
    product_id: int
    product_code: str
    product_kind: str
    state: str
    amount: Money
    commission: Money
    fee: Money
    cost: Money
    target: str
    terminal_id: str
    external_ref: str | None
    details: dict[str, Any]
    transfer_id: int | None
    settlement_transfer_id: int | None
    reversal_transfer_id: int | None
    created_at: datetime
    completed_at: datetime | None
    confirmed_at: datetime | None
    reversed_at: datetime | None
    failure_reason: str | None
    # Times a reprint showed the sale's answer again (vending.services.reprints).
    reprint_count: int = 0

    @property
    def receipt_no(self) -> str:
        return f"{self.id:012d}"


@dataclass(frozen=True)
class SaleResult:
    sale: Sale
    # The vendor's balance right after this sale's own transfer ...
    vendor_balance: Money
    # ... and what it can still spend (balance + credit limit): XMLVend's availCredit.
    vendor_available: Money


_SALE_COLUMNS = (
    sales,
    products.c.code.label("product_code"),
    products.c.kind.label("product_kind"),
)


def _from_row(row: Row) -> Sale:
    currency = row.currency
    return Sale(
        id=row.id,
        request_pk=row.request_pk,
        vendor_id=row.vendor_id,
        product_id=row.product_id,
        product_code=row.product_code,
        product_kind=row.product_kind,
        state=row.state,
        amount=Money(row.amount, currency),
        commission=Money(row.commission, currency),
        fee=Money(row.fee, currency),
        cost=Money(row.cost, currency),
        target=row.target,
        terminal_id=row.terminal_id,
        external_ref=row.external_ref,
        details=dict(row.details or {}),
        transfer_id=row.transfer_id,
        settlement_transfer_id=row.settlement_transfer_id,
        reversal_transfer_id=row.reversal_transfer_id,
        created_at=row.created_at,
        completed_at=row.completed_at,
        confirmed_at=row.confirmed_at,
        reversed_at=row.reversed_at,
        failure_reason=row.failure_reason,
        reprint_count=row.reprint_count,
    )


def _select_sales():  # type: ignore[no-untyped-def]
    return select(*_SALE_COLUMNS).join(products, products.c.id == sales.c.product_id)


_HOUSE_IDS = select(accounts.c.code, accounts.c.id).where(
    accounts.c.code.in_(bindparam("codes", expanding=True))
)


def _house_ids(txn: Txn, currency: str, *purposes: str, now: datetime) -> dict[str, int]:
    if plan_of(txn) is not None:
        # A sale batch: house account ids never change once made (vending.read_cache).
        found = read_cache.cached(
            txn,
            ("house", currency, purposes),
            lambda: _read_house_ids(txn, currency, purposes),
            ttl=None,
        )
        if len(found) == len(purposes):
            return found
    return _read_house_ids(txn, currency, purposes, now=now)


def _read_house_ids(
    txn: Txn, currency: str, purposes: tuple[str, ...], *, now: datetime | None = None
) -> dict[str, int]:
    """``now`` None: only read (the ids found), never create."""
    codes = {house_account_code(p, currency): p for p in purposes}
    rows = txn.execute(_HOUSE_IDS, {"codes": list(codes)})
    found = {codes[row.code]: row.id for row in rows}
    if len(found) < len(purposes) and now is not None:
        found = {p: ensure_house_accounts(txn, currency, now=now)[p] for p in purposes}
    return found


def _sale_legs(order: SaleOrder, house: dict[str, int], source: int) -> list[Leg]:
    """Where the money of a sale goes, taking ``price + fee - commission`` from ``source``."""
    pricing = order.pricing
    if source == order.vendor_account_id:
        # Commission first: each entry's balance_after then never dips below the net
        # debit that the ledger checked against the credit limit.
        taken = [
            Leg(source, pricing.commission, "commission"),
            Leg(source, -(pricing.price + pricing.fee), "sale"),
        ]
    else:
        taken = [Leg(source, -pricing.vendor_cost, "release")]
    return [
        *taken,
        Leg(order.product.supplier_account_id, pricing.supplier_share, "supplier"),
        Leg(house["revenue"], pricing.margin, "margin"),
        Leg(house["fees"], pricing.fee, "fee"),
    ]


def _check_wallet_spend(txn: Txn, order: SaleOrder, now: datetime) -> None:
    """A consumer's wallet pays: before it is debited, lock it and check that the sale fits
    the day's spend limit of the consumer's KYC level (and that the consumer is active).
    The wallet's row lock, held to the commit, serialises the consumer's sales, so two of
    them racing cannot together pass the limit; a refusal rolls the whole sale back."""
    if order.paying_consumer_id is None:
        return
    consumers.check_spend(txn, order.paying_consumer_id, order.pricing.vendor_cost, now)


_INSERT_SALE = insert(sales).returning(sales.c.id)


def _insert_sale(
    txn: Txn, claim: Claim, order: SaleOrder, *, state: str, transfer_id: int, now: datetime
) -> Sale:
    """Insert the sale; the Sale as written (no second read)."""
    pricing = order.pricing
    values: dict[str, Any] = {
        "request_pk": claim.request_pk,
        "vendor_id": order.vendor_id,
        "product_id": order.product.id,
        "operator_id": order.operator_id,
        "terminal_id": order.terminal_id[:64],
        "state": state,
        "amount": pricing.price.amount,
        "commission": pricing.commission.amount,
        "fee": pricing.fee.amount,
        "cost": pricing.supplier_share.amount,
        "currency": pricing.price.currency,
        "target": order.target[:64],
        "transfer_id": transfer_id,
        "details": order.details,
        "created_at": now,
        "completed_at": now if state == "completed" else None,
    }
    plan = plan_of(txn)
    planned = None if plan is None else plan.next_id("sales")
    if plan is not None and planned is not None:  # written with the batch's one INSERT
        sale_id = planned
        plan.insert(sales, {"id": sale_id, **values})
    else:
        sale_id = txn.execute(_INSERT_SALE, values).scalar_one()
    currency = pricing.price.currency
    at = now.astimezone(UTC)  # as the UTC column reads back
    return _build_sale(
        {
            "id": sale_id,
            "request_pk": claim.request_pk,
            "vendor_id": order.vendor_id,
            "product_id": order.product.id,
            "product_code": order.product.code,
            "product_kind": order.product.kind,
            "state": state,
            "amount": Money(pricing.price.amount, currency),
            "commission": Money(pricing.commission.amount, currency),
            "fee": Money(pricing.fee.amount, currency),
            "cost": Money(pricing.supplier_share.amount, currency),
            "target": order.target[:64],
            "terminal_id": order.terminal_id[:64],
            "external_ref": None,
            # As read back from the JSON column: a copy, never the caller's dict.
            "details": _as_stored(order.details),
            "transfer_id": transfer_id,
            "settlement_transfer_id": None,
            "reversal_transfer_id": None,
            "created_at": at,
            "completed_at": at if state == "completed" else None,
            "confirmed_at": None,
            "reversed_at": None,
            "failure_reason": None,
            "reprint_count": 0,
        }
    )


# Every sale makes one (vending.frozen_build says why).
_build_sale = frozen_builder(Sale)


_JSON_SCALARS = frozenset((str, int, bool, type(None)))


def _as_stored(details: dict[str, Any]) -> dict[str, Any]:
    """``details`` as the JSON column gives it back. A sale's details are flat text,
    numbers and flags, which JSON returns unchanged: a plain copy then, else the round
    trip (nested values, floats, tuples, subclasses, non-text keys)."""
    if all(type(k) is str and type(v) in _JSON_SCALARS for k, v in details.items()):
        return dict(details)
    return json.loads(json.dumps(details))  # type: ignore[no-any-return]


def record_sale(
    txn: Txn, claim: Claim, order: SaleOrder, *, created_by: str, now: datetime
) -> SaleResult:
    """A sale delivered in this same transaction: one ``sale`` transfer, state completed."""
    _check_wallet_spend(txn, order, now)
    currency = order.pricing.price.currency
    house = _house_ids(txn, currency, "revenue", "fees", now=now)
    plan = _network_plan(txn, claim, order, house["revenue"], now=now, with_legs=True)
    posted = post_transfer(
        txn,
        kind="sale",
        # The network's commission and points legs (if any) join the sale's own transfer.
        legs=_sale_legs(order, house, order.vendor_account_id) + list(plan.legs),
        description=f"{order.product.name} for {order.described_target}",
        created_by=created_by,
        reference=f"request:{claim.request_pk}",
        now=now,
        # Credited by every sale: applied at the end of the transaction (vending.ledger).
        defer=(order.product.supplier_account_id, house["revenue"], house["fees"], *plan.defer),
    )
    sale = _insert_sale(txn, claim, order, state="completed", transfer_id=posted.id, now=now)
    if plan is not network.NOTHING:
        network.after_sale(txn, plan, sale_id=sale.id, amount=order.pricing.price, now=now)
    return _sale_result(sale, posted, order)


def _sale_result(sale: Sale, posted: PostedTransfer, order: SaleOrder) -> SaleResult:
    """The sale with its vendor's balance and spendable credit right after ``posted``."""
    currency = order.pricing.price.currency
    return SaleResult(
        sale,
        posted.balance_of(order.vendor_account_id, currency),
        posted.available_of(order.vendor_account_id, currency),
    )


def hold_sale(
    txn: Txn, claim: Claim, order: SaleOrder, *, created_by: str, now: datetime
) -> SaleResult:
    """A sale waiting on an upstream: the vendor's money moves to suspense, state pending."""
    sale, posted = _hold(txn, claim, order, created_by=created_by, now=now, pay_late=False)
    return _sale_result(sale, posted, order)


def hold_sale_paying_late(
    txn: Txn, claim: Claim, order: SaleOrder, *, created_by: str, now: datetime
) -> Sale:
    """:func:`hold_sale` with the vendor's debit applied at the end of the transaction and
    checked then (``vending.ledger``'s paying accounts): a bulk file's chunk of holds, every
    one of which debits the same vendor, then locks the vendor's row for its last
    statements only, not from its first hold on. The chunk's holds must fit the vendor's
    balance together: if they do not, the whole transaction fails (DeferredDebitRefused
    where the debits ride with the COMMIT, else InsufficientFunds or AccountBlocked) and
    the caller holds them again one by one. The vendor's balance is not known before the
    end, so it is not returned."""
    return _hold(txn, claim, order, created_by=created_by, now=now, pay_late=True)[0]


def _hold(
    txn: Txn,
    claim: Claim,
    order: SaleOrder,
    *,
    created_by: str,
    now: datetime,
    pay_late: bool,
) -> tuple[Sale, PostedTransfer]:
    _check_wallet_spend(txn, order, now)
    pricing = order.pricing
    currency = pricing.price.currency
    # Checked (node, product, channel) now; its commissions and points come at settlement.
    plan = _network_plan(txn, claim, order, 0, now=now, with_legs=False)
    suspense = _house_ids(txn, currency, "suspense", now=now)["suspense"]
    posted = post_transfer(
        txn,
        kind="sale_hold",
        legs=[
            Leg(order.vendor_account_id, pricing.commission, "commission"),
            Leg(order.vendor_account_id, -(pricing.price + pricing.fee), "sale"),
            Leg(suspense, pricing.vendor_cost, "hold"),
        ],
        description=f"{order.product.name} for {order.described_target} (pending)",
        created_by=created_by,
        reference=f"request:{claim.request_pk}",
        now=now,
        # Credited by every hold: applied at the end of the transaction with the other hot
        # accounts, in their id order (vending.ledger), so a batch of holds never takes it
        # out of that order (a bulk chunk's holds included).
        defer=(suspense,),
        defer_paying=(order.vendor_account_id,) if pay_late else (),
    )
    sale = _insert_sale(txn, claim, order, state="pending", transfer_id=posted.id, now=now)
    if plan.node_id is not None:
        network.after_sale(txn, plan, sale_id=sale.id, amount=pricing.price, now=now)
    return sale, posted


def settle_sale(
    txn: Txn,
    sale_id: int,
    *,
    external_ref: str | None = None,
    details: dict[str, Any] | None = None,
    created_by: str = "system",
    shown_target: str | None = None,
    now: datetime,
) -> Sale:
    """pending → completed: the held money goes to the supplier, margin and fee.
    ``shown_target``: the target as the hold's description showed it (``SaleOrder``)."""
    sale = _transition(txn, sale_id, "pending", "completed", completed_at=now)
    product = _product_of(txn, sale)
    pricing = Pricing(sale.amount, sale.cost, sale.commission, sale.fee)
    order = SaleOrder(
        vendor_id=sale.vendor_id,
        vendor_account_id=-1,
        product=product,
        pricing=pricing,
        target=sale.target,
        terminal_id=sale.terminal_id,
    )
    currency = sale.amount.currency
    house = _house_ids(txn, currency, "revenue", "fees", "suspense", now=now)
    assert sale.transfer_id is not None
    plan = network.plan_settlement(
        txn,
        vendor_id=sale.vendor_id,
        paying_account_id=_paying_account(txn, sale.transfer_id),
        product_code=sale.product_code,
        amount=sale.amount,
        revenue_account=house["revenue"],
        now=now,
    )
    posted = post_transfer(
        txn,
        kind="sale_settle",
        legs=_sale_legs(order, house, house["suspense"]) + list(plan.legs),
        description=f"{product.name} for {shown_target or sale.target} delivered",
        created_by=created_by,
        reference=f"sale:{sale.id}",
        now=now,
        # Every settlement meets every other on these rows: the hot credits, and the debit
        # of suspense (no floor: never refused but for a blocked account), applied at the
        # end of the transaction (vending.ledger), not from here to its COMMIT.
        defer=(product.supplier_account_id, house["revenue"], house["fees"], *plan.defer),
        defer_debits=(house["suspense"],),
    )
    values: dict[str, Any] = {"settlement_transfer_id": posted.id}
    if external_ref is not None:
        values["external_ref"] = external_ref[:64]
    if details:
        values["details"] = {**sale.details, **details}
    txn.execute(update(sales).where(sales.c.id == sale.id).values(**values))
    if plan.earning is not None:
        network.after_sale(txn, plan, sale_id=sale.id, amount=sale.amount, now=now)
    return get_sale(txn, sale.id)


def fail_sale(
    txn: Txn, sale_id: int, *, reason: str, created_by: str = "system", now: datetime
) -> Sale:
    """pending → failed: the hold is reversed and the vendor has its money back."""
    sale = _transition(txn, sale_id, "pending", "failed", failure_reason=reason[:200])
    assert sale.transfer_id is not None
    posted = reverse_transfer(
        txn,
        sale.transfer_id,
        kind="sale_release",
        description=f"Refund: {reason}"[:200],
        created_by=created_by,
        reference=f"sale:{sale.id}",
        now=now,
    )
    txn.execute(update(sales).where(sales.c.id == sale.id).values(reversal_transfer_id=posted.id))
    _network_undo(txn, sale, now)
    return get_sale(txn, sale.id)


def reverse_sale(
    txn: Txn,
    sale_id: int,
    *,
    reason: str,
    created_by: str,
    now: datetime,
) -> Sale:
    """completed → reversed per the product's reversal policy, refunding the vendor.

    Idempotent: reversing a reversed sale returns it unchanged.
    """
    sale = get_sale(txn, sale_id)
    if sale.state == "reversed":
        return sale
    if sale.state != "completed":
        raise ReversalRefused(f"sale {sale.receipt_no} is {sale.state}, not completed")
    policy = _product_of(txn, sale).reversal_policy
    if policy == "none":
        raise ReversalRefused(f"{sale.product_code} sales cannot be reversed once delivered")
    if policy == "refund_unconfirmed" and sale.confirmed_at is not None:
        raise ReversalRefused(f"sale {sale.receipt_no} was confirmed and cannot be reversed")
    sale = _transition(txn, sale_id, "completed", "reversed", reversed_at=now)
    if sale.settlement_transfer_id is not None:
        reverse_transfer(
            txn,
            sale.settlement_transfer_id,
            kind="reversal",
            description=f"Reversal of sale {sale.receipt_no}: {reason}"[:200],
            created_by=created_by,
            reference=f"sale:{sale.id}",
            now=now,
        )
    assert sale.transfer_id is not None
    posted = reverse_transfer(
        txn,
        sale.transfer_id,
        kind="reversal",
        description=f"Reversal of sale {sale.receipt_no}: {reason}"[:200],
        created_by=created_by,
        reference=f"sale:{sale.id}",
        now=now,
    )
    txn.execute(update(sales).where(sales.c.id == sale.id).values(reversal_transfer_id=posted.id))
    _network_undo(txn, sale, now)
    return get_sale(txn, sale.id)


def _network_plan(
    txn: Txn, claim: Claim, order: SaleOrder, revenue: int, *, now: datetime, with_legs: bool
) -> network.SalePlan:
    return network.plan_sale(
        txn,
        vendor_id=order.vendor_id,
        vendor_account_id=order.vendor_account_id,
        paying_consumer_id=order.paying_consumer_id,
        product_code=order.product.code,
        product_kind=order.product.kind,
        amount=order.pricing.price,
        channel=claim.channel,
        request_pk=claim.request_pk,
        revenue_account=revenue,
        now=now,
        with_legs=with_legs,
    )


def _network_undo(txn: Txn, sale: Sale, now: datetime) -> None:
    network.undo_sale(
        txn,
        sale_id=sale.id,
        vendor_id=sale.vendor_id,
        amount=sale.amount,
        sold_at=sale.created_at,
        now=now,
    )


def _paying_account(txn: Txn, hold_transfer_id: int) -> int | None:
    """The account a held sale's hold debited (the vendor's, or a consumer's wallet)."""
    for leg in transfer_legs(txn, hold_transfer_id):
        if leg.role == "sale":
            return leg.account_id
    return None


def confirm_sale(txn: Txn, sale_id: int, *, now: datetime) -> Sale:
    """Record a client's confirmation; only completed sales can be confirmed."""
    sale = get_sale(txn, sale_id)
    if sale.state != "completed":
        raise InvalidState(f"sale {sale.receipt_no} is {sale.state}")
    if sale.confirmed_at is None:
        txn.execute(
            update(sales)
            .where(sales.c.id == sale_id, sales.c.confirmed_at.is_(None))
            .values(confirmed_at=now)
        )
        sale = get_sale(txn, sale_id)
    return sale


def count_reprint(txn: Txn, sale_ids: list[int]) -> None:
    """Record that a reprint showed these sales' answers again (a delivery)."""
    if sale_ids:
        txn.execute(
            update(sales)
            .where(sales.c.id.in_(sale_ids))
            .values(reprint_count=sales.c.reprint_count + 1)
        )


def _transition(txn: Txn, sale_id: int, source: str, target: str, **values: Any) -> Sale:
    result = txn.execute(
        update(sales)
        .where(sales.c.id == sale_id, sales.c.state == source)
        .values(state=target, **values)
    )
    if result.rowcount != 1:
        sale = get_sale(txn, sale_id)
        raise InvalidState(f"sale {sale.receipt_no} is {sale.state}, not {source}")
    return get_sale(txn, sale_id)


def _product_of(txn: Txn, sale: Sale) -> Product:
    return get_product(txn, sale.product_id)


# --- lookups ----------------------------------------------------------------------------------


def get_sale(txn: Txn, sale_id: int) -> Sale:
    row = txn.execute(_select_sales().where(sales.c.id == sale_id)).first()
    if row is None:
        raise UnknownSale(f"no sale {sale_id}")
    return _from_row(row)


def sale_for_request(txn: Txn, client_id: str, request_id: str) -> Sale | None:
    row = txn.execute(
        _select_sales()
        .join(requests, requests.c.id == sales.c.request_pk)
        .where(requests.c.client_id == client_id, requests.c.request_id == request_id)
    ).first()
    return None if row is None else _from_row(row)


def recent_sales(
    txn: Txn,
    *,
    target: str | None = None,
    vendor_id: int | None = None,
    states: tuple[str, ...] = ("completed",),
    limit: int = 5,
) -> list[Sale]:
    """Newest first; used for reprints (by meter or account) and reports."""
    query = _select_sales().where(sales.c.state.in_(states))
    if target is not None:
        query = query.where(sales.c.target == target)
    if vendor_id is not None:
        query = query.where(sales.c.vendor_id == vendor_id)
    return [_from_row(r) for r in txn.execute(query.order_by(sales.c.id.desc()).limit(limit))]


def pending_sales(txn: Txn, older_than: datetime | None = None) -> list[Sale]:
    query = _select_sales().where(sales.c.state == "pending")
    if older_than is not None:
        query = query.where(sales.c.created_at < older_than)
    return [_from_row(r) for r in txn.execute(query.order_by(sales.c.id))]
