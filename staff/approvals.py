"""Four-eyes approvals: transaction functions over ``approvals``. The generic service
(``vending.services.approvals.FourEyes``) decides when an action needs one and runs it once
approved; here is only the record and its state machine: pending → approved (then the
action ran: ``result``) or failed (it ran and raised: ``result.error``), or pending →
rejected. The move out of pending is a conditional update, so two approvers cannot both
run the action."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update

from staff.tables import approvals
from vending import audit
from vending.errors import InvalidRequest, NotFound
from vending.money import Money
from vending.storage.database import Txn


class UnknownApproval(NotFound):
    code = "unknown_approval"


class ApprovalDecided(InvalidRequest):
    """The approval was decided already."""

    code = "approval_decided"


@dataclass(frozen=True)
class Approval:
    id: int
    kind: str
    subject: str
    summary: str
    amount: Money | None
    payload: dict[str, Any]
    node_id: int | None
    requested_by_id: int
    requested_by: str
    requested_at: datetime
    state: str
    decided_by: str | None
    decided_at: datetime | None
    note: str
    result: dict[str, Any] | None


def _approval(row: Row) -> Approval:
    amount = None if row.amount is None else Money(int(row.amount), row.currency)
    return Approval(
        int(row.id),
        row.kind,
        row.subject,
        row.summary,
        amount,
        dict(row.payload or {}),
        row.node_id,
        int(row.requested_by_id),
        row.requested_by,
        row.requested_at,
        row.state,
        row.decided_by,
        row.decided_at,
        row.note,
        row.result,
    )


def create(
    txn: Txn,
    *,
    kind: str,
    subject: str,
    summary: str,
    amount: Money | None,
    payload: dict[str, Any],
    node_id: int | None,
    requested_by_id: int,
    requested_by: str,
    now: datetime,
) -> Approval:
    result = txn.execute(
        insert(approvals).values(
            kind=kind[:48],
            subject=subject[:120],
            summary=summary[:200],
            amount=None if amount is None else amount.amount,
            currency=None if amount is None else amount.currency,
            payload=payload,
            node_id=node_id,
            requested_by_id=requested_by_id,
            requested_by=requested_by[:64],
            requested_at=now,
            state="pending",
        )
    )
    approval = get(txn, int(result.inserted_primary_key[0]))
    audit.record(
        txn,
        actor=requested_by,
        action="approval.request",
        subject=f"approval:{approval.id}",
        details={
            "kind": kind,
            "subject": subject,
            "summary": summary,
            "amount": None if amount is None else str(amount),
            "payload": payload,
        },
        now=now,
    )
    return approval


def get(txn: Txn, approval_id: int) -> Approval:
    row = txn.execute(select(approvals).where(approvals.c.id == approval_id)).first()
    if row is None:
        raise UnknownApproval(f"no approval {approval_id}")
    return _approval(row)


def listing(
    txn: Txn,
    *,
    state: str | None = "pending",
    node_ids: set[int] | None = None,
    requested_by_id: int | None = None,
    limit: int = 100,
) -> list[Approval]:
    """Newest first; ``node_ids``: only those a partner may see (requested in its subtree)."""
    query = select(approvals).order_by(approvals.c.id.desc()).limit(limit)
    if state is not None:
        query = query.where(approvals.c.state == state)
    if node_ids is not None:
        query = query.where(approvals.c.node_id.in_(sorted(node_ids)))
    if requested_by_id is not None:
        query = query.where(approvals.c.requested_by_id == requested_by_id)
    return [_approval(row) for row in txn.execute(query)]


def decide(
    txn: Txn, *, approval_id: int, state: str, decided_by: str, note: str, now: datetime
) -> Approval:
    """pending → ``state`` (approved or rejected), once; ApprovalDecided if it was not
    pending any more."""
    assert state in ("approved", "rejected")
    result = txn.execute(
        update(approvals)
        .where(approvals.c.id == approval_id, approvals.c.state == "pending")
        .values(state=state, decided_by=decided_by[:64], decided_at=now, note=note[:200])
    )
    if (result.rowcount or 0) != 1:
        get(txn, approval_id)  # UnknownApproval when there is none
        raise ApprovalDecided(f"approval {approval_id} is not pending")
    approval = get(txn, approval_id)
    audit.record(
        txn,
        actor=decided_by,
        action=f"approval.{'approve' if state == 'approved' else 'reject'}",
        subject=f"approval:{approval_id}",
        details={
            "kind": approval.kind,
            "subject": approval.subject,
            "note": note,
            "requested_by": approval.requested_by,
        },
        now=now,
    )
    return approval


def finish(
    txn: Txn, *, approval_id: int, result: dict[str, Any], failed: bool, now: datetime
) -> None:
    """The approved action's outcome (``failed``: it raised; ``result`` says why)."""
    values: dict[str, Any] = {"result": result}
    if failed:
        values["state"] = "failed"
    txn.execute(update(approvals).where(approvals.c.id == approval_id).values(**values))
    if failed:
        approval = get(txn, approval_id)
        audit.record(
            txn,
            actor="system:four-eyes",
            action="approval.failed",
            subject=f"approval:{approval_id}",
            details={"kind": approval.kind, "error": result.get("error", "")},
            now=now,
        )
