"""Audit records of utility operations that issue tokens without a sale (key changes, free
tokens, engineering tokens): who asked, for which meter, what. Never token digits."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from vending import audit
from vending.storage.database import Txn

if TYPE_CHECKING:
    from utilities.engine import KeyData
    from utilities.interface import RequestContext


def _actor(ctx: RequestContext) -> str:
    principal = ctx.principal
    return f"vendor:{principal.client_id}:{principal.operator_name or '-'}"


def record_key_change(txn: Txn, msno: str, old: KeyData, new: KeyData, *, now: datetime) -> None:
    audit.record(
        txn,
        actor="utility",
        action="meter.key_change",
        subject=msno,
        details={
            "from": f"{old.sgc}/{old.krn}/{old.ti}/{old.base_date}",
            "to": f"{new.sgc}/{new.krn}/{new.ti}/{new.base_date}",
        },
        now=now,
    )


def record_free_token(
    txn: Txn,
    ctx: RequestContext,
    msno: str,
    kind: str,
    units: int,
    details: dict[str, Any],
    *,
    now: datetime,
) -> None:
    audit.record(
        txn,
        actor=_actor(ctx),
        action=f"meter.{kind}",
        subject=msno,
        details={"units": units, **details},
        now=now,
    )


def record_engineering(
    txn: Txn, ctx: RequestContext, msno: str, kind: str, value: int | None, *, now: datetime
) -> None:
    audit.record(
        txn, actor=_actor(ctx), action="meter.engineering", subject=msno,
        details={"kind": kind, "value": value}, now=now,
    )  # fmt: skip
