"""The meter registry: key data, customer, tariff, blocked flag, FBE eligibility, debt and
the per-meter vending state (last TID, month-to-date units, FBE and service charge months).

Meter numbers (DRNs) of 11 or 13 digits carry a Luhn check digit (IEC 62055-41 6.1) and are
checked before anything else; other forms cannot be STS meters of ours.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Row, bindparam, delete, insert, select, update

from utilities.errors import (
    MeterBlocked,
    MeterNumberCheckDigit,
    SGCNotAuthorised,
    UnknownMeter,
)
from utilities.keys import check_sgc, get_key_info
from utilities.sts import meter_number_is_valid
from utilities.tables import (
    TEST_BEHAVIOURS,
    issued_tokens,
    meter_debts,
    meters,
    sgc_vendors,
    tariffs,
)
from utilities.tariffs import get_tariff
from vending import audit, read_cache
from vending.batch_plan import plan_of
from vending.errors import InvalidRequest
from vending.frozen_build import frozen_builder
from vending.money import Money
from vending.storage.database import Txn
from vending.storage.schema import vendors

MSNO_PATTERN = re.compile(r"\d{11}|\d{13}")
TI_PATTERN = re.compile(r"\d{1,2}")


def check_meter_number(msno: str) -> str:
    """Raise MeterNumberCheckDigit for an 11/13-digit number with a wrong Luhn digit and
    UnknownMeter for anything that cannot be an STS meter number."""
    return _checked_number((msno or "").strip())


# Every request for a meter checks its number again (confirm, vend, the meter read after
# it): numbers found good are remembered, bounded (a number is public, not a secret).
@lru_cache(maxsize=16384)
def _checked_number(text: str) -> str:
    if not MSNO_PATTERN.fullmatch(text):
        raise UnknownMeter(f"meter {text!r} is not an 11- or 13-digit STS meter number")
    if not meter_number_is_valid(text):
        raise MeterNumberCheckDigit(f"meter number {text} has a wrong check digit")
    return text


@dataclass(frozen=True)
class MeterRecord:
    """One registered meter and its vending state."""

    id: int
    msno: str
    sgc: str
    krn: int
    ti: str
    key_type: int
    ea: int
    tt: str
    base_date: int
    customer_name: str
    customer_address: str
    account_no: str | None
    contact_no: str | None
    loc_ref: str | None
    tariff_id: int | None
    tariff_code: str | None
    blocked: bool
    fbe_eligible: bool
    last_tid: int | None
    mtd_month: str | None
    mtd_units: int
    fbe_month: str | None
    service_charge_month: str | None
    last_purchase_at: datetime | None
    test_behaviour: str | None
    debt: Money | None
    debt_account_no: str | None = None
    debt_description: str | None = None

    @property
    def at(self) -> str:
        """XMLVend algorithm technology code: the meter's encryption algorithm, "07"/"11"."""
        return f"{self.ea:02d}"

    def month_to_date(self, month: str) -> int:
        return self.mtd_units if self.mtd_month == month else 0


_METER_COLUMNS = (
    meters,
    tariffs.c.code.label("tariff_code"),
    meter_debts.c.balance.label("debt_balance"),
    meter_debts.c.currency.label("debt_currency"),
    meter_debts.c.account_no.label("debt_account_no"),
    meter_debts.c.description.label("debt_description"),
)


def _select_meters():  # type: ignore[no-untyped-def]
    return (
        select(*_METER_COLUMNS)
        .select_from(meters)
        .outerjoin(tariffs, tariffs.c.id == meters.c.tariff_id)
        .outerjoin(meter_debts, meter_debts.c.meter_id == meters.c.id)
    )


# A sale batch builds one record per meter and changes it up to four times per vend (TID,
# purchase bookkeeping, debt): records are made and copied without the frozen dataclass's
# field-by-field __init__ (vending.frozen_build).
_FIELDS = frozenset(f.name for f in fields(MeterRecord))
_PLAIN_FIELDS = tuple(
    f.name for f in fields(MeterRecord) if f.name not in ("blocked", "fbe_eligible", "debt")
)


_made = frozen_builder(MeterRecord)


def with_changes(meter: MeterRecord, **changes: object) -> MeterRecord:
    """``dataclasses.replace(meter, **changes)``, fast (see _FIELDS)."""
    if not changes.keys() <= _FIELDS:
        return replace(meter, **changes)  # raises for the unknown field, as replace does
    return _made({**meter.__dict__, **changes})


