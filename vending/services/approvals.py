"""Four-eyes approval, generic (issue 15 §2/§3): a staff action above a configured amount,
or of a kind configured so, does not run when asked: it becomes a pending approval that a
*different* user holding the kind's permission (and ``approvals.decide``) approves or
rejects; approval runs the action.

Any service registers a kind once, at wiring time::

    four_eyes.register(ApprovalKind(
        name="transaction.reverse",          # also the audit action
        permission="transactions.reverse",   # to ask for it, and (with approvals.decide) to approve
        execute=reverse,                     # async (payload, approver, approval) -> dict
    ))

and asks for the action through :meth:`FourEyes.submit` instead of running it::

    outcome = await four_eyes.submit(actor, "transaction.reverse", subject="sale:42",
                                     summary="reverse sale 42", payload={"sale_id": 42},
                                     amount=Money(10_000, "ZAR"))
    if outcome.pending: ...        # tell the user it waits for approval #outcome.approval.id
    else: outcome.result           # it ran at once (below the threshold)

``execute`` gets the JSON payload as stored, the approving user (or the requester when it
ran at once) and the approval (None when it ran at once); it must re-check everything
itself (the world may have changed while the approval waited) and runs its own
transaction(s) through the application services. Its dict result is kept with the
approval. The approval moves out of ``pending`` before the action runs (one conditional
update), so two approvers can never run it twice; an action that raises leaves the
approval ``failed`` with the error (and nothing half-done, as every service transaction
is atomic). A kind that keeps something for its action while the approval waits (the
stock upload's spooled file) gives ``discard`` (the stored payload -> None): it runs once the
approval is rejected, withdrawn or has failed (a failed approval is final), as nothing will
ever use it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from distribution import nodes
from staff import approvals
from staff.approvals import Approval, ApprovalDecided, UnknownApproval
from staff.users import StaffUser
from vending.errors import InvalidRequest, VendingError
from vending.money import Money
from vending.services.context import Clock, TxnRunner
from vending.services.staff import StaffAccess
from vending.storage.database import Txn

Execute = Callable[[dict[str, Any], StaffUser, Approval | None], Awaitable[dict[str, Any]]]
Discard = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class ApprovalKind:
    name: str
    permission: str
    execute: Execute
    title: str = ""
    # Frees what the waiting action kept (its payload given) once the approval is rejected
    # or withdrawn; None: the kind keeps nothing outside the approval.
    discard: Discard | None = None


@dataclass(frozen=True)
class FourEyesSettings:
    """Above ``threshold`` minor units (any currency) a money action waits for approval;
    the kinds in ``always`` always do; ``thresholds`` overrides the threshold per kind."""

    threshold: int = 100_000
    always: frozenset[str] = frozenset()
    thresholds: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Any) -> FourEyesSettings:
        return cls(
            threshold=config.admin.four_eyes_threshold,
            always=frozenset(config.admin.four_eyes_always),
        )

    def needs_approval(self, kind: str, amount: Money | None) -> bool:
        if kind in self.always:
            return True
        if amount is None:
            return False
        return amount.amount > self.thresholds.get(kind, self.threshold)


@dataclass(frozen=True)
class Outcome:
    """What :meth:`FourEyes.submit` did: ran the action (``result``) or filed ``approval``."""

    approval: Approval | None
    result: dict[str, Any] | None

    @property
    def pending(self) -> bool:
        return self.approval is not None


def _scope_ids(txn: Txn, node_code: str) -> set[int]:
    return {node.id for node in nodes.subtree(txn, node_code)}


def _listing(
    txn: Txn, state: str | None, node_code: str | None, requested_by_id: int | None, limit: int
) -> list[Approval]:
    ids = None if node_code is None else _scope_ids(txn, node_code)
    return approvals.listing(
        txn, state=state, node_ids=ids, requested_by_id=requested_by_id, limit=limit
    )


def _get_in_scope(txn: Txn, approval_id: int, node_code: str | None) -> Approval:
    approval = approvals.get(txn, approval_id)
    if node_code is not None and approval.node_id not in _scope_ids(txn, node_code):
        raise nodes.OutsideSubtree(f"approval {approval_id} is outside your network")
    return approval


class FourEyes:
    def __init__(
        self,
        runner: TxnRunner,
        clock: Clock,
        access: StaffAccess,
        settings: FourEyesSettings | None = None,
    ) -> None:
        self._runner = runner
        self._clock = clock
        self._access = access
        self.settings = settings or FourEyesSettings()
        self.kinds: dict[str, ApprovalKind] = {}

    def register(self, kind: ApprovalKind) -> None:
        if kind.name in self.kinds:
            raise ValueError(f"approval kind {kind.name!r} is registered already")
        self.kinds[kind.name] = kind

    def _kind(self, name: str) -> ApprovalKind:
        try:
            return self.kinds[name]
        except KeyError:
            raise InvalidRequest(f"no approval kind {name!r}") from None

    async def submit(
        self,
        actor: StaffUser,
        kind: str,
        *,
        subject: str,
        summary: str,
        payload: dict[str, Any],
        amount: Money | None = None,
    ) -> Outcome:
        """Run the action now, or file it for approval (see the module docstring)."""
        registered = self._kind(kind)
        await self._access.require(actor, registered.permission, subject)
        if not self.settings.needs_approval(kind, amount):
            return Outcome(None, await registered.execute(payload, actor, None))
        approval = await self._runner.run(
            "approval_create",
            approvals.create,
            kind=kind,
            subject=subject,
            summary=summary,
            amount=amount,
            payload=payload,
            node_id=actor.node_id,
            requested_by_id=actor.id,
            requested_by=actor.actor,
            now=self._clock(),
        )
        return Outcome(approval, None)

    async def pending(
        self,
        actor: StaffUser,
        *,
        state: str | None = "pending",
        mine: bool = False,
        limit: int = 100,
    ) -> list[Approval]:
        """The approvals in the actor's scope (all for staff, its subtree's for a partner),
        or with ``mine`` the ones it asked for. Listing needs no permission (a screen shows
        whether an action already waits); deciding does."""
        return await self._runner.run(
            "approval_list",
            _listing,
            state,
            actor.node_code if actor.is_partner else None,
            actor.id if mine else None,
            min(limit, 500),
        )

    async def get(self, actor: StaffUser, approval_id: int) -> Approval:
        try:
            return await self._runner.run(
                "approval_get",
                _get_in_scope,
                approval_id,
                actor.node_code if actor.is_partner else None,
            )
        except (nodes.OutsideSubtree, UnknownApproval):
            await self._access.deny(
                actor, "approvals.view", f"approval:{approval_id}", "outside your network"
            )
            raise

    async def view(self, actor: StaffUser, approval_id: int) -> Approval:
        """An approval for its page: the requester sees its own, deciders those in scope."""
        approval = await self.get(actor, approval_id)
        if approval.requested_by_id != actor.id:
            await self._access.require(actor, "approvals.decide", f"approval:{approval_id}")
        return approval

    async def _check_decider(self, actor: StaffUser, approval: Approval) -> ApprovalKind:
        registered = self._kind(approval.kind)
        subject = f"approval:{approval.id}"
        await self._access.require(actor, "approvals.decide", subject)
        await self._access.require(actor, registered.permission, subject)
        if approval.requested_by_id == actor.id:
            await self._access.deny(
                actor, "approvals.decide", subject, "the requester cannot approve their own action"
            )
        return registered

    async def approve(self, actor: StaffUser, approval_id: int, note: str = "") -> Approval:
        """Approve and run the action; the approval as it ends (approved with the action's
        result, or failed with its error)."""
        approval = await self.get(actor, approval_id)
        registered = await self._check_decider(actor, approval)
        decided = await self._runner.run(
            "approval_decide",
            approvals.decide,
            approval_id=approval_id,
            state="approved",
            decided_by=actor.actor,
            note=note,
            now=self._clock(),
        )
        try:
            result = await registered.execute(decided.payload, actor, decided)
            failed = False
        except VendingError as exc:
            result, failed = {"error": exc.message, "code": exc.code}, True
        except Exception as exc:  # recorded, then raised: the admin sees a failed approval
            await self._runner.run(
                "approval_finish",
                approvals.finish,
                approval_id=approval_id,
                result={"error": exc.__class__.__name__},
                failed=True,
                now=self._clock(),
            )
            self._discard(decided)
            raise
        await self._runner.run(
            "approval_finish",
            approvals.finish,
            approval_id=approval_id,
            result=result,
            failed=failed,
            now=self._clock(),
        )
        if failed:
            self._discard(decided)
        return await self.get(actor, approval_id)

    async def withdraw(self, actor: StaffUser, approval_id: int, note: str = "") -> Approval:
        """The requester takes back its own pending request (rejected, "withdrawn")."""
        approval = await self.get(actor, approval_id)
        if approval.requested_by_id != actor.id:
            await self._access.deny(
                actor, "approvals.withdraw", f"approval:{approval_id}", "not your request"
            )
        withdrawn = await self._runner.run(
            "approval_withdraw",
            approvals.decide,
            approval_id=approval_id,
            state="rejected",
            decided_by=actor.actor,
            note=f"withdrawn by the requester{': ' + note if note else ''}"[:200],
            now=self._clock(),
        )
        self._discard(withdrawn)
        return withdrawn

    async def reject(self, actor: StaffUser, approval_id: int, note: str = "") -> Approval:
        approval = await self.get(actor, approval_id)
        await self._check_decider(actor, approval)
        rejected = await self._runner.run(
            "approval_decide",
            approvals.decide,
            approval_id=approval_id,
            state="rejected",
            decided_by=actor.actor,
            note=note,
            now=self._clock(),
        )
        self._discard(rejected)
        return rejected

    def _discard(self, ended: Approval) -> None:
        """After the rejection, withdrawal or failure is committed (``approvals.decide``
        raised otherwise: a decided approval is never discarded twice, nor one approved
        meanwhile)."""
        registered = self.kinds.get(ended.kind)
        if registered is not None and registered.discard is not None:
            registered.discard(ended.payload)


__all__ = [
    "Approval",
    "ApprovalDecided",
    "ApprovalKind",
    "FourEyes",
    "FourEyesSettings",
    "Outcome",
    "UnknownApproval",
]
