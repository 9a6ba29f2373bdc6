"""Customer fault reports: logged through a vendor's terminal, handled by the utility's staff.

A customer reports that something is wrong -- with a meter (named by its number), with the
network (no supply in the street), or unspecified -- and gets a reference number to quote.
:func:`report_fault_once` logs one under its protocol request key, in the transaction that
stores the response, so a re-sent request gets the same reference and logs nothing twice.
Staff list, show and close reports with ``evd fault`` (:mod:`utilities.faults.cli`).

A meter report is accepted whether or not the meter is registered with us: a customer whose
meter number is not found may be reporting exactly that, and a report is no sale. Whether
the registry knows the meter is recorded beside it (``meter_registered``), so staff see at
once which reports are about meters of ours.

Reports are recorded here whatever utility serves the meter's supply group (the embedded
one or an upstream XMLVend server): staff of the operator forward upstream ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row, insert, select, update

from utilities.faults.tables import (
    ADDRESS_LENGTH,
    CONTACT_LENGTH,
    DESCRIPTION_LENGTH,
    FAULT_KINDS,
    MSNO_LENGTH,
    NAME_LENGTH,
    REF_LENGTH,
    RESOLUTION_LENGTH,
    fault_reports,
)
from utilities.registry import find_meter
from utilities.sts import luhn_check_digit
from vending import audit
from vending.auth import Principal
from vending.errors import InvalidRequest, InvalidState, NotFound
from vending.keyring import Keyring
from vending.requests import Claim, Processed, RequestKey, StoredResponse
from vending.storage.database import Txn


class UnknownFaultReport(NotFound):
    """No fault report has this reference number."""

    code = "unknown_fault_report"


# --- reference numbers ---------------------------------------------------------------------------

REF_PREFIX = "FR"
_REF_DIGITS = 7  # zero-padded row id; more digits once there are ten million reports
_REF = re.compile(rf"(?:FR)?(\d{{{_REF_DIGITS + 1},18}})")


def ref_no_for(report_id: int) -> str:
    """The reference of report ``report_id``: ``FR`` + the id zero-padded to 7 digits + a
    Luhn check digit, e.g. ``FR00000018``.

    Why this scheme: the customer reads it from a slip and quotes it over the phone, and
    staff type it into ``evd fault show``; a short, all-digit number (after the fixed
    prefix) is easy to say and type, being the row id it is unique without a lookup, and
    the check digit catches every single mistyped digit and most swapped neighbours before
    the wrong report is looked up. It reveals how many reports were logged, which is no
    secret. At most 20 characters (b:RefNo) for ids below 10^17.
    """
    digits = f"{report_id:0{_REF_DIGITS}d}"
    return f"{REF_PREFIX}{digits}{luhn_check_digit(digits)}"


def parse_ref_no(text: str) -> str:
    """A reference as staff or customers write it (any case, spaces or dashes, with or
    without ``FR``) -> its canonical form; InvalidRequest when it cannot be one of ours."""
    cleaned = re.sub(r"[\s-]", "", text or "").upper()
    found = _REF.fullmatch(cleaned)
    if found is None:
        raise InvalidRequest(f"{text!r} is not a fault reference (FR and 8 or more digits)")
    digits = found.group(1)
    if luhn_check_digit(digits[:-1]) != digits[-1]:
        raise InvalidRequest(f"{text!r} is not a fault reference: its check digit is wrong")
    return REF_PREFIX + digits


def report_id_of(ref_no: str) -> int:
    """The report id in a canonical reference (:func:`parse_ref_no`'s answer)."""
    return int(ref_no[len(REF_PREFIX) : -1])


# --- what is reported ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerDetails:
    """The customer as the report gives them (XMLVend b:CustDetail)."""

    name: str
    address: str
    contact_no: str | None = None
    account_no: str | None = None
    loc_ref: str | None = None


@dataclass(frozen=True)
class FaultReport:
    """One report: ``kind`` is ``meter`` (with ``msno``), ``network`` or ``general``."""

    kind: str
    customer: CustomerDetails
    description: str | None = None
    msno: str | None = None


@dataclass(frozen=True)
class Reporter:
    """Who logged the report: the vendor, its client and terminal, the operator if named."""

    vendor_id: int
    client_id: str
    terminal_id: str
    operator_name: str | None = None

    @classmethod
    def of(cls, principal: Principal, terminal_id: str) -> Reporter:
        return cls(
            vendor_id=principal.vendor_id,
            client_id=principal.client_id,
            terminal_id=terminal_id,
            operator_name=principal.operator_name,
        )


@dataclass(frozen=True)
class FaultRecord:
    """A logged report, as staff see it."""

    id: int
    ref_no: str
    kind: str
    msno: str | None
    meter_registered: bool | None
    customer: CustomerDetails
    description: str | None
    vendor_id: int
    client_id: str
    terminal_id: str
    operator_name: str | None
    request_pk: int
    created_at: datetime
    status: str
    closed_at: datetime | None
    closed_by: str | None
    resolution: str | None


def _text(value: str | None, limit: int, what: str, *, required: bool = False) -> str | None:
    """``value`` stripped (None when blank), refused when longer than the column holds."""
    text = (value or "").strip()
    if not text:
        if required:
            raise InvalidRequest(f"the {what} is required")
        return None
    if len(text) > limit:
        raise InvalidRequest(f"the {what} is {len(text)} characters long; at most {limit}")
    return text


def _checked(report: FaultReport) -> FaultReport:
    """The report with its texts stripped; InvalidRequest for anything that does not fit
    (the XMLVend schema already refuses most of it; other channels may not have one)."""
    if report.kind not in FAULT_KINDS:
        raise InvalidRequest(f"unknown kind of fault report {report.kind!r}")
    msno = _text(report.msno, MSNO_LENGTH, "meter number", required=report.kind == "meter")
    if report.kind != "meter" and msno is not None:
        raise InvalidRequest(f"a {report.kind} fault report names no meter")
    customer = report.customer
    return FaultReport(
        kind=report.kind,
        customer=CustomerDetails(
            name=_text(customer.name, NAME_LENGTH, "customer's name", required=True) or "",
            address=_text(customer.address, ADDRESS_LENGTH, "customer's address") or "",
            contact_no=_text(customer.contact_no, CONTACT_LENGTH, "contact number"),
            account_no=_text(customer.account_no, REF_LENGTH, "account number"),
            loc_ref=_text(customer.loc_ref, REF_LENGTH, "location reference"),
        ),
        description=_text(report.description, DESCRIPTION_LENGTH, "description"),
        msno=msno,
    )


# --- logging a report ----------------------------------------------------------------------------


def log_fault_report(
    txn: Txn, report: FaultReport, reporter: Reporter, *, request_pk: int, now: datetime
) -> FaultRecord:
    """Record ``report`` (logged by ``reporter`` in request ``request_pk``) as open."""
    report = _checked(report)
    registered = None if report.msno is None else find_meter(txn, report.msno) is not None
    customer = report.customer
    row = txn.execute(
        insert(fault_reports)
        .values(
            kind=report.kind,
            msno=report.msno,
            meter_registered=registered,
            customer_name=customer.name,
            customer_address=customer.address,
            contact_no=customer.contact_no,
            account_no=customer.account_no,
            loc_ref=customer.loc_ref,
            description=report.description,
            vendor_id=reporter.vendor_id,
            client_id=reporter.client_id,
            terminal_id=reporter.terminal_id,
            operator_name=reporter.operator_name,
            request_pk=request_pk,
            created_at=now,
            status="open",
        )
        .returning(*fault_reports.c)
    ).one()
    return _record(row)


def report_fault_once(
    txn: Txn,
    keyring: Keyring,
    key: RequestKey,
    principal: Principal,
    report: FaultReport,
    *,
    terminal_id: str,
    render: Callable[[FaultRecord], StoredResponse],
    now: datetime,
) -> Processed:
    """Claim the request key, log the report and store the answer ``render`` makes of it:
    one transaction. A re-sent identical request gets the stored answer (the same
    reference) and logs nothing; bad input rolls everything back, claim included."""

    from vending.services import idempotency

    def log(txn: Txn, claim: Claim) -> FaultRecord:
        reporter = Reporter.of(principal, terminal_id)
        return log_fault_report(txn, report, reporter, request_pk=claim.request_pk, now=now)

    return idempotency.run_once(txn, keyring, key, principal, log, render, now=now)


# --- staff ---------------------------------------------------------------------------------------


def _record(row: Row) -> FaultRecord:
    return FaultRecord(
        id=row.id,
        ref_no=ref_no_for(row.id),
        kind=row.kind,
        msno=row.msno,
        meter_registered=row.meter_registered,
        customer=CustomerDetails(
            name=row.customer_name,
            address=row.customer_address,
            contact_no=row.contact_no,
            account_no=row.account_no,
            loc_ref=row.loc_ref,
        ),
        description=row.description,
        vendor_id=row.vendor_id,
        client_id=row.client_id,
        terminal_id=row.terminal_id,
        operator_name=row.operator_name,
        request_pk=row.request_pk,
        created_at=row.created_at,
        status=row.status,
        closed_at=row.closed_at,
        closed_by=row.closed_by,
        resolution=row.resolution,
    )


def _by_id(txn: Txn, report_id: int) -> FaultRecord:
    return _record(txn.execute(select(fault_reports).where(fault_reports.c.id == report_id)).one())


def get_fault_report(txn: Txn, ref_no: str, *, for_update: bool = False) -> FaultRecord:
    """The report with this reference (written as :func:`parse_ref_no` accepts it)."""
    ref = parse_ref_no(ref_no)
    statement = select(fault_reports).where(fault_reports.c.id == report_id_of(ref))
    if for_update:
        statement = statement.with_for_update()
    row = txn.execute(statement).first()
    if row is None:
        raise UnknownFaultReport(f"there is no fault report {ref}")
    return _record(row)


def list_fault_reports(
    txn: Txn, *, open_only: bool = False, msno: str | None = None, limit: int = 100
) -> list[FaultRecord]:
    """Open reports oldest first (the work queue); all reports newest first."""
    statement = select(fault_reports)
    if open_only:
        statement = statement.where(fault_reports.c.status == "open").order_by(
            fault_reports.c.created_at, fault_reports.c.id
        )
    else:
        statement = statement.order_by(fault_reports.c.id.desc())
    if msno is not None:
        statement = statement.where(fault_reports.c.msno == msno.strip())
    return [_record(row) for row in txn.execute(statement.limit(limit))]


def close_fault_report(
    txn: Txn, ref_no: str, *, resolution: str, actor: str, now: datetime
) -> FaultRecord:
    """Close an open report with how it was resolved; audited. Closing a closed report is
    refused (InvalidState): its resolution stands."""
    text = _text(resolution, RESOLUTION_LENGTH, "resolution", required=True)
    record = get_fault_report(txn, ref_no, for_update=True)
    if record.status != "open":
        raise InvalidState(f"fault report {record.ref_no} is closed already")
    txn.execute(
        update(fault_reports)
        .where(fault_reports.c.id == record.id, fault_reports.c.status == "open")
        .values(status="closed", closed_at=now, closed_by=actor[:64], resolution=text)
    )
    audit.record(
        txn,
        actor=actor,
        action="fault_report_close",
        subject=f"fault_report:{record.ref_no}",
        details={"resolution": text, "kind": record.kind, "msno": record.msno},
        now=now,
    )
    return _by_id(txn, record.id)