def _record(row: Row) -> MeterRecord:
    return record_from_values(dict(zip(row._fields, row, strict=True)))


def records_from_json(found: list[dict[str, Any]]) -> dict[str, MeterRecord]:
    """msno -> record of meter rows as JSON carries them (the sale batch's start,
    ``vending.sale_batch``, reads the batch's meters in the call that locks them):
    ``find_meter``'s columns, the purchase time as ISO text."""
    records = {}
    for values in found:
        at = values.get("last_purchase_at")
        if at is not None:
            values["last_purchase_at"] = datetime.fromisoformat(at).astimezone(UTC)
        record = record_from_values(values)
        records[record.msno] = record
    return records


def record_from_values(found: Mapping[str, Any]) -> MeterRecord:
    """A meter's record from its row's values by column name, as ``find_meter`` selects
    them."""
    values = {name: found[name] for name in _PLAIN_FIELDS}
    balance = found["debt_balance"]
    values["debt"] = None if balance is None else Money(balance, found["debt_currency"])
    values["blocked"] = bool(found["blocked"])
    values["fbe_eligible"] = bool(found["fbe_eligible"])
    return _made(values)


_BY_MSNO = _select_meters().where(meters.c.msno == bindparam("p_msno"))
_LOCK_MSNO = select(meters.c.id).where(meters.c.msno == bindparam("p_msno")).with_for_update()
_BY_MSNOS = _select_meters().where(meters.c.msno.in_(bindparam("p_msnos", expanding=True)))
_SGC_VENDORS = select(sgc_vendors.c.vendor_id).where(sgc_vendors.c.sgc == bindparam("p_sgc"))


def find_meter(txn: Txn, msno: str, *, for_update: bool = False) -> MeterRecord | None:
    """The meter, or None. ``for_update`` locks its row (PostgreSQL; SQLite transactions
    hold the write lock anyway) so that one meter's vends are serialised: TIDs,
    month-to-date units and debt are read and written without races."""
    plan = plan_of(txn)
    if plan is not None and msno in plan.meter_numbers:
        # A sale batch: its meters (locked by the batch) read once, with one statement;
        # each as the batch's earlier sales left it.
        if plan.meters is None:
            rows = txn.execute(_BY_MSNOS, {"p_msnos": sorted(plan.meter_numbers)})
            plan.meters = {row.msno: _record(row) for row in rows}
        return plan.meters.get(msno)
    # PostgreSQL: locked by a statement of its own, then read by the next: one statement
    # that locks the meter and joins its debt reads the debt as it was when it began, also
    # after waiting for another sale of this meter to commit (READ COMMITTED re-reads only
    # the rows it locks; a debt row cannot be locked across the outer join). SQLite has no
    # row locks: its transactions hold the write lock, so the one read is current.
    locking = for_update and txn.is_postgres
    if locking and txn.execute(_LOCK_MSNO, {"p_msno": msno}).first() is None:
        return None
    row = txn.execute(_BY_MSNO, {"p_msno": msno}).first()
    return None if row is None else _record(row)


def get_meter(txn: Txn, msno: str, *, for_update: bool = False) -> MeterRecord:
    """The registered meter; raises MeterNumberCheckDigit or UnknownMeter."""
    number = check_meter_number(msno)
    meter = find_meter(txn, number, for_update=for_update)
    if meter is None:
        raise UnknownMeter(f"meter {number} is not registered")
    return meter


def vendable_meter(txn: Txn, msno: str, *, for_update: bool = True) -> MeterRecord:
    """A registered meter that is not blocked (raises MeterBlocked)."""
    meter = get_meter(txn, msno, for_update=for_update)
    if meter.blocked:
        raise MeterBlocked(f"meter {meter.msno} has been blocked; no transactions are possible")
    return meter


def list_meters(
    txn: Txn, *, sgc: str | None = None, limit: int = 100, offset: int = 0
) -> list[MeterRecord]:
    query = _select_meters().order_by(meters.c.msno).limit(limit).offset(offset)
    if sgc is not None:
        query = query.where(meters.c.sgc == sgc)
    return [_record(row) for row in txn.execute(query)]


