"""Fund requests: a node asks its parent (or any ancestor; staff act as the operator node)
for credit. The approver approves -- the approval *is* the transfer, in the same
transaction -- or rejects with a reason. Requests expire; the same (requester, reference)
twice is refused; the requester and the parent are told through the outbox, and a
requester that is a merchant also by a webhook event (``fund_request.approved``,
``.rejected``, ``.expired``) for each of its API keys with a callback URL and an SMS to each
of its registered numbers (``fund_notices.tell_requester``, which every decision and the
expiry go through) -- written in the deciding transaction, so a decision that rolls back
tells nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Row, insert, select, update

from distribution import nodes
from distribution.fund_notices import FundNotices, tell_requester
from distribution.tables import fund_requests
from vending import audit, outbox
from vending.errors import InvalidAmount, InvalidRequest, NotFound
from vending.money import Money
from vending.storage.database import Txn

DEFAULT_TTL = timedelta(hours=24)


class UnknownFundRequest(NotFound):
    """No such fund request."""

    code = "unknown_fund_request"


@dataclass(frozen=True)
class FundRequest:
    id: int
    requester: str
    reference: str
    amount: Money
    state: str
    reason: str
    expires_at: datetime
    transfer_id: int | None
    created_at: datetime | None = None
    decided_at: datetime | None = None


def _query():  # type: ignore[no-untyped-def]
    return select(fund_requests, nodes.distribution_nodes.c.code).join(
        nodes.distribution_nodes,
        nodes.distribution_nodes.c.id == fund_requests.c.requester_id,
    )


def _request(row: Row) -> FundRequest:
    return FundRequest(
        id=int(row.id),
        requester=row.code,
        reference=row.reference,
        amount=Money(int(row.amount), row.currency),
        state=row.state,
        reason=row.reason,
        expires_at=row.expires_at,
        transfer_id=row.transfer_id,
        created_at=row.created_at,
        decided_at=row.decided_at,
    )


def get_request(txn: Txn, request_id: int) -> FundRequest:
    row = txn.execute(_query().where(fund_requests.c.id == request_id)).first()
    if row is None:
        raise UnknownFundRequest(f"no fund request {request_id}")
    return _request(row)


def ask(
    txn: Txn,
    *,
    requester: str,
    amount: Money,
    reference: str,
    now: datetime,
    ttl: timedelta = DEFAULT_TTL,
) -> FundRequest:
    node = nodes.get_node(txn, requester)
    if node.parent_id is None:
        raise InvalidRequest("the operator has nobody to ask")
    if node.status != "active":
        raise InvalidRequest(f"node {requester} is {node.status}")
    if amount.amount <= 0 or amount.currency != node.currency:
        raise InvalidAmount(f"the amount must be positive and in {node.currency}")
    reference = reference.strip()
    if not 1 <= len(reference) <= 32:
        raise InvalidRequest("a reference of 1-32 characters is required")
    if txn.execute(
        select(fund_requests.c.id).where(
            fund_requests.c.requester_id == node.id, fund_requests.c.reference == reference
        )
    ).first():
        raise InvalidRequest(f"a fund request {reference} of {requester} exists already")
    request_id = txn.execute(
        insert(fund_requests)
        .values(
            requester_id=node.id,
            reference=reference,
            amount=amount.amount,
            currency=amount.currency,
            state="pending",
            created_at=now,
            expires_at=now + ttl,
        )
        .returning(fund_requests.c.id)
    ).scalar_one()
    parent = nodes.ancestors(txn, node)[0]
    outbox.notify(
        txn,
        kind="fund_request.new",
        subject=parent.code,
        payload={"id": request_id, "from": requester, "amount": amount.format(), "ref": reference},
        now=now,
    )
    return get_request(txn, request_id)


def pending_for(txn: Txn, actor_node: str, now: datetime) -> list[FundRequest]:
    """Unexpired pending requests from the acting node's subtree."""
    below = {n.id for n in nodes.subtree(txn, actor_node)[1:]}
    rows = txn.execute(
        _query()
        .where(fund_requests.c.state == "pending", fund_requests.c.expires_at > now)
        .order_by(fund_requests.c.id)
    )
    return [_request(row) for row in rows if row.requester_id in below]


