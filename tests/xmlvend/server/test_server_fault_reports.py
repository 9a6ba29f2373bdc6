"""custReportFaultReq end to end through the server, on SQLite and PostgreSQL: a golden
round trip (a hand-written request in default namespaces, the exact response bytes, every
response checked against the strict schema by the test client), the report recorded with
its reporter and request key, replay of the same msgID, and bad input answered with the
right fault and nothing written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from server_support import CAFE, NORMAL_METER, UNKNOWN_METER, World, advice, vend_id, with_msg_id
from sqlalchemy import func, select

from utilities.faults.reports import ref_no_for
from utilities.faults.tables import fault_reports
from vending.storage.schema import requests
from xmlvend.codec import SoapFault, render_request
from xmlvend.codec import types_base as b
from xmlvend.codec import types_meter as m

GOLDEN = Path(__file__).resolve().parents[2] / "data" / "xmlvend-server"
UPDATE = os.environ.get("EVD_UPDATE_GOLDEN") == "1"

CUSTOMER = b.CustDetail(name="J Smith", address="3 Erf Road", contact_no="0821234567")


def golden_file(name: str, body: bytes) -> None:
    path = GOLDEN / f"{name}.xml"
    if UPDATE:
        path.write_bytes(body)
    assert body == path.read_bytes(), f"response differs from {path.name}"


def meter_fault(world: World, msno: str = NORMAL_METER, desc: str | None = "Display blank", **h):  # type: ignore[no-untyped-def]
    return m.CustReportFaultReq(
        header=world.header(**h),
        cust_detail=CUSTOMER,
        cust_fault_report=m.MeterFaultReport(desc=desc, meter_info=vend_id(msno)),
    )


def rows(world: World) -> list:  # type: ignore[type-arg]
    return world.database.run_txn(
        "test_fault_rows",
        lambda txn: txn.execute(select(fault_reports).order_by(fault_reports.c.id)).all(),
    )


def request_count(world: World) -> int:
    return world.database.run_txn(
        "test_requests",
        lambda txn: txn.execute(select(func.count()).select_from(requests)).scalar_one(),
    )


def test_golden_round_trip(world: World) -> None:
    request = (GOLDEN / "cust-report-fault-request.xml").read_bytes()
    response = world.post(request)
    assert response.status == 200, response.body
    golden_file("cust-report-fault", response.body)
    log = response.parsed().cust_fault_log
    assert log.ref_no == "FR00000018"
    assert log.cust_detail == b.CustDetail(
        name="Thandi Mokoena",
        address="12 Erf Road, Soweto",
        contact_no="0821234567",
        loc_ref="ERF1234",
    )
    assert log.fault_report == m.MeterFaultReport(
        desc="Meter display is blank since the storm",
        meter_info=b.VendIDMethod(meter_identifier=b.MeterNumber(msno=NORMAL_METER)),
    )
    (row,) = rows(world)
    assert (ref_no_for(row.id), row.kind, row.msno, row.meter_registered, row.status) == (
        "FR00000018",
        "meter",
        NORMAL_METER,
        True,
        "open",
    )
    assert (row.customer_name, row.customer_address, row.contact_no, row.loc_ref) == (
        "Thandi Mokoena",
        "12 Erf Road, Soweto",
        "0821234567",
        "ERF1234",
    )
    assert (row.client_id, row.terminal_id, row.operator_name) == (CAFE, "POS-7", "cashier1")
    key = world.database.run_txn(
        "test_key",
        lambda txn: txn.execute(
            select(requests.c.client_id, requests.c.request_id, requests.c.operation).where(
                requests.c.id == row.request_pk
            )
        ).one(),
    )
    assert tuple(key) == (CAFE, "20261122100000/700001", "custReportFault")


def test_network_and_plain_reports_and_an_unknown_meter(world: World) -> None:
    network = world.call(
        m.CustReportFaultReq(
            header=world.header(),
            cust_detail=CUSTOMER,
            cust_fault_report=m.NetworkFaultReport(desc="No supply in the street"),
        )
    ).parsed()
    plain = world.call(
        m.CustReportFaultReq(
            header=world.header(), cust_detail=CUSTOMER, cust_fault_report=m.CustFaultReport()
        )
    ).parsed()
    unknown = world.call(meter_fault(world, UNKNOWN_METER)).parsed()
    assert isinstance(network.cust_fault_log.fault_report, m.NetworkFaultReport)
    assert type(plain.cust_fault_log.fault_report) is m.CustFaultReport
    # A meter we do not know is still a fault report: logged, marked unregistered.
    assert isinstance(unknown, m.CustReportFaultResp)
    assert len({network.cust_fault_log.ref_no, plain.cust_fault_log.ref_no,
                unknown.cust_fault_log.ref_no}) == 3  # fmt: skip
    assert [(r.kind, r.msno, r.meter_registered, r.description) for r in rows(world)] == [
        ("network", None, None, "No supply in the street"),
        ("general", None, None, None),
        ("meter", UNKNOWN_METER, False, "Display blank"),
    ]


def test_the_same_msg_id_is_answered_with_the_same_bytes_and_logged_once(world: World) -> None:
    request = meter_fault(world)
    first = world.call(request)
    again = world.call(request)
    assert first.status == again.status == 200
    assert again.body == first.body
    assert len(rows(world)) == 1
    # A last-response advice gets the same answer back.
    last = world.call(advice(b.LastRespAdviceReq, world.header(), request.header.msg_id)).parsed()
    assert isinstance(last.last_response, m.CustReportFaultResp)
    assert last.last_response.cust_fault_log.ref_no == "FR00000018"
    # The msgID used again for another report is refused; nothing more is logged.
    other = with_msg_id(meter_fault(world, desc="Another fault"), request.header.msg_id)
    refused = world.call(other)
    assert refused.fault_class() == "DuplicateMsgIDEx"
    assert len(rows(world)) == 1


@pytest.mark.parametrize(
    ("old", "new", "fault_class", "faultcode"),
    [
        # The description longer than b:Msg allows (160 characters).
        (b"<m:desc>Display blank</m:desc>", b"<m:desc>" + b"x" * 161 + b"</m:desc>",
         "XMLVendSchemaEx", "Client"),
        # Digits in a b:PersonName.
        (b'name="J Smith"', b'name="J Smith 2"', "XMLVendSchemaEx", "Client"),
        # Schema-valid, but no name at all.
        (b'name="J Smith"', b'name="   "', "BusinessRuleEx", "Server"),
        # A voucher product where the meter goes.
        (b'xsi:type="b:MeterNumber" msno="04100000019"',
         b'xsi:type="ext:ProductIdentifier" productCode="AIR-DEMO-10"',
         "UseCaseSupportEx", "Server"),
    ],
    ids=["long-description", "digits-in-name", "blank-name", "not-a-meter"],
)  # fmt: skip
def test_bad_input_is_a_fault_and_nothing_is_written(
    world: World, old: bytes, new: bytes, fault_class: str, faultcode: str
) -> None:
    body = render_request(meter_fault(world))
    assert old in body
    before = request_count(world)
    response = world.post(body.replace(old, new))
    assert response.status == 500
    fault = response.parsed()
    assert isinstance(fault, SoapFault)
    assert (fault.fault_class, fault.code) == (fault_class, faultcode), fault.desc
    assert fault.detail is not None and fault.detail.header is not None  # header echoed
    assert rows(world) == []
    # Not even the request key is kept: the claim rolled back with the report, so the
    # corrected request may be sent again under the same msgID.
    assert request_count(world) == before
    corrected = world.post(body)
    assert corrected.status == 200 and len(rows(world)) == 1


def test_a_wrong_password_logs_nothing(world: World) -> None:
    response = world.call(meter_fault(world, operator=("cashier1", "wrong-password")))
    assert response.fault_class() == "RequestAuthorisationEx"
    assert rows(world) == []


def test_the_wsdl_advertises_the_operation(world: World) -> None:
    wsdl = world.get("/xmlvend?wsdl").body
    assert b'name="CustReportFaultRequest"' in wsdl
    assert b"UseCaseSupportEx" not in world.call(meter_fault(world)).body