# --- registration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MeterSpec:
    """What registering a meter takes. Key type, algorithm and base date default to those
    of the vending key revision (SGC, KRN)."""

    msno: str
    sgc: str
    krn: int
    ti: str = "01"
    tariff: str | None = None
    customer_name: str = ""
    customer_address: str = ""
    account_no: str | None = None
    contact_no: str | None = None
    loc_ref: str | None = None
    key_type: int | None = None
    ea: int | None = None
    tt: str = "02"
    base_date: int | None = None
    blocked: bool = False
    fbe_eligible: bool = False
    debt: Money | None = None
    debt_description: str = "Arrears"
    test_behaviour: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def _normal_ti(ti: str) -> str:
    if not isinstance(ti, str) or not TI_PATTERN.fullmatch(ti.strip()):
        raise InvalidRequest(f"a tariff index is 2 digits, got {ti!r}")
    return ti.strip().zfill(2)


def add_meter(txn: Txn, spec: MeterSpec, *, actor: str = "system", now: datetime) -> MeterRecord:
    number = (spec.msno or "").strip()
    if not MSNO_PATTERN.fullmatch(number):
        raise InvalidRequest(f"meter number {number!r}: STS meter numbers have 11 or 13 digits")
    if not meter_number_is_valid(number):
        raise MeterNumberCheckDigit(f"meter number {number} has a wrong check digit")
    check_sgc(spec.sgc)
    key = get_key_info(txn, spec.sgc, spec.krn)
    if key is None:
        raise InvalidRequest(
            f"no vending key SGC {spec.sgc} KRN {spec.krn}; import it with `evd keys import`"
        )
    ea = key.ea if spec.ea is None else spec.ea
    if ea not in (7, 11) or (ea == 11 and key.dkga != 4):
        raise InvalidRequest(f"EA{ea:02d} does not fit vending key SGC {spec.sgc} KRN {spec.krn}")
    key_type = key.key_type if spec.key_type is None else spec.key_type
    if key_type not in (0, 1, 2, 3):
        raise InvalidRequest("key type must be 0..3")
    base_date = key.base_date if spec.base_date is None else spec.base_date
    if base_date not in (1993, 2014, 2035):
        raise InvalidRequest("base date must be 1993, 2014 or 2035")
    if spec.tt not in ("01", "02"):
        raise InvalidRequest("token carrier type must be 01 (magnetic card) or 02 (numeric)")
    if spec.test_behaviour is not None and spec.test_behaviour not in TEST_BEHAVIOURS:
        raise InvalidRequest(f"test behaviour must be one of {', '.join(TEST_BEHAVIOURS)}")
    tariff_id = None if spec.tariff is None else get_tariff(txn, spec.tariff).id
    if find_meter(txn, number) is not None:
        raise InvalidRequest(f"meter {number} is already registered")
    meter_id = txn.execute(
        insert(meters)
        .values(
            msno=number,
            sgc=spec.sgc,
            krn=spec.krn,
            ti=_normal_ti(spec.ti),
            key_type=key_type,
            ea=ea,
            tt=spec.tt,
            base_date=base_date,
            customer_name=spec.customer_name[:40],
            customer_address=spec.customer_address[:80],
            account_no=spec.account_no or None,
            contact_no=spec.contact_no or None,
            loc_ref=spec.loc_ref or None,
            tariff_id=tariff_id,
            blocked=spec.blocked,
            fbe_eligible=spec.fbe_eligible,
            test_behaviour=spec.test_behaviour,
            created_at=now,
        )
        .returning(meters.c.id)
    ).scalar_one()
    if spec.debt is not None and spec.debt.amount > 0:
        _write_debt(txn, meter_id, spec.debt, spec.debt_description, spec.account_no, now)
    audit.record(
        txn,
        actor=actor,
        action="meter.add",
        subject=number,
        details={"sgc": spec.sgc, "krn": spec.krn, "tariff": spec.tariff},
        now=now,
    )
    return get_meter(txn, number)


def _write_debt(
    txn: Txn,
    meter_id: int,
    amount: Money,
    description: str,
    account_no: str | None,
    now: datetime,
) -> None:
    if amount.amount < 0:
        raise InvalidRequest("a debt cannot be negative")
    txn.execute(delete(meter_debts).where(meter_debts.c.meter_id == meter_id))
    txn.execute(
        insert(meter_debts).values(
            meter_id=meter_id,
            account_no=account_no,
            description=description[:80] or "Arrears",
            balance=amount.amount,
            currency=amount.currency,
            updated_at=now,
        )
    )


