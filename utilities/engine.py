"""Issuing STS tokens for registered meters, inside the caller's transaction.

This is the only module that decrypts vending keys (``SealedVendingKey.open`` of
:mod:`utilities.keys`); decoder keys are derived, used and dropped within one call and never
returned.

TIDs: every TID-bearing token a meter gets has a TID above every earlier one
(``meters.last_tid``): the minute of issue, or the last TID + 1 when that is not larger
(several tokens in one minute, sts.md §1.4). The update is a single atomic statement, and
vends lock the meter row first, so concurrent vends for one meter get distinct TIDs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, case, insert, update

from utilities.errors import KeyRevisionExpired, MeterDataInvalid
from utilities.keys import sealed_current_key, sealed_key
from utilities.registry import MeterRecord, with_changes
from utilities.sts import (
    MeterKeyData,
    StsError,
    TidRangeError,
    Token,
    clear_credit_token,
    clear_tamper_token,
    credit_token,
    key_change_tokens,
    max_phase_power_unbalance_limit_token,
    max_power_limit_token,
    meter_key_data,
    tid_from_datetime,
    water_meter_factor_token,
)
from utilities.sts.dkga import derive_key
from utilities.sts.tid import MAX_TID
from utilities.tables import issued_tokens, meters
from vending.batch_plan import plan_of
from vending.keyring import Keyring
from vending.storage.database import Txn


@dataclass(frozen=True)
class KeyData:
    """The key data a meter holds: what its decoder key is derived from."""

    sgc: str
    krn: int
    ti: str
    key_type: int
    ea: int
    base_date: int

    @classmethod
    def of(cls, meter: MeterRecord) -> KeyData:
        return cls(meter.sgc, meter.krn, meter.ti, meter.key_type, meter.ea, meter.base_date)


def token_hash(digits: str) -> str:
    """How issued tokens are found again (verifyReq) without keeping their digits."""
    return hashlib.sha256(b"evd-sts-token:" + digits.encode("ascii")).hexdigest()


# Prebuilt: compiled once per process (the vend path runs them on every sale).
_ALLOCATE_TIDS = (
    update(meters)
    .where(meters.c.id == bindparam("p_id"))
    .values(
        last_tid=case(
            (meters.c.last_tid >= bindparam("p_now"), meters.c.last_tid + bindparam("p_count")),
            else_=bindparam("p_first"),
        )
    )
    .returning(meters.c.last_tid)
)
_RECORD_TOKEN = insert(issued_tokens)


@lru_cache(maxsize=16384)
def _meter_key_data(
    msno: str, key_type: int, sgc: str, ti: str, krn: int, base_date: int, ea: int
) -> MeterKeyData:
    """A meter's checked key data (PAN, key type, SGC, TI, KRN): no key material, so kept
    (bounded) instead of being parsed and checked again for every token of the meter."""
    return meter_key_data(
        drn=msno, key_type=key_type, sgc=sgc, tariff_index=ti, krn=krn, base_date=base_date, ea=ea
    )


class TokenEngine:
    """Decoder keys, TIDs and tokens for registered meters (transaction scoped calls)."""

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring

    # --- keys -------------------------------------------------------------------------------

    def _decoder_key(self, txn: Txn, msno: str, key: KeyData) -> bytes:
        sealed = sealed_key(txn, key.sgc, key.krn)
        if sealed is None:
            raise MeterDataInvalid(f"no vending key for SGC {key.sgc} KRN {key.krn}")
        info = sealed.info
        vending_key = sealed.open(txn, self._keyring)
        try:
            meter_data = _meter_key_data(
                msno, key.key_type, key.sgc, key.ti, key.krn, info.base_date, key.ea
            )
            return derive_key(vending_key, meter_data, dkga=info.dkga)
        except StsError as exc:
            raise MeterDataInvalid(f"meter {msno}: {exc}") from None

    def target_key(self, txn: Txn, meter: MeterRecord) -> KeyData:
        """The key data the meter should hold: its supply group's current revision."""
        sealed = sealed_current_key(txn, meter.sgc)
        current = None if sealed is None else sealed.info
        if current is None:
            raise KeyRevisionExpired(f"supply group {meter.sgc} has no current vending key")
        if current.ea != meter.ea:
            raise MeterDataInvalid(
                f"the current key of SGC {meter.sgc} is for EA{current.ea:02d} meters, "
                f"meter {meter.msno} uses EA{meter.ea:02d}"
            )
        return KeyData(
            meter.sgc, current.krn, meter.ti, current.key_type, meter.ea, current.base_date
        )

    # --- TIDs -------------------------------------------------------------------------------

    def allocate_tids(
        self, txn: Txn, meter: MeterRecord, base_date: int, now: datetime, count: int = 1
    ) -> list[int]:
        """``count`` consecutive fresh TIDs for ``meter`` on ``base_date``."""
        try:
            now_tid = tid_from_datetime(now, base_date)
        except TidRangeError:
            raise KeyRevisionExpired(
                f"meter {meter.msno}: the {base_date} TID base date is exhausted; a key change "
                "to a later base date (TID roll-over) is required"
            ) from None
        plan = plan_of(txn)
        if plan is not None and meter.id in plan.meter_tids:
            # Locked and read by the sale batch: numbered in arrival order, written once.
            before = plan.meter_tids[meter.id]
            fresh = before is None or before < now_tid  # as the SQL CASE (NULL: fresh)
            last = now_tid + count - 1 if fresh else before + count
            plan.meter_tids[meter.id] = last
            if plan.meters is not None and meter.msno in plan.meters:
                # As a later sale of the batch on this meter would read the row.
                plan.meters[meter.msno] = with_changes(plan.meters[meter.msno], last_tid=last)
        else:
            last = txn.execute(
                _ALLOCATE_TIDS,
                {
                    "p_id": meter.id,
                    "p_now": now_tid,
                    "p_count": count,
                    "p_first": now_tid + count - 1,
                },
            ).scalar_one()
        if last > MAX_TID:
            raise KeyRevisionExpired(
                f"meter {meter.msno}: no TID left on the {base_date} base date; a TID "
                "roll-over key change is required"
            )
        return list(range(last - count + 1, last + 1))

    # --- tokens -----------------------------------------------------------------------------

    def credit(self, txn: Txn, meter: MeterRecord, key: KeyData, units: int, tid: int) -> Token:
        """An electricity credit token of ``units`` (0.1 kWh, rounded up by the coding)."""
        decoder_key = self._decoder_key(txn, meter.msno, key)
        try:
            return credit_token(decoder_key, units=units, tid=tid, base_date=key.base_date)
        except OverflowError:
            raise MeterDataInvalid(f"{units} units do not fit in one STS token") from None

    def key_change(
        self, txn: Txn, meter: MeterRecord, old: KeyData, new: KeyData
    ) -> Sequence[Token]:
        """The key change set from ``old`` to ``new`` (2 tokens STA, 4 MISTY1), encrypted
        under the old key. A later TID base date sets RO: the meter clears its TID memory."""
        if new.base_date < old.base_date:
            raise MeterDataInvalid("a key change cannot move a meter to an earlier base date")
        sealed = sealed_key(txn, new.sgc, new.krn)
        assert sealed is not None
        info = sealed.info
        old_key = self._decoder_key(txn, meter.msno, old)
        new_key = self._decoder_key(txn, meter.msno, new)
        return key_change_tokens(
            old_key,
            new_key,
            key_type=new.key_type,
            krn=new.krn,
            tariff_index=new.ti,
            ken=info.ken,
            rollover=new.base_date > old.base_date,
            sgc=new.sgc,
        )

    def management(
        self, txn: Txn, meter: MeterRecord, key: KeyData, kind: str, value: int, tid: int
    ) -> Token:
        """A class 2 register token: power_limit / phase_unbalance (watts), clear_credit
        (register, 0xFFFF all), clear_tamper, water_factor (16-bit factor)."""
        decoder_key = self._decoder_key(txn, meter.msno, key)
        common: dict[str, Any] = {"tid": tid, "base_date": key.base_date}
        try:
            if kind == "power_limit":
                return max_power_limit_token(decoder_key, watts=value, **common)
            if kind == "phase_unbalance":
                return max_phase_power_unbalance_limit_token(decoder_key, watts=value, **common)
            if kind == "clear_credit":
                return clear_credit_token(decoder_key, register=value, **common)
            if kind == "clear_tamper":
                return clear_tamper_token(decoder_key, **common)
            if kind == "water_factor":
                return water_meter_factor_token(decoder_key, factor=value, **common)
        except (ValueError, OverflowError) as exc:
            raise MeterDataInvalid(f"{kind}: {exc}") from None
        raise ValueError(f"unknown management token kind {kind!r}")

    # --- bookkeeping ------------------------------------------------------------------------

    @staticmethod
    def apply_key_change(txn: Txn, meter: MeterRecord, old: KeyData, new: KeyData) -> None:
        """Record that the meter now holds ``new``; after a roll-over its TIDs start again."""
        values: dict[str, Any] = {
            "sgc": new.sgc,
            "krn": new.krn,
            "ti": new.ti,
            "key_type": new.key_type,
            "base_date": new.base_date,
        }
        if new.base_date != old.base_date:
            values["last_tid"] = None
        txn.execute(update(meters).where(meters.c.id == meter.id).values(**values))
        plan = plan_of(txn)
        if plan is not None:  # the sale batch's view of the meter follows the key change
            if "last_tid" in values and meter.id in plan.meter_tids:
                plan.meter_tids[meter.id] = None  # type: ignore[assignment]
            if plan.meters is not None and meter.msno in plan.meters:
                plan.meters[meter.msno] = with_changes(plan.meters[meter.msno], **values)

    @staticmethod
    def record(
        txn: Txn,
        meter: MeterRecord,
        token: Token,
        kind: str,
        now: datetime,
        *,
        request_pk: int | None = None,
        sale_id: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        row = {
            "meter_id": meter.id,
            "token_hash": token_hash(token.digits),
            "kind": kind,
            "token_class": token.token_class,
            "subclass": token.subclass,
            "tid": token.tid,
            "base_date": token.base_date,
            "amount": token.units,
            "request_pk": request_pk,
            "sale_id": sale_id,
            "details": details or {},
            "issued_at": now,
        }
        plan = plan_of(txn)
        if plan is not None and sale_id is not None:  # the batch's one INSERT
            plan.insert(issued_tokens, row)
        else:
            txn.execute(_RECORD_TOKEN, row)