def decide(
    txn: Txn,
    *,
    actor_node: str,
    request_id: int,
    approve: bool,
    reason: str,
    actor: str,
    now: datetime,
    notices: FundNotices,
) -> FundRequest:
    """Approve (the transfer down) or reject ``request_id`` as ``actor_node``; the requester
    is told (``notices``: how to text it) in this transaction."""
    request = get_request(txn, request_id)
    nodes.node_in_subtree(txn, actor_node, request.requester)
    if request.state != "pending":
        raise InvalidRequest(f"fund request {request_id} is {request.state}")
    if now >= request.expires_at:
        # Too late: recorded as expired (and answered so), nothing moves -- a transfer
        # after the deadline would surprise the requester.
        txn.execute(
            update(fund_requests).where(fund_requests.c.id == request_id).values(state="expired")
        )
        expired = get_request(txn, request_id)
        tell_requester(txn, notices, expired, now)
        return expired
    if not approve and not reason.strip():
        raise InvalidRequest("a rejection needs a reason")
    state = "approved" if approve else "rejected"
    # Decide first, conditionally: of two decisions racing, the second waits on this row
    # and then finds it decided (no second transfer); the transfer follows in the same
    # transaction, so a refused transfer (beyond the approver's limit) undoes the decision.
    decided = txn.execute(
        update(fund_requests)
        .where(fund_requests.c.id == request_id, fund_requests.c.state == "pending")
        .values(state=state, reason=reason[:200], decided_by=actor[:64], decided_at=now)
    ).rowcount
    if decided != 1:
        raise InvalidRequest(f"fund request {request_id} was decided meanwhile")
    if approve:
        transfer_id = nodes.transfer_down(
            txn,
            actor_node=actor_node,
            to=request.requester,
            amount=request.amount,
            reason=f"fund request {request.reference}" + (f": {reason}" if reason else ""),
            actor=actor,
            now=now,
        ).id
        txn.execute(
            update(fund_requests)
            .where(fund_requests.c.id == request_id)
            .values(transfer_id=transfer_id)
        )
    audit.record(
        txn,
        actor=actor,
        action=f"fund_request.{state}",
        subject=f"fund_request:{request_id}",
        details={"node": actor_node, "reason": reason},
        now=now,
    )
    outbox.notify(
        txn,
        kind=f"fund_request.{state}",
        subject=request.requester,
        payload={"id": request_id, "amount": request.amount.format(), "reason": reason},
        now=now,
    )
    decided = get_request(txn, request_id)
    tell_requester(txn, notices, decided, now)
    return decided


def mine(txn: Txn, requester: str, *, limit: int = 50) -> list[FundRequest]:
    """The requester's own requests, newest first."""
    node = nodes.get_node(txn, requester)
    rows = txn.execute(
        _query()
        .where(fund_requests.c.requester_id == node.id)
        .order_by(fund_requests.c.id.desc())
        .limit(max(1, min(limit, 200)))
    )
    return [_request(row) for row in rows]


def expire_due(
    txn: Txn, *, now: datetime, notices: FundNotices, limit: int = 500
) -> list[FundRequest]:
    """Pending requests past their time become ``expired`` (conditionally: a decision
    racing the sweep wins or loses whole); each requester is told. Returns them."""
    rows = txn.execute(
        _query()
        .where(fund_requests.c.state == "pending", fund_requests.c.expires_at <= now)
        .order_by(fund_requests.c.id)
        .limit(limit)
    ).all()
    expired = []
    for row in rows:
        done = txn.execute(
            update(fund_requests)
            .where(fund_requests.c.id == row.id, fund_requests.c.state == "pending")
            .values(state="expired", decided_by="system", decided_at=now)
        ).rowcount
        if done != 1:  # pragma: no cover - decided meanwhile
            continue
        request = get_request(txn, int(row.id))
        outbox.notify(
            txn,
            kind="fund_request.expired",
            subject=request.requester,
            payload={"id": request.id, "amount": request.amount.format(), "ref": request.reference},
            now=now,
        )
        tell_requester(txn, notices, request, now)
        expired.append(request)
    return expired