def set_debt(
    txn: Txn,
    msno: str,
    amount: Money,
    *,
    description: str = "Arrears",
    actor: str = "system",
    now: datetime,
) -> MeterRecord:
    meter = get_meter(txn, msno, for_update=True)
    _write_debt(txn, meter.id, amount, description, meter.account_no, now)
    audit.record(
        txn,
        actor=actor,
        action="meter.debt",
        subject=meter.msno,
        details={"amount": str(amount)},
        now=now,
    )
    return get_meter(txn, msno)


def reduce_debt(txn: Txn, meter: MeterRecord, recovered: int, *, now: datetime) -> None:
    """Lower a meter's debt (the caller holds the meter's lock)."""
    if recovered <= 0:
        return
    plan = plan_of(txn)
    if plan is not None and plan.meters is not None and meter.msno in plan.meters:
        # The batch's record of the meter owes that much less (the debt row is written
        # here, directly; a later sale of the batch on this meter reads the record).
        cached = plan.meters[meter.msno]
        if cached.debt is not None:
            plan.meters[meter.msno] = with_changes(
                cached, debt=cached.debt - Money(recovered, cached.debt.currency)
            )
    result = txn.execute(
        update(meter_debts)
        .where(meter_debts.c.meter_id == meter.id, meter_debts.c.balance >= recovered)
        .values(balance=meter_debts.c.balance - recovered, updated_at=now)
    )
    if result.rowcount != 1:
        raise AssertionError(f"debt of meter {meter.msno} is lower than {recovered}")


def set_blocked(
    txn: Txn, msno: str, blocked: bool, *, actor: str = "system", now: datetime
) -> MeterRecord:
    meter = get_meter(txn, msno)
    txn.execute(update(meters).where(meters.c.id == meter.id).values(blocked=blocked))
    audit.record(
        txn,
        actor=actor,
        action="meter.block" if blocked else "meter.unblock",
        subject=meter.msno,
        now=now,
    )
    return replace(meter, blocked=blocked)


def assign_tariff(
    txn: Txn, msno: str, tariff_code: str, *, actor: str = "system", now: datetime
) -> MeterRecord:
    meter = get_meter(txn, msno)
    tariff = get_tariff(txn, tariff_code)
    txn.execute(update(meters).where(meters.c.id == meter.id).values(tariff_id=tariff.id))
    audit.record(
        txn,
        actor=actor,
        action="meter.tariff",
        subject=meter.msno,
        details={"tariff": tariff_code},
        now=now,
    )
    return get_meter(txn, msno)


# --- CSV import ------------------------------------------------------------------------------

CSV_COLUMNS = (
    "msno", "sgc", "krn", "ti", "tariff", "customer_name", "customer_address", "account_no",
    "contact_no", "loc_ref", "key_type", "ea", "tt", "base_date", "blocked", "fbe_eligible",
    "debt",
)  # fmt: skip
_REQUIRED = ("msno", "sgc", "krn")
_TRUE = {"1", "true", "yes", "y"}
_FALSE = {"", "0", "false", "no", "n"}


def _flag(value: str, line: int, name: str) -> bool:
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidRequest(f"line {line}: {name} must be true or false, got {value!r}")


def _int_or_none(value: str, line: int, name: str) -> int | None:
    text = value.strip()
    if not text:
        return None
    if not text.isdigit():
        raise InvalidRequest(f"line {line}: {name} must be a number, got {value!r}")
    return int(text)


