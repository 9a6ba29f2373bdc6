"""Tariffs (flat or block/step, VAT, monthly service charge, debt recovery share, FBE) and
their storage. The arithmetic lives in :mod:`utilities.billing`.

Rates are entered as a decimal price per kWh excluding VAT (``"2.4567"`` ZAR/kWh) and kept
exactly as minor units per MWh; block limits are entered in kWh of month-to-date
consumption and kept as 0.1 kWh units.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import Row, bindparam, insert, select

from utilities.billing import BP, Block, TariffTerms, check_blocks
from utilities.tables import tariff_blocks, tariffs
from vending import audit, read_cache
from vending.errors import InvalidRequest
from vending.money import Money, currency_exponent
from vending.storage.database import Txn

TARIFF_CODE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,31}")
_MWH_PER_KWH = 1000


def rate_from_text(text: str, currency: str) -> int:
    """Minor units per MWh from a decimal price per kWh (exact, or refused)."""
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        raise InvalidRequest(f"not a price per kWh: {text!r}") from None
    if not value.is_finite() or value <= 0:
        raise InvalidRequest(f"a price per kWh must be positive, got {text!r}")
    per_mwh = value * _MWH_PER_KWH * 10 ** currency_exponent(currency)
    if per_mwh != per_mwh.to_integral_value():
        raise InvalidRequest(
            f"price {text} per kWh is more precise than 1/1000 of a minor unit of {currency}"
        )
    return int(per_mwh)


def rate_to_text(rate: int, currency: str) -> str:
    """Price per kWh (major units) of a rate in minor units per MWh."""
    value = Decimal(rate).scaleb(-currency_exponent(currency)) / _MWH_PER_KWH
    return format(value.normalize(), "f")


def units_from_kwh(text: str | Decimal) -> int:
    """Whole 0.1 kWh units of a kWh quantity given with at most one decimal."""
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        raise InvalidRequest(f"not a kWh quantity: {text!r}") from None
    units = value * 10
    if not value.is_finite() or value < 0 or units != units.to_integral_value():
        raise InvalidRequest(f"kWh quantities are non-negative with one decimal, got {text!r}")
    return int(units)


def percent_to_bp(text: str) -> int:
    """Basis points of a percentage given with at most two decimals ("15", "12.5")."""
    try:
        value = Decimal(str(text).strip()) * 100
    except InvalidOperation:
        raise InvalidRequest(f"not a percentage: {text!r}") from None
    if not value.is_finite() or value != value.to_integral_value() or not 0 <= value <= BP:
        raise InvalidRequest(f"a percentage is 0..100 with at most 2 decimals, got {text!r}")
    return int(value)


@dataclass(frozen=True)
class Tariff:
    id: int
    terms: TariffTerms

    @property
    def code(self) -> str:
        return self.terms.code


def add_tariff(
    txn: Txn,
    *,
    code: str,
    name: str,
    currency: str,
    vat_rate_bp: int,
    blocks: tuple[Block, ...],
    service_charge: Money | None = None,
    debt_recovery_bp: int = 0,
    fbe_units: int = 0,
    actor: str = "system",
    now: datetime,
) -> Tariff:
    if not TARIFF_CODE_PATTERN.fullmatch(code):
        raise InvalidRequest(f"tariff code {code!r}: 1-32 letters, digits, '_', '.', ':' or '-'")
    currency_exponent(currency)
    service = service_charge or Money.zero(currency)
    if service.currency != currency:
        raise InvalidRequest(f"the service charge must be in {currency}")
    terms = TariffTerms(
        code=code,
        name=name,
        currency=currency,
        vat_rate_bp=vat_rate_bp,
        blocks=tuple(blocks),
        service_charge=service.amount,
        debt_recovery_bp=debt_recovery_bp,
        fbe_units=fbe_units,
    )  # validates
    check_blocks(terms.blocks)
    if txn.execute(select(tariffs.c.id).where(tariffs.c.code == code)).first():
        raise InvalidRequest(f"tariff {code!r} already exists")
    tariff_id = txn.execute(
        insert(tariffs)
        .values(
            code=code,
            name=name[:80],
            currency=currency,
            vat_rate_bp=vat_rate_bp,
            service_charge=service.amount,
            debt_recovery_bp=debt_recovery_bp,
            fbe_units=fbe_units,
            created_at=now,
        )
        .returning(tariffs.c.id)
    ).scalar_one()
    txn.execute(
        insert(tariff_blocks),
        [
            {"tariff_id": tariff_id, "seq": seq, "up_to_units": b.up_to_units, "rate": b.rate}
            for seq, b in enumerate(terms.blocks)
        ],
    )
    txn.call_after(read_cache.invalidate)
    audit.record(
        txn,
        actor=actor,
        action="tariff.add",
        subject=code,
        details={"blocks": len(blocks), "vat_rate_bp": vat_rate_bp},
        now=now,
    )
    return Tariff(tariff_id, terms)


_BLOCKS = (
    select(tariff_blocks.c.up_to_units, tariff_blocks.c.rate)
    .where(tariff_blocks.c.tariff_id == bindparam("p_tariff"))
    .order_by(tariff_blocks.c.seq)
)
_BY_ID = select(tariffs).where(tariffs.c.id == bindparam("p_key"))
_BY_CODE = select(tariffs).where(tariffs.c.code == bindparam("p_key"))


def _terms(txn: Txn, row: Row) -> Tariff:
    blocks = tuple(Block(b.up_to_units, b.rate) for b in txn.execute(_BLOCKS, {"p_tariff": row.id}))
    return Tariff(
        row.id,
        TariffTerms(
            code=row.code,
            name=row.name,
            currency=row.currency,
            vat_rate_bp=row.vat_rate_bp,
            blocks=blocks,
            service_charge=row.service_charge,
            debt_recovery_bp=row.debt_recovery_bp,
            fbe_units=row.fbe_units,
        ),
    )


def get_tariff(txn: Txn, tariff: int | str) -> Tariff:
    if read_cache.in_batch(txn):  # a sale batch: configuration from the per-process cache
        return read_cache.cached(txn, ("tariff", tariff), lambda: _read_tariff(txn, tariff))
    return _read_tariff(txn, tariff)


def _read_tariff(txn: Txn, tariff: int | str) -> Tariff:
    statement = _BY_ID if isinstance(tariff, int) else _BY_CODE
    row = txn.execute(statement, {"p_key": tariff}).first()
    if row is None:
        raise InvalidRequest(f"no tariff {tariff!r}")
    return _terms(txn, row)


def list_tariffs(txn: Txn) -> list[Tariff]:
    return [_terms(txn, row) for row in txn.execute(select(tariffs).order_by(tariffs.c.code))]
