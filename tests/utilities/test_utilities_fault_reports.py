"""Customer fault reports in the core (utilities.faults), on SQLite and PostgreSQL: logged
once per request key, the meter's registration recorded, bad input refused with nothing
written, reference numbers with a check digit, and closing (audited, once)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from utilities_support import NOW, World

from utilities.faults.reports import (
    CustomerDetails,
    FaultReport,
    UnknownFaultReport,
    close_fault_report,
    get_fault_report,
    list_fault_reports,
    parse_ref_no,
    ref_no_for,
    report_fault_once,
)
from utilities.faults.tables import fault_reports
from vending.errors import IdempotencyConflict, InvalidRequest, InvalidState
from vending.requests import RequestKey, StoredResponse
from vending.storage.schema import audit_log, requests

NORMAL_METER = "04100000019"
UNKNOWN_METER = "04100000043"  # a valid meter number nobody registered
CUSTOMER = CustomerDetails(
    name="J Smith", address="3 Erf Road", contact_no="0821234567", loc_ref="ERF12"
)


def _key(request_id: str, fingerprint: bytes | None = None) -> RequestKey:
    return RequestKey(
        channel="xmlvend",
        client_id="6004708000090",
        request_id=request_id,
        operation="custReportFault",
        fingerprint=fingerprint or hashlib.sha256(request_id.encode()).digest(),
    )


def _report(world: World, report: FaultReport, request_id: str, **key: bytes):  # type: ignore[no-untyped-def]
    def render(record):  # type: ignore[no-untyped-def]
        return StoredResponse(f"logged {record.ref_no}".encode(), 200)

    return world.database.run_txn(
        "test_report_fault",
        report_fault_once,
        world.keyring,
        _key(request_id, **key),
        world.cafe,
        report,
        terminal_id="T7",
        render=render,
        now=NOW,
    )


def _count(world: World, table) -> int:  # type: ignore[no-untyped-def]
    return world.database.run_txn(
        "test_count", lambda txn: txn.execute(select(func.count()).select_from(table)).scalar_one()
    )


def test_reference_numbers_carry_a_check_digit() -> None:
    assert ref_no_for(1) == "FR00000018"
    assert ref_no_for(1234567) == "FR12345674"
    assert len(ref_no_for(10**17 - 1)) == 20  # b:RefNo is at most 20 characters
    assert parse_ref_no("fr 0000-0018") == "FR00000018"
    assert parse_ref_no("00000018") == "FR00000018"
    for bad in ("FR00000019", "FR00000081", "FR1", "X00000018", ""):
        with pytest.raises(InvalidRequest):
            parse_ref_no(bad)


def test_a_meter_report_is_logged_with_the_meter_registration(world: World) -> None:
    known = _report(world, FaultReport("meter", CUSTOMER, "Display blank", NORMAL_METER), "r1")
    unknown = _report(world, FaultReport("meter", CUSTOMER, None, UNKNOWN_METER), "r2")
    assert known.response.body == b"logged FR00000018" and not known.replayed
    assert unknown.response.body == b"logged FR00000026"

    first = world.database.run_txn("show", get_fault_report, "FR00000018")
    assert (first.kind, first.msno, first.meter_registered) == ("meter", NORMAL_METER, True)
    assert first.customer == CUSTOMER
    assert first.description == "Display blank"
    assert (first.client_id, first.terminal_id, first.vendor_id) == (
        "6004708000090",
        "T7",
        world.cafe.vendor_id,
    )
    assert (first.status, first.created_at, first.closed_at) == ("open", NOW, None)
    second = world.database.run_txn("show", get_fault_report, "FR00000026")
    assert (second.msno, second.meter_registered, second.description) == (
        UNKNOWN_METER,
        False,
        None,
    )
    # The report points at the request it came in.
    request_ids = world.database.run_txn(
        "keys",
        lambda txn: (
            txn.execute(
                select(requests.c.request_id)
                .join(fault_reports, fault_reports.c.request_pk == requests.c.id)
                .order_by(fault_reports.c.id)
            )
            .scalars()
            .all()
        ),
    )
    assert request_ids == ["r1", "r2"]


def test_network_and_general_reports_name_no_meter(world: World) -> None:
    _report(world, FaultReport("network", CUSTOMER, "No supply in the street"), "n1")
    _report(world, FaultReport("general", CustomerDetails(name=" A N Other ", address="")), "g1")
    records = world.database.run_txn("list", list_fault_reports)
    assert [(r.kind, r.msno, r.meter_registered) for r in records] == [
        ("general", None, None),
        ("network", None, None),
    ]
    assert records[0].customer == CustomerDetails(name="A N Other", address="")


def test_the_same_request_logs_once(world: World) -> None:
    report = FaultReport("meter", CUSTOMER, "Display blank", NORMAL_METER)
    first = _report(world, report, "same")
    again = _report(world, report, "same")
    assert again.replayed and again.response == first.response
    assert _count(world, fault_reports) == 1
    with pytest.raises(IdempotencyConflict):
        _report(world, report, "same", fingerprint=b"\x01" * 32)
    assert _count(world, fault_reports) == 1


@pytest.mark.parametrize(
    "report",
    [
        FaultReport("meter", CUSTOMER, "x" * 161, NORMAL_METER),  # description too long
        FaultReport("meter", CUSTOMER, "no meter"),  # a meter report without its meter
        FaultReport("network", CUSTOMER, None, NORMAL_METER),  # a network report with one
        FaultReport("network", CustomerDetails(name="   ", address="x")),  # no name
        FaultReport("network", CustomerDetails(name="J", address="a" * 81)),
        FaultReport("leak", CUSTOMER),
    ],
    ids=["long-desc", "meter-without-msno", "network-with-msno", "blank-name", "long-address",
         "unknown-kind"],
)  # fmt: skip
def test_bad_input_is_refused_and_nothing_is_written(world: World, report: FaultReport) -> None:
    requests_before = _count(world, requests)
    with pytest.raises(InvalidRequest):
        _report(world, report, "bad")
    assert _count(world, fault_reports) == 0
    assert _count(world, requests) == requests_before  # the claim rolled back too


def test_open_reports_are_listed_oldest_first_and_closed_once(world: World) -> None:
    for n in range(3):
        _report(world, FaultReport("network", CUSTOMER, f"report {n}"), f"q{n}")
    refs = [ref_no_for(n) for n in (1, 2, 3)]
    later = NOW + timedelta(hours=2)
    closed = world.database.run_txn(
        "close", close_fault_report, refs[1], resolution=" Cable repaired ", actor="cli:alice",
        now=later,
    )  # fmt: skip
    assert (closed.status, closed.closed_at, closed.closed_by, closed.resolution) == (
        "closed",
        later,
        "cli:alice",
        "Cable repaired",
    )
    open_now = world.database.run_txn("list", list_fault_reports, open_only=True)
    assert [r.ref_no for r in open_now] == [refs[0], refs[2]]
    everything = world.database.run_txn("list", list_fault_reports)
    assert [r.ref_no for r in everything] == list(reversed(refs))

    with pytest.raises(InvalidState):
        world.database.run_txn(
            "close", close_fault_report, refs[1], resolution="again", actor="cli:bob", now=later
        )
    with pytest.raises(InvalidRequest):
        world.database.run_txn(
            "close", close_fault_report, refs[0], resolution="  ", actor="cli:bob", now=later
        )
    with pytest.raises(UnknownFaultReport):
        world.database.run_txn("show", get_fault_report, ref_no_for(99))

    audits = world.database.run_txn(
        "audit",
        lambda txn: txn.execute(
            select(audit_log.c.actor, audit_log.c.subject, audit_log.c.details).where(
                audit_log.c.action == "fault_report_close"
            )
        ).all(),
    )
    assert [(a.actor, a.subject, a.details["resolution"]) for a in audits] == [
        ("cli:alice", f"fault_report:{refs[1]}", "Cable repaired")
    ]


def test_the_database_refuses_an_inconsistent_row(world: World) -> None:
    _report(world, FaultReport("network", CUSTOMER), "c1")

    def half_close(txn):  # type: ignore[no-untyped-def]
        txn.execute(fault_reports.update().values(status="closed"))

    with pytest.raises(Exception, match=r"(?i)check|constraint"):
        world.database.run_txn("half_close", half_close)
    assert world.database.run_txn("show", get_fault_report, ref_no_for(1)).status == "open"