def parse_meter_csv(text: str, *, currency: str) -> list[MeterSpec]:
    """Meter specs from CSV with a header row (columns: :data:`CSV_COLUMNS`; msno, sgc and
    krn required). Errors name the line; nothing is imported unless every line is good."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise InvalidRequest(f"CSV header lacks {', '.join(missing)}")
    unknown = [c for c in header if c not in CSV_COLUMNS]
    if unknown:
        raise InvalidRequest(f"unknown CSV columns: {', '.join(unknown)}")
    specs = []
    for line, raw in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        krn = _int_or_none(row.get("krn", ""), line, "krn")
        if not row.get("msno") or not row.get("sgc") or krn is None:
            raise InvalidRequest(f"line {line}: msno, sgc and krn are required")
        debt_text = row.get("debt", "")
        try:
            debt = Money.parse(debt_text, currency) if debt_text else None
        except InvalidRequest as exc:
            raise InvalidRequest(f"line {line}: debt: {exc.message}") from None
        specs.append(
            MeterSpec(
                msno=row["msno"],
                sgc=row["sgc"],
                krn=krn,
                ti=row.get("ti") or "01",
                tariff=row.get("tariff") or None,
                customer_name=row.get("customer_name", ""),
                customer_address=row.get("customer_address", ""),
                account_no=row.get("account_no") or None,
                contact_no=row.get("contact_no") or None,
                loc_ref=row.get("loc_ref") or None,
                key_type=_int_or_none(row.get("key_type", ""), line, "key_type"),
                ea=_int_or_none(row.get("ea", ""), line, "ea"),
                tt=row.get("tt") or "02",
                base_date=_int_or_none(row.get("base_date", ""), line, "base_date"),
                blocked=_flag(row.get("blocked", ""), line, "blocked"),
                fbe_eligible=_flag(row.get("fbe_eligible", ""), line, "fbe_eligible"),
                debt=debt,
            )
        )
    return specs


def import_meters(
    txn: Txn, specs: Iterable[MeterSpec], *, actor: str = "system", now: datetime
) -> int:
    """Register every meter of ``specs`` in one transaction: all or nothing."""
    count = 0
    for index, spec in enumerate(specs, start=1):
        try:
            add_meter(txn, spec, actor=actor, now=now)
        except InvalidRequest as exc:
            raise type(exc)(f"meter {index} ({spec.msno}): {exc.message}") from None
        count += 1
    return count


# --- supply group authorisation ----------------------------------------------------------------


def authorise_vendor(
    txn: Txn, sgc: str, client_id: str, *, actor: str = "system", now: datetime
) -> None:
    """Restrict ``sgc`` to listed vendors and add ``client_id`` to them."""
    check_sgc(sgc)
    vendor_id = txn.execute(select(vendors.c.id).where(vendors.c.client_id == client_id)).scalar()
    if vendor_id is None:
        raise InvalidRequest(f"no vendor {client_id!r}")
    exists = txn.execute(
        select(sgc_vendors.c.sgc).where(
            sgc_vendors.c.sgc == sgc, sgc_vendors.c.vendor_id == vendor_id
        )
    ).first()
    if exists is None:
        txn.execute(insert(sgc_vendors).values(sgc=sgc, vendor_id=vendor_id))
        txn.call_after(read_cache.invalidate)
        audit.record(
            txn, actor=actor, action="sgc.authorise", subject=f"{sgc}/{client_id}", now=now
        )


def check_vendor_may_sell(txn: Txn, vendor_id: int, sgc: str) -> None:
    """SGCNotAuthorised when ``sgc`` is restricted to other vendors."""

    def read() -> frozenset[int]:
        return frozenset(row.vendor_id for row in txn.execute(_SGC_VENDORS, {"p_sgc": sgc}))

    if read_cache.in_batch(txn):  # a sale batch: configuration from the per-process cache
        allowed = read_cache.cached(txn, ("sgc_vendors", sgc), read)
    else:
        allowed = read()
    if allowed and vendor_id not in allowed:
        raise SGCNotAuthorised(f"this vendor may not sell for supply group {sgc}")


# --- what sales record on the meter (the embedded backend) ---------------------------------------

_RECORD_ON_METER = update(meters).where(meters.c.id == bindparam("p_id"))


def record_on_meter(txn: Txn, meter_id: int, **values: object) -> None:
    """Update a meter's purchase bookkeeping (month-to-date units, last purchase, the month
    its FBE or service charge was issued)."""
    plan = plan_of(txn)
    if plan is not None and plan.meters is not None:
        msno = next((m.msno for m in plan.meters.values() if m.id == meter_id), None)
        if msno is not None:  # a sale batch: written with its one UPDATE of meters
            at = values.get("last_purchase_at")
            if isinstance(at, datetime):
                values = {**values, "last_purchase_at": at.astimezone(UTC)}
            plan.meters[msno] = with_changes(plan.meters[msno], **values)
            plan.meters_recorded[meter_id] = msno
            return
    txn.execute(_RECORD_ON_METER, {"p_id": meter_id, **values})


def issued_token(txn: Txn, meter_id: int, digest: bytes) -> Row | None:
    """The latest token issued to a meter with this hash (verifyReq), or None."""
    return txn.execute(
        select(issued_tokens)
        .where(issued_tokens.c.meter_id == meter_id, issued_tokens.c.token_hash == digest)
        .order_by(issued_tokens.c.id.desc())
    ).first()
