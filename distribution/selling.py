"""The distribution network at sale time (issue 13 §2, §4), called by ``vending.sales``
inside every sale's own transaction, whatever the channel (XMLVend, JSON, SMS, USSD,
provider products) and on the batched path alike.

Before the sale's transfer (:func:`plan_sale`): a merchant that is a network node must be
active and its node must allow the product (code or kind) and the channel; the commission
legs for every ancestor (``distribution.commissions``) and the reward points legs
(``distribution.rewards``) are planned, to be posted IN the sale's own transfer. After
the transfer (:func:`after_sale`): the node's day of sales is counted with one conditional
UPDATE on its row that refuses to pass the daily sale limit. It runs after the debit on
purpose: the debit locked the merchant's account row first, the order every sale path
(and the sale batch, which locks the accounts up front) takes, so two sales of one
merchant serialise on the account and then on the node row, never the other way round.
The credit limit is the ledger's conditional debit (``InsufficientFunds``). Any refusal
raises and the whole sale rolls back (or its savepoint, in a batch).

Where the legs go (see docs/DEPOSITS.md, "Commissions at sale time"): an immediate sale
(``record_sale``) carries them in its ``sale`` transfer; a sale held for a provider
(``hold_sale``) is checked and counted at the hold, and its commissions and points join the
``sale_settle`` transfer when it is delivered, so a failed provider sale never paid any.
A reversal mirrors the transfers, taking commissions and points back; the reward lot and
the day's count are undone by :func:`undo_sale`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import bindparam, case, or_, select, update

from distribution import commissions, rewards
from distribution.tables import distribution_nodes
from vending.batch_plan import plan_of
from vending.errors import (
    ChannelNotAllowed,
    DailySaleLimitExceeded,
    NodeSuspended,
    ProductNotAllowed,
)
from vending.ledger import Leg
from vending.money import Money
from vending.storage.database import Txn
from vending.storage.schema import requests


@dataclass(frozen=True)
class SalePlan:
    """What the network adds to one sale."""

    legs: tuple[Leg, ...] = ()
    # Accounts credited by the extra legs: deferred to the commit like the other hot
    # accounts (an ancestor is credited by every sale below it).
    defer: tuple[int, ...] = ()
    node_id: int | None = None
    earning: rewards.Earning | None = None


NOTHING = SalePlan()

_NODE_OF_VENDOR = select(
    distribution_nodes.c.id,
    distribution_nodes.c.code,
    distribution_nodes.c.parent_id,
    distribution_nodes.c.status,
    distribution_nodes.c.allowed_products,
    distribution_nodes.c.allowed_channels,
).where(distribution_nodes.c.vendor_id == bindparam("vendor_id"))


def _listed(allowed: str) -> set[str]:
    return {item for item in allowed.replace(",", " ").split() if item}


def _channel_of(txn: Txn, request_pk: int, channel: str) -> str:
    if channel:
        return channel
    found = txn.execute(select(requests.c.channel).where(requests.c.id == request_pk)).scalar()
    return str(found or "")


def check_node(
    txn: Txn,
    *,
    vendor_id: int,
    product_code: str,
    product_kind: str,
    channel: str,
    request_pk: int,
):  # type: ignore[no-untyped-def]
    """The seller's node row when it is a network node allowed to make this sale (None:
    not in the network); raises the refusal otherwise."""
    plan = plan_of(txn)
    if plan is not None and vendor_id in plan.nodes:  # read with the batch's principals
        node = plan.nodes[vendor_id]
    else:
        node = txn.execute(_NODE_OF_VENDOR, {"vendor_id": vendor_id}).first()
    if node is None:
        return None
    if node.status != "active":
        raise NodeSuspended(f"node {node.code} is {node.status}")
    products = _listed(node.allowed_products)
    if products and product_code not in products and product_kind not in products:
        raise ProductNotAllowed(f"node {node.code} may not sell {product_code}")
    channels = _listed(node.allowed_channels)
    if channels:
        used = _channel_of(txn, request_pk, channel)
        if used not in channels:
            raise ChannelNotAllowed(f"node {node.code} may not sell by {used or 'this channel'}")
    return node


def extra_legs(
    txn: Txn,
    *,
    parent_id: int | None,
    product_code: str,
    amount: Money,
    holder: rewards.Holder | None,
    revenue_account: int,
    now: datetime,
) -> tuple[list[Leg], list[int], rewards.Earning | None]:
    """Commission legs for the ancestors (above ``parent_id`` inclusive) and the points
    legs of ``holder``: (legs, accounts to defer, the earning)."""
    legs: list[Leg] = []
    if parent_id is not None:
        book = commissions.load_book(txn, product_code)
        if book.slabs:
            legs += commissions.chain_legs(
                txn,
                book,
                parent_id=parent_id,
                product=product_code,
                amount=amount,
                revenue_account=revenue_account,
            )
    earning = None
    if holder is not None:
        earning = rewards.plan_earning(
            txn, product_code=product_code, holder=holder, amount=amount, now=now
        )
        if earning is not None:
            legs += earning.legs(revenue_account)
    defer = [leg.account_id for leg in legs if leg.amount.amount > 0]
    return legs, defer, earning


def plan_sale(
    txn: Txn,
    *,
    vendor_id: int,
    vendor_account_id: int,
    paying_consumer_id: int | None,
    product_code: str,
    product_kind: str,
    amount: Money,
    channel: str,
    request_pk: int,
    revenue_account: int,
    now: datetime,
    with_legs: bool = True,
) -> SalePlan:
    """Check the seller's node and plan the legs (``with_legs=False``: a hold -- checks
    only, the legs come with the settlement)."""
    node = check_node(
        txn,
        vendor_id=vendor_id,
        product_code=product_code,
        product_kind=product_kind,
        channel=channel,
        request_pk=request_pk,
    )
    node_id = None if node is None else int(node.id)
    if not with_legs:
        return SalePlan(node_id=node_id)
    holder = (
        rewards.Holder("consumer", paying_consumer_id, vendor_account_id, amount.currency)
        if paying_consumer_id is not None
        else rewards.Holder("merchant", vendor_id, vendor_account_id, amount.currency)
    )
    legs, defer, earning = extra_legs(
        txn,
        parent_id=None if node is None else node.parent_id,
        product_code=product_code,
        amount=amount,
        holder=holder,
        revenue_account=revenue_account,
        now=now,
    )
    if node_id is None and not legs:
        return NOTHING
    return SalePlan(tuple(legs), tuple(defer), node_id, earning)


def plan_settlement(
    txn: Txn,
    *,
    vendor_id: int,
    paying_account_id: int | None,
    product_code: str,
    amount: Money,
    revenue_account: int,
    now: datetime,
) -> SalePlan:
    """The legs a held sale's settlement carries (its checks were made at the hold)."""
    node = txn.execute(_NODE_OF_VENDOR, {"vendor_id": vendor_id}).first()
    holder = None
    consumer_id = (
        None
        if paying_account_id is None
        else rewards.consumer_holder_of_account(txn, paying_account_id)
    )
    if consumer_id is not None and paying_account_id is not None:
        holder = rewards.Holder("consumer", consumer_id, paying_account_id, amount.currency)
    elif paying_account_id is not None:
        holder = rewards.Holder("merchant", vendor_id, paying_account_id, amount.currency)
    legs, defer, earning = extra_legs(
        txn,
        parent_id=None if node is None else node.parent_id,
        product_code=product_code,
        amount=amount,
        holder=holder,
        revenue_account=revenue_account,
        now=now,
    )
    return SalePlan(tuple(legs), tuple(defer), None, earning)


def _day_total():  # type: ignore[no-untyped-def]
    return case(
        (distribution_nodes.c.sold_day == bindparam("day"), distribution_nodes.c.sold_today),
        else_=0,
    ) + bindparam("amount")


_COUNT_SALE = (
    update(distribution_nodes)
    .where(
        distribution_nodes.c.id == bindparam("node_id"),
        or_(
            distribution_nodes.c.daily_sale_limit.is_(None),
            _day_total() <= distribution_nodes.c.daily_sale_limit,
        ),
    )
    .values(sold_today=_day_total(), sold_day=bindparam("day"))
)


def count_sale(txn: Txn, node_id: int, amount: Money, now: datetime) -> None:
    """Add the sale to the node's day, refusing to pass its daily sale limit (one
    conditional UPDATE: it locks the row, so racing sales cannot both pass)."""
    day = now.astimezone(UTC).date()
    done = txn.execute(_COUNT_SALE, {"node_id": node_id, "day": day, "amount": amount.amount})
    if done.rowcount != 1:
        row = txn.execute(
            select(
                distribution_nodes.c.code,
                distribution_nodes.c.daily_sale_limit,
                distribution_nodes.c.sold_day,
                distribution_nodes.c.sold_today,
            ).where(distribution_nodes.c.id == node_id)
        ).one()
        sold = int(row.sold_today) if row.sold_day == day else 0
        left = Money(max(0, int(row.daily_sale_limit) - sold), amount.currency)
        raise DailySaleLimitExceeded(
            f"node {row.code} may sell {left.format()} {amount.currency} more today"
        )


def after_sale(txn: Txn, plan: SalePlan, *, sale_id: int, amount: Money, now: datetime) -> None:
    if plan.node_id is not None:
        count_sale(txn, plan.node_id, amount, now)
    if plan.earning is not None:
        rewards.record_earning(txn, plan.earning, sale_id=sale_id, now=now)


def undo_sale(
    txn: Txn, *, sale_id: int, vendor_id: int, amount: Money, sold_at: datetime, now: datetime
) -> None:
    """A failed or reversed sale: its points go back and, on the day it was made, it no
    longer counts against the node's daily limit."""
    rewards.claw_back(txn, sale_id, now=now)
    txn.execute(
        update(distribution_nodes)
        .where(
            distribution_nodes.c.vendor_id == vendor_id,
            distribution_nodes.c.sold_day == sold_at.astimezone(UTC).date(),
            distribution_nodes.c.sold_today >= amount.amount,
        )
        .values(sold_today=distribution_nodes.c.sold_today - amount.amount)
    )
